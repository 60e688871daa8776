"""JSON on standard output, the same way for every command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any


def json_default(value: Any, fallback: Callable[[Any], Any] | None = None) -> Any:
    """Dates as ISO strings, exact amounts as numbers, sets and tuples as lists."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if fallback is not None:
        return fallback(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(data: Any, fallback: Callable[[Any], Any] | None = None) -> None:
    text = json.dumps(
        data, ensure_ascii=False, indent=2, default=lambda v: json_default(v, fallback)
    )
    sys.stdout.write(text + "\n")
