"""Text normalisation shared by ingest: widths, Chinese numerals, dates, 文号.

Matching is done on a normalised copy of a line; the stored clause text is always the
original, so nothing a reader sees is rewritten.
"""

from __future__ import annotations

import re
from datetime import date

# Full-width ASCII variants (！ to ～) map to ASCII; the ideographic space to a space.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def halfwidth(text: str) -> str:
    """Full-width digits, Latin letters and ASCII punctuation as half-width."""
    return text.translate(_FULLWIDTH)


def squeeze(text: str) -> str:
    """Drop all whitespace (for comparing headings such as 实 施 办 法 or 第一章  总  则)."""
    return re.sub(r"\s+", "", text)


# --- Chinese numerals -------------------------------------------------------------------

CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "Ｏ": 0,
    "O": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
CN_NUMERAL_CHARS = "零〇○一二两三四五六七八九十百千万亿"


def cn_to_int(text: str) -> int:
    """Parse 二十六, 一百零二, 十, 三千万, or Arabic digits (full- or half-width).

    Raises ValueError on anything else, so callers decide what a non-number means.
    """
    text = halfwidth(text).strip()
    if not text:
        raise ValueError("empty numeral")
    if text.isdigit():
        return int(text)
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in CN_DIGITS:
            digit = CN_DIGITS[ch]
        elif ch in CN_UNITS:
            section += (1 if digit is None else digit) * CN_UNITS[ch]
            digit = None
        elif ch in CN_BIG_UNITS:  # 万 / 亿 scale everything read so far in their section
            section += digit or 0
            if section == 0 and total == 0:
                raise ValueError(f"not a Chinese numeral: {text!r}")
            total = (total + section) * CN_BIG_UNITS[ch]
            section, digit = 0, None
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    return total + section + (digit or 0)


def cn_digits_to_int(text: str) -> int:
    """Digit-by-digit numerals as written in years: 二○○八 -> 2008."""
    return int("".join(str(CN_DIGITS[ch]) for ch in text))


def int_to_cn(n: int) -> str:
    """Canonical Chinese numeral for labels: 17 -> 十七, 102 -> 一百零二."""
    if n < 0:
        raise ValueError(n)
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n - 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        head = digits[n // 100] + "百"
        if rest == 0:
            return head
        if rest < 10:
            return head + "零" + digits[rest]
        return head + (("一" + int_to_cn(rest)) if rest < 20 else int_to_cn(rest))
    if n < 10_000:
        rest = n % 1000
        head = digits[n // 1000] + "千"
        if rest == 0:
            return head
        # 一千零二, 一千零二十, 一千一百: a zero is read where a unit is skipped
        inner = int_to_cn(rest)
        if rest < 100:
            inner = "零" + ("一" + inner if 10 <= rest < 20 else inner)
        return head + inner
    return str(n)


# --- Dates ------------------------------------------------------------------------------

_CN_YEAR = r"[零〇○Ｏ一二三四五六七八九]{4}"
_CN_SMALL = r"[一二三四五六七八九十]{1,3}"
DATE_PATTERNS = [
    # 2017年6月6日, 2017年05月31日
    re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"),
    # 2008-06-16, 2008.6.16, 2008/6/16
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})(?!\d)"),
    # 二○○八年六月十六日
    re.compile(rf"(?P<cy>{_CN_YEAR})年(?P<cm>{_CN_SMALL})月(?P<cd>{_CN_SMALL})日"),
]


def find_dates(text: str) -> list[tuple[int, int, date]]:
    """Every valid date in the text as (start, end, date), in order of position."""
    text = halfwidth(text)
    found: list[tuple[int, int, date]] = []
    for pattern in DATE_PATTERNS:
        for m in pattern.finditer(text):
            try:
                if "cy" in m.groupdict() and m.group("cy"):
                    value = date(
                        cn_digits_to_int(m.group("cy")),
                        cn_to_int(m.group("cm")),
                        cn_to_int(m.group("cd")),
                    )
                else:
                    value = date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
            except (ValueError, KeyError):
                continue
            found.append((m.start(), m.end(), value))
    found.sort()
    return found


def parse_date(text: str) -> date | None:
    """The first date in the text, or None."""
    dates = find_dates(text)
    return dates[0][2] if dates else None


def is_date_line(text: str) -> bool:
    """A line that is only a date (a signature date), allowing 印发 after it."""
    t = squeeze(halfwidth(text)).strip("()（）")
    for _, end, _ in find_dates(t)[:1]:
        rest = t[end:]
        start_ok = t.startswith(("1", "2", "二", "一"))
        return start_ok and rest in ("", "印发", "印")
    return False


# --- 文号 (document numbers) -------------------------------------------------------------

# Issuer code, year in any bracket, serial, 号: 焦政办〔2016〕104号, 财税[2008]118号,
# 孟政(2017)25号, 国家发展改革委令〔2011〕第9号.
DOC_NUMBER_RE = re.compile(
    r"(?P<code>[\u4e00-\u9fff]{1,10}?)\s*[〔\[［【(（]\s*(?P<year>(?:19|20)\d{2}|[１２][０-９]{3})"
    r"\s*[〕\]］】)）]\s*第?\s*(?P<serial>[0-9０-９]{1,4})\s*号"
)
# Municipal decrees as written in the compilation: 政府令3, 政府令第3号.
DECREE_RE = re.compile(
    r"政府令\s*第?\s*(?P<serial>[0-9０-９]{1,4})\s*号?|政府第\s*(?P<serial2>[0-9０-９]{1,4})\s*号令"
)

# Announcements numbered by year: 国家税务总局公告2019年第2号, 财政部 税务总局公告2022年第10号.
ANNOUNCEMENT_RE = re.compile(
    r"(?P<code>[\u4e00-\u9fff][\u4e00-\u9fff ]{0,28}?)\s*公告\s*(?P<year>(?:19|20)\d{2})\s*年\s*"
    r"第\s*(?P<serial>[0-9０-９]{1,4})\s*号"
)

# Words that may precede a 文号 code but belong to the sentence, not the number.
_CODE_NOISE = ("根据", "按照", "依据", "见", "和", "及", "与", "印发", "文号", "号")


# A title glued to its number (…的意见焦发〔2016〕9号): the code starts after the title's end.
_TITLE_END_RE = re.compile(r"^.*(?:通知|意见|办法|方案|规划|措施|条例|决定|细则|规定|》|的)")


def _trim_code(code: str) -> str:
    code = _TITLE_END_RE.sub("", code.strip()) or code.strip()
    for noise in _CODE_NOISE:
        if code.startswith(noise) and len(code) > len(noise):
            code = code[len(noise) :]
    return code


def normalize_doc_number(code: str, year: str, serial: str) -> str:
    return f"{_trim_code(code)}〔{halfwidth(year)}〕{int(halfwidth(serial))}号"


def find_doc_numbers(text: str) -> list[tuple[int, int, str]]:
    """Every 文号 in the text as (start, end, normalised form)."""
    out = []
    for m in DOC_NUMBER_RE.finditer(text):
        code = _trim_code(m["code"])
        start = m.start("code") + len(m["code"].rstrip()) - len(code)
        out.append((start, m.end(), normalize_doc_number(code, m["year"], m["serial"])))
    for m in ANNOUNCEMENT_RE.finditer(text):
        code = _trim_code(squeeze(m["code"]))
        if not code:
            continue
        out.append(
            (m.start(), m.end(), f"{code}公告{m['year']}年第{int(halfwidth(m['serial']))}号")
        )
    for m in DECREE_RE.finditer(text):
        serial = m["serial"] or m["serial2"]
        out.append((m.start(), m.end(), f"政府令{int(halfwidth(serial))}"))
    out.sort()
    return out


def canonical_doc_number(text: str) -> str | None:
    """Normalise one 文号 as a user may type it (焦发[2016]9号 -> 焦发〔2016〕9号)."""
    found = find_doc_numbers(text.strip())
    return found[0][2] if found else None
