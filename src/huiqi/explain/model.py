"""The codes an explanation can carry, and their parameters (plain JSON-able values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: code -> the parameters it carries (documentation and a guard against typos in the engine)
REASONS: dict[str, tuple[str, ...]] = {
    "repealed": ("by",),
    "not_yet_in_force": ("valid_from", "as_of"),
    "expired": ("valid_from", "valid_to", "as_of"),
    "excluded": ("title", "clause", "quote"),
    "not_for_applicant": ("beneficiaries", "applicant"),
    "amount_inputs_missing": (),
    "overdue": ("closes", "quote"),
    # stacking
    "stack_lower": ("winner_title", "key", "principle"),
    "stack_once_received": ("received", "principle"),
    "stack_received_covers": ("already", "received", "principle"),
    "stack_top_up": ("already", "received", "remaining", "principle"),
}
STEPS: dict[str, tuple[str, ...]] = {
    "fixed": ("text", "amount"),
    "formula": ("text", "amount"),
    "derived": ("label", "name", "value", "type"),
    "per_item": ("rate", "count", "amount"),
    "percent": ("base_label", "base", "rate", "raw", "cap", "amount"),
    "range": ("determination", "min", "max"),
    "unstated": ("note",),
    "non_monetary": ("note",),
}

# The same as sets, for the checks below (they run for every result of every match).
_REASON_KEYS = {code: frozenset(keys) for code, keys in REASONS.items()}
_STEP_KEYS = {code: frozenset(keys) for code, keys in STEPS.items()}


@dataclass(frozen=True)
class Reason:
    """Why a rule has its status or amount: a code and its parameters."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        expected = _REASON_KEYS.get(self.code)
        if expected is None or not expected.issuperset(self.params):
            raise ValueError(f"unknown reason {self.code} {sorted(self.params)}")

    def to_dict(self) -> dict[str, Any]:
        from .zh import render

        return {"code": self.code, "params": self.params, "text": render(self)}


@dataclass(frozen=True)
class Step:
    """One line of the arithmetic of an amount."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        expected = _STEP_KEYS.get(self.code)
        if expected is None or not expected.issuperset(self.params):
            raise ValueError(f"unknown step {self.code} {sorted(self.params)}")

    def to_dict(self) -> dict[str, Any]:
        from .zh import render

        return {"code": self.code, "params": self.params, "text": render(self)}
