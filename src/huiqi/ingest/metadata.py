"""Read a document's metadata from its heading, body and signature.

文号, issuers, dates (signed, published, in force from / to), type, level and the
relations stated in the text (repeals, cites, attaches).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cache

from ..jurisdictions import bundled_registry
from .clauses import build_tree
from .model import Clause, Document, Relation
from .segment import RawDocument, _is_issuer_line, doc_type_of
from .text import cn_to_int, find_dates, find_doc_numbers, halfwidth, is_date_line, squeeze

# Party committees and governments at any level are recognised by their shape; other issuing
# bodies (ministries, commissions) are jurisdiction data, listed by each pack.
_GENERIC_ISSUERS = (
    r"中共[\u4e00-\u9fff]{1,8}?(?:市委|县委|省委)(?:办公室|办公厅)?"
    r"|(?:[\u4e00-\u9fff]{2,3}省)?[\u4e00-\u9fff]{1,6}?(?:市|县|省)人民政府(?:办公室|办公厅)?"
)


@cache
def issuer_re() -> re.Pattern[str]:
    named = sorted(set(bundled_registry().issuers()), key=len, reverse=True)
    return re.compile("|".join([_GENERIC_ISSUERS, *map(re.escape, named)]))


@cache
def level_hints() -> list[tuple[str, re.Pattern[str]]]:
    return bundled_registry().level_hints()


_SELF = r"本(?:办法|意见|方案|通知|规划|措施|决定|细则|规定|条例)"
_ON_ISSUE_RE = re.compile(rf"{_SELF}?\S{{0,4}}自(?:印发|发布|公布)之日起(?:施行|实施|执行|试行)")
_FROM_RE = re.compile(r"自(?P<d>[^，。；,]{6,16}?日)起(?:施行|实施|执行|试行)")
_WINDOW_RE = re.compile(
    r"自(?P<a>\d{4}年\d{1,2}月\d{1,2}日)(?:起)?至(?P<b>\d{4}年\d{1,2}月\d{1,2}日)"
)
_TERM_RE = re.compile(
    rf"{_SELF}.{{0,30}}?(?:有效期|暂定)(?:暂定|为|暂定为)?(?P<n>[一二两三四五六七八九十\d]+)年"
)
# 执行至2025年12月31日, 有效期至…: the last day in force.
_UNTIL_RE = re.compile(
    r"(?:执行|有效期|实施|施行|试行|有效)(?:截止|截至|到|至)(?P<d>\d{4}年\d{1,2}月\d{1,2}日)"
)
# 执行期限为2022年1月1日至2024年12月31日
_TERM_WINDOW_RE = re.compile(
    r"(?:执行期限|有效期限|实施期限|有效期)(?:为|是)?自?(?P<a>\d{4}年\d{1,2}月\d{1,2}日)(?:起)?至"
    r"(?P<b>\d{4}年\d{1,2}月\d{1,2}日)"
)
_TITLE_YEARS_RE = re.compile(r"[（(](\d{4})\s*[—–\-－~至]\s*(\d{4})年?[）)]")
_QUOTED_RE = re.compile(r"《([^《》]{3,120})》(?:[（(]([^（）()]{0,40}?号)[）)])?")


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def split_issuers(prefix: str) -> list[str]:
    """Issuing bodies named in a title prefix or a signature block."""
    found: list[str] = []
    for token in re.split(r"[\s、，,]+", prefix.strip()):
        if not token:
            continue
        matches = issuer_re().findall(token)
        if matches and len("".join(matches)) >= len(token) - 2:
            found.extend(matches)
        elif re.search(r"(政府|办公室|市委|部|总局|委员会|委|厅|局)$", token):
            found.append(token)
    unique: list[str] = []
    for name in found:
        if name not in unique:
            unique.append(name)
    return unique


_ISSUER_END = re.compile(r"(市委|政府|办公室|办公厅|部|总局|委|委员会|厅|局)$")


def clean_title(title: str) -> str:
    """Collapse white space; keep a space only where it separates issuers."""
    parts = [p for p in re.split(r"[\s\u3000]+", title.strip()) if p]
    out = parts[0] if parts else ""
    for part in parts[1:]:
        keep = _ISSUER_END.search(out) and not part.startswith("关于")
        out = f"{out} {part}" if keep else f"{out}{part}"
    return out


def _title_and_numbers(raw: RawDocument) -> tuple[str | None, list[str]]:
    """The title without the 文号s glued before, after or inside it."""
    numbers = list(raw.doc_numbers)
    title = raw.title
    if title:
        for start, end, number in reversed(find_doc_numbers(title)):
            numbers.insert(0, number)
            title = title[:start] + title[end:]
        title = re.sub(r"[（(]\s*[）)]", "", title)
        title = clean_title(title)
        if title.startswith("《") and "》" in title and title.index("》") == len(title) - 1:
            title = title[1:-1]
    if raw.metadata.get("文号"):
        field_numbers = [n for _, _, n in find_doc_numbers(raw.metadata["文号"])]
        if field_numbers:
            numbers.insert(0, field_numbers[0])
        else:
            raw.warnings.append(f"文号字段无法识别：{raw.metadata['文号']}")
    unique: list[str] = []
    for n in numbers:
        if n not in unique:
            unique.append(n)
    return title or None, unique


def _signature(raw: RawDocument) -> tuple[date | None, list[str]]:
    """The date and issuers signed under the text (or, for a decree, at its head).

    The signature is the last line that is only a date; member lists or attachment notes
    may follow it, so the search runs over the whole body from the end.
    """
    lines = [t.strip() for _, t in raw.body if t.strip()]
    for k in range(len(lines) - 1, -1, -1):
        text = lines[k]
        if is_date_line(text) or re.fullmatch(r"\S+\s+\d{4}年\d{1,2}月\d{1,2}日印发", text):
            issuers: list[str] = []
            for j in range(k - 1, max(-1, k - 4), -1):
                if _is_issuer_line(lines[j]):
                    issuers = split_issuers(lines[j]) + issuers
                else:
                    break
            return find_dates(text)[0][2], issuers
    for text in raw.header_dates:
        dates = find_dates(text)
        if dates:
            return dates[0][2], []
    return None, []


def build_document(raw: RawDocument, source: str) -> Document:
    title, numbers = _title_and_numbers(raw)
    parent = raw.parent
    doc = Document(
        title=title or "",
        source=source,
        line_start=raw.line_start,
        line_end=raw.line_end,
        title_in_text=raw.title_in_text,
        part=raw.part,
        noise=list(raw.noise),
        warnings=list(raw.warnings),
    )
    doc.doc_number = numbers[0] if numbers and parent is None else None
    meta = raw.metadata
    doc.index_number = meta.get("索引号")
    doc.status = meta.get("时效性")
    doc.rank = meta.get("效力级别")
    if meta.get("公开日期"):
        doc.published_on = _first_date(meta["公开日期"])
    # Issuers: title prefix before 关于/印发, a 颁布单位 field, or the signature.
    if title:
        m = re.match(r"(.+?)(?:关于|印发)", title)
        if m:
            doc.issuers = split_issuers(m.group(1))
    signed, signers = _signature(raw)
    if not doc.issuers and meta.get("颁布单位"):
        doc.issuers = split_issuers(meta["颁布单位"])
    if not doc.issuers:
        doc.issuers = signers or _heading_issuers(raw)
    if not doc.issuers and title and not re.search(r"[：:]|会议", title):
        # 某县人民政府工作规则: the issuer opens the title (not a news item's 国务院常务会议：…)
        m = issuer_re().match(squeeze(title))
        if m:
            doc.issuers = [m.group()]
    doc.issued_on = _first_date(meta.get("颁布日期", "")) or signed
    if parent is not None:
        doc.parent_title = parent.title
    doc.doc_type = doc_type_of(title)
    # Clauses and the body text they cover.
    roots, warnings = build_tree(raw.body)
    doc.clauses = roots
    if not raw.attachment_titles:  # a notice's few lines are naturally unnumbered
        doc.warnings.extend(warnings)
    _keep_unplaced(raw, doc)
    doc.body_text = "\n".join(t for _, t in raw.body)
    validity(doc, meta)
    doc.relations = _relations(doc, doc.body_text)
    return doc


def _keep_unplaced(raw: RawDocument, doc: Document) -> None:
    """A heading-zone line that is neither title, 文号, date, issuer, metadata nor furniture is
    text of the document: it opens the document (序言) and a warning names it, never dropped."""
    from .segment import PART_RE, _is_noise, _metadata_key

    title = squeeze(halfwidth(doc.title or ""))
    values = {squeeze(halfwidth(v)) for v in raw.metadata.values()}
    lost: list[str] = []
    for _, text in raw.header:
        t = text.strip()
        flat = squeeze(halfwidth(t))
        # only sentences: headings (an entry number, a title, a 文号) are the document's name
        if len(flat) < 8 or not re.search(r"[，。；,;]", flat) or flat in title or flat in values:
            continue
        if PART_RE.match(t):
            continue
        if _is_noise(t) or _metadata_key(t) or is_date_line(t) or _is_issuer_line(t):
            continue
        rest = flat
        for _, _, number in find_doc_numbers(t):
            rest = rest.replace(squeeze(halfwidth(number)), "")
        numbers = find_doc_numbers(halfwidth(t))
        if numbers and sum(e - s for s, e, _ in numbers) >= len(flat) - 6:
            continue
        if any(flat in squeeze(halfwidth(n)) for n in doc.noise) or flat.endswith("文件"):
            continue
        if any(squeeze(halfwidth(d)) in flat and len(flat) <= 24 for d in raw.header_dates):
            continue
        lost.append(t)
    if not lost:
        return
    line_no = min(n for n, t in raw.header if t.strip() in lost)
    preamble = next((c for c in doc.clauses if c.kind in ("preamble", "flat")), None)
    if preamble is None:
        preamble = Clause("preamble", None, "序言", "preamble", line_start=line_no)
        doc.clauses.insert(0, preamble)
    preamble.text = "\n".join([*lost, preamble.text] if preamble.text else lost)
    for t in lost:
        doc.warnings.append(f"未归入条款的文字，已保留在序言：{t[:40]}")


def _heading_issuers(raw: RawDocument) -> list[str]:
    from .segment import _is_noise

    for _, text in raw.header + raw.body[:3]:
        if _is_issuer_line(text.strip()) and not _is_noise(text.strip()):  # not 返回顶部
            return split_issuers(text)
    return []


def _first_date(text: str) -> date | None:
    dates = find_dates(text)
    return dates[0][2] if dates else None


def validity(doc: Document, meta: dict[str, str]) -> None:
    """Dates in force: 执行日期, 自…起施行, 自…至…, 有效期N年, or the years in the title."""
    flat = squeeze(halfwidth(doc.body_text))
    if meta.get("执行日期"):
        doc.effective_from = _first_date(meta["执行日期"])
    if doc.effective_from is None and _ON_ISSUE_RE.search(flat):
        doc.effective_from = doc.issued_on
    if doc.effective_from is None:
        for m in _FROM_RE.finditer(flat):
            if "之日" in m.group("d"):
                continue
            found = _first_date(m.group("d"))
            if found:
                # Only the document's own commencement: skip 自…起废止 of others.
                tail = flat[m.end() : m.end() + 4]
                if "废止" not in tail:
                    doc.effective_from = found
                    break
    window = _TERM_WINDOW_RE.search(flat) or _WINDOW_RE.search(flat)
    if window:
        start, end = _first_date(window.group("a")), _first_date(window.group("b"))
        if doc.effective_from is None:
            doc.effective_from = start
        doc.effective_to = end
    until = _UNTIL_RE.search(flat)
    if until and doc.effective_to is None:
        doc.effective_to = _first_date(until.group("d"))
    term = _TERM_RE.search(flat)
    if term and doc.effective_to is None:
        start = doc.effective_from or doc.issued_on
        if start:
            years = cn_to_int(term.group("n"))
            doc.effective_to = _add_years(start, years) - timedelta(days=1)
    # A programme named for its years (…行动方案（2017—2020年）) runs to the last year's end;
    # the notice issuing it is not itself limited.
    years = _TITLE_YEARS_RE.search(halfwidth(doc.title or ""))
    if years and doc.effective_to is None and halfwidth(doc.title).rstrip().endswith(")"):
        doc.effective_to = date(int(years.group(2)), 12, 31)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。；;！!])|\n", text) if s.strip()]


def _relations(doc: Document, body: str) -> list[Relation]:
    relations: list[Relation] = []
    seen: set[tuple[str, str | None, str | None]] = set()
    own = squeeze(doc.title)

    def add(kind: str, title: str | None, number: str | None, evidence: str) -> None:
        if title and squeeze(title) == own and kind != "repeals":
            return  # a repealed earlier version may share the title
        if number and number == doc.doc_number:
            return
        key = (kind, squeeze(title) if title else None, number)
        if key in seen:
            return
        seen.add(key)
        relations.append(Relation(kind, title, number, evidence=evidence.strip()[:300]))

    for sentence in _sentences(body):
        kind = "repeals" if "废止" in sentence else "cites"
        covered: list[tuple[int, int]] = []
        numbers = find_doc_numbers(sentence)
        for m in _QUOTED_RE.finditer(sentence):
            number = None
            if m.group(2):
                nums = find_doc_numbers(m.group(2))
                number = nums[0][2] if nums else None
            else:
                # 第75号令公布的《…》: the number just before the title is its own.
                before = [n for n in numbers if 0 <= m.start() - n[1] <= 6]
                if before:
                    number = before[-1][2]
                    covered.append((before[-1][0], before[-1][1]))
            add(kind, m.group(1), number, sentence)
            covered.append((m.start(), m.end()))
        for start, _end, number in numbers:
            if any(a <= start < b for a, b in covered):
                continue
            add(kind, None, number, sentence)
    return relations
