"""Every number a Chinese policy sentence states, in all its written forms.

`numbers_in("奖励20万元，增长率10%，维持两年，万分之二")` contains 20 and 200000, 10 and 0.1,
2, and 0.0002. `huiqi check` requires every number of a rule's amount and thresholds to be
in this set for the rule's quote.
"""

from __future__ import annotations

import re
from decimal import Decimal

from ..ingest.text import cn_to_int

CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+")
ARABIC = re.compile(r"(\d+(?:\.\d+)?)\s*(亿|万)?\s*(元|%|％)?")
FRACTION = re.compile(r"(百|千|万)分之([零〇一二两三四五六七八九十百千\d.]+)")


def chinese_to_int(text: str) -> int | None:
    """三 -> 3, 十五 -> 15, 二百零五 -> 205, 三千万 -> 30000000; None if not a numeral."""
    try:
        return cn_to_int(text) if text and not text.isdigit() else None
    except ValueError:
        return None


def numbers_in(text: str) -> set[Decimal]:
    out: set[Decimal] = set()
    for m in ARABIC.finditer(text):
        n = Decimal(m.group(1))
        out.add(n)
        if m.group(2) == "万":
            out.add(n * 10_000)
        elif m.group(2) == "亿":
            out.add(n * 100_000_000)
        if m.group(3) in ("%", "％"):
            out.add(n / 100)
    for m in FRACTION.finditer(text):
        raw = m.group(2)
        n = Decimal(raw) if raw[0].isdigit() else Decimal(chinese_to_int(raw) or 0)
        out.add(n / {"百": 100, "千": 1000, "万": 10_000}[m.group(1)])
    if "减半" in text:  # 减半征收: one half
        out.add(Decimal("0.5"))
    for m in CN_NUMBER.finditer(text):
        value = chinese_to_int(m.group(0))
        if value is not None:
            out.add(Decimal(value))
    return {n.normalize() for n in out}


def appears(value: Decimal, text: str) -> bool:
    return value.normalize() in numbers_in(text)
