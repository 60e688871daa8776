"""Amounts written in words, as users type them, turned into digits as policies write them.

三千万 → 3000万, 一个亿 → 1亿, 50个亿 → 50亿, 两百万 → 200万, 四十万 → 40万. A number then
matches the same number in a clause (年度研发投入达到 3000 万元以上). Approximate ranges
(三四十万, 二三十万) have no single value and are left as they are.
"""

from __future__ import annotations

import re

from ..ingest.text import CN_DIGITS, CN_UNITS

# the one table of Chinese numerals (ingest reads 第二十一条 and 二〇一七年 with it)
_DIGITS = CN_DIGITS
_UNITS = CN_UNITS
_CN = "零〇一二两三四五六七八九十百千"
_AMOUNT = re.compile(rf"(\d+(?:\.\d+)?|[{_CN}]+)\s*个?\s*(万|亿)")


def chinese_int(text: str) -> int | None:
    """A Chinese numeral below ten thousand (三千五百, 十二, 两百), or None."""
    total, digit, last_unit = 0, None, 10_000
    for ch in text:
        if ch in _DIGITS:
            if digit is not None:
                return None  # two digits in a row: a range such as 三四 (十万)
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit >= last_unit:
                return None
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            return None
    if digit is not None:
        if digit == 0 and total == 0 and len(text) > 1:
            return None
        total += digit
    return total


def arabic_amounts(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        number, unit = m.group(1), m.group(2)
        if number[0].isdigit():
            return f"{number}{unit}"
        value = chinese_int(number)
        return m.group(0) if value is None or value == 0 else f"{value}{unit}"

    return _AMOUNT.sub(repl, text)
