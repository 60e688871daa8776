"""Split a raw file into documents.

A file may hold one document, a notice (通知) that issues (印发) several attached
documents, or a compilation with part headers (第一部分 国家政策) and numbered entries,
each of which may again be a notice with attachments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .text import cn_to_int, find_dates, find_doc_numbers, halfwidth, squeeze

Line = tuple[int, str]  # (1-based line number, text)

PART_RE = re.compile(r"^\s*第([一二三四五六七八九十]+)部分\s*(.*?)\s*$")
ENTRY_RE = re.compile(r"^\s{0,2}(\d{1,2}|[一二三四五六七八九十]{1,3})\s?[.、]\s*(.+?)\s*$")
# Words that end or mark the title of a policy document, a news item or an extract.
TITLE_WORDS = re.compile(
    r"通知|意见|办法|方案|规划|措施|条例|决定|细则|规定|政策|会议|条款|政府令|纲要|计划|规则|公告|预案"
)
DOC_TYPE_SUFFIXES = [
    ("若干政策措施", "措施"),
    ("政策措施", "措施"),
    ("实施意见", "实施意见"),
    ("指导意见", "指导意见"),
    ("意见", "意见"),
    ("实施办法", "实施办法"),
    ("暂行办法", "暂行办法"),
    ("奖励办法", "办法"),
    ("办法", "办法"),
    ("攻坚方案", "攻坚方案"),
    ("行动方案", "行动方案"),
    ("实施方案", "实施方案"),
    ("方案", "方案"),
    ("规划", "规划"),
    ("措施", "措施"),
    ("条例", "条例"),
    ("条款", "条例"),
    ("通知", "通知"),
    ("决定", "决定"),
    ("细则", "细则"),
    ("规定", "规定"),
]
ATTACHABLE = re.compile(
    r"(办法|方案|意见|规划|措施|细则|规定|计划|纲要|政策|预案)(（[^）]*）|\([^)]*\))?$"
)
SALUTATION_RE = re.compile(r"^各.{2,}[：:]")
METADATA_KEYS = {
    "发文字号": "doc_number",
    "发文机关": "issuers",
    "发布机关": "issuers",
    "发文机构": "issuers",
    "发文单位": "issuers",
    "发文日期": "issued_on",
    "成文日期": "issued_on",
    "发布日期": "published_on",
    "发布时间": "published_on",
    "有效性": "status",
    "主题分类": "topic",
    "内容概述": "summary",
    "索引号": "index_number",
    "公开方式": "disclosure",
    "公开日期": "published_on",
    "文号": "doc_number",
    "颁布单位": "issuers",
    "颁布日期": "issued_on",
    "执行日期": "effective_from",
    "时效性": "status",
    "效力级别": "rank",
}


# Web pages' key names for the same fields, stored under the names the rest of ingest reads.
KEY_ALIASES = {
    "发文字号": "文号",
    "发文机关": "颁布单位",
    "发布机关": "颁布单位",
    "发文机构": "颁布单位",
    "发文单位": "颁布单位",
    "发文日期": "颁布日期",
    "成文日期": "颁布日期",
    "发布日期": "公开日期",
    "发布时间": "公开日期",
    "有效性": "时效性",
}
# Site furniture that can sit among a text's lines: breadcrumbs, author/view counts, download
# links, share bars, editor's notes, comment boxes, print/close links, pagers.
FURNITURE_RE = re.compile(
    r"^(?:您的位置|当前位置|所在位置|首页\s*[>»＞]|作者\s*[:：]|下载地址\s*[:：]|分享到|编者按|导读\s*[:：]|"
    r"发表评论|验证码|标签\s*[:：]|版权所有|【\s*打印|打印本页|关闭窗口|返回顶部|上一篇|下一篇|相关阅读|"
    r"日期\s*[:：]\s*\d{4}-\d{1,2}-\d{1,2}.*来源|时间\s*[:：]\s*\d{4}-.*(?:浏览|阅读|来源)|"
    r"\d{4}-\d{1,2}-\d{1,2}[\d: ]*\s*来源\s*[:：].*(?:作者|阅读|浏览|点击)|"
    r"[|｜\s]+$)"
)


@dataclass
class Chunk:
    """A stretch of lines holding one compilation entry (or a whole file)."""

    lines: list[Line]
    heading: str | None = None  # the entry heading, its number removed
    part: str | None = None
    part_lines: list[Line] = field(default_factory=list)  # 第一部分 … header kept in metadata


@dataclass
class RawDocument:
    """A document's lines before metadata and clauses are read from them."""

    title: str | None
    title_in_text: bool
    header: list[Line]  # heading, metadata and signature lines kept out of the body
    body: list[Line]
    metadata: dict[str, str] = field(default_factory=dict)
    doc_numbers: list[str] = field(default_factory=list)
    header_dates: list[str] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)
    part: str | None = None
    parent: RawDocument | None = None
    attachment_titles: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def line_start(self) -> int:
        """First line of the document proper: not blank, not a navigation bar."""
        for n, text in sorted(self.header + self.body):
            if text.strip() and not _is_noise(text.strip()) and not PART_RE.match(text):
                return n
        return 0

    @property
    def line_end(self) -> int:
        return max(n for n, _ in self.header + self.body) if self.header or self.body else 0


# --- compilations --------------------------------------------------------------------------


def _looks_like_entry_title(text: str) -> bool:
    text = text.strip()
    if "。" in text or len(text) > 160 or len(text) < 6:
        return False
    return bool(TITLE_WORDS.search(text) or find_doc_numbers(text))


def split_compilation(lines: list[Line]) -> list[Chunk]:
    """Cut a file at part headers and at entry headings numbered in sequence."""
    has_parts = any(PART_RE.match(t) for _, t in lines[:5]) or any(
        PART_RE.match(t) for _, t in lines
    )
    if not has_parts:
        return [Chunk(lines)]
    chunks: list[Chunk] = []
    part: str | None = None
    expected = 1
    current = Chunk([], None, None)
    for line_no, text in lines:
        norm = halfwidth(text)
        pm = PART_RE.match(norm)
        if pm:
            if current.lines or current.heading or current.part_lines:
                chunks.append(current)
            part = pm.group(2) or None
            current = Chunk([], None, part, [(line_no, text)])
            expected = 1
            continue
        em = ENTRY_RE.match(norm)
        if em and _entry_number(em.group(1)) == expected and _looks_like_entry_title(em.group(2)):
            part_lines: list[Line] = []
            if current.lines or current.heading:
                chunks.append(current)
            else:
                part_lines = current.part_lines  # the part header opens its first entry
            current = Chunk([(line_no, text)], text[em.start(2) :].strip(), part, part_lines)
            expected += 1
            continue
        current.lines.append((line_no, text))
    if current.lines or current.heading or current.part_lines:
        chunks.append(current)
    return chunks


def _entry_number(raw: str) -> int:
    try:
        return cn_to_int(raw)
    except ValueError:
        return -1


# --- headings, metadata, notices ------------------------------------------------------------


def _metadata_key(text: str) -> tuple[str, str] | None:
    """(key, inline value) for a line such as ' 索 引 号 ' or '文号：焦政文〔2008〕69号'."""
    flat = squeeze(halfwidth(text))
    for key in METADATA_KEYS:
        if flat.startswith(key):
            rest = flat[len(key) :]
            if rest == "" or rest[0] in ":：":
                return KEY_ALIASES.get(key, key), rest.lstrip(":：")
    return None


_FLAT_KEYS = re.compile("|".join(sorted(METADATA_KEYS, key=len, reverse=True)))


def flattened_metadata(text: str) -> tuple[dict[str, str], str] | None:
    """A page's metadata flattened onto one line (发布机关 … 发文字号 …号 发布时间 … title):
    the fields and what follows the last one's value (often the title, repeated)."""
    norm = halfwidth(text.strip())
    hits = [m for m in _FLAT_KEYS.finditer(norm) if m.start() == 0 or norm[m.start() - 1] in " :："]
    if len(hits) < 2 or hits[0].start() != 0:
        return None
    fields: dict[str, str] = {}
    rest = ""
    for k, m in enumerate(hits):
        end = hits[k + 1].start() if k + 1 < len(hits) else len(norm)
        value = text.strip()[m.end() : end].strip(" :：")
        key = KEY_ALIASES.get(m.group(), m.group())
        if k + 1 == len(hits):  # the last value is one token (a date, a number); then the rest
            date_m = re.match(r"\d{4}-\d{1,2}-\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?|\S+", value)
            if date_m:
                value, rest = date_m.group(), value[date_m.end() :].strip()
        fields[key] = value
    return fields, rest


def _is_noise(text: str) -> bool:
    """Navigation bars of the web pages the texts were copied from."""
    flat = squeeze(text)
    if flat.startswith("首页") and len(text.split()) >= 4:
        return True
    return bool(FURNITURE_RE.match(halfwidth(text.strip())))


def _is_issuer_line(text: str) -> bool:
    flat = squeeze(text)
    return (
        0 < len(flat) <= 40
        and not re.search(r"[，。：:；]", flat)
        and bool(re.search(r"(政府|办公室|市委|部|总局|委员会|委|厅|局)$", flat))
    )


def _is_body_start(text: str) -> bool:
    from .clauses import match_marker

    flat = halfwidth(text.strip())
    if SALUTATION_RE.match(flat):
        return True
    if match_marker(flat):
        return True
    return "。" in flat or len(flat) > 80


def read_heading(chunk: Chunk) -> RawDocument:
    """Separate a chunk's heading zone (title, 文号, metadata, noise) from its body."""
    doc = RawDocument(
        title=None, title_in_text=True, header=list(chunk.part_lines), body=[], part=chunk.part
    )
    lines = list(chunk.lines)
    title_parts: list[str] = []
    title_lines: list[Line | None] = []  # the line each title part came from
    if chunk.heading is not None:
        doc.header.append(lines.pop(0))
        title_parts.append(chunk.heading)
        title_lines.append(None)
    lines = _split_glued_heading(lines)
    i = 0
    pending_key: str | None = None
    while i < len(lines):
        _, text = lines[i]
        stripped = text.strip()
        if not stripped:
            doc.header.append(lines[i])
            i += 1
            continue
        flat_meta = flattened_metadata(stripped)
        if flat_meta:
            doc.metadata.update({k: v for k, v in flat_meta[0].items() if v})
            if not flat_meta[1]:
                doc.header.append(lines[i])
                i += 1
                continue
            stripped = flat_meta[1]  # the title repeated after the fields
        key = None if flat_meta else _metadata_key(stripped)
        if key:
            pending_key = None
            name, value = key
            if value:
                doc.metadata[name] = value
            else:
                pending_key = name
            doc.header.append(lines[i])
            i += 1
            continue
        if (
            pending_key is not None
            and not _is_body_start(stripped)
            and (pending_key == "文号" or not _is_title_line(stripped))
        ):
            doc.metadata[pending_key] = stripped
            pending_key = None
            doc.header.append(lines[i])
            i += 1
            continue
        pending_key = None
        if _is_noise(stripped) or _is_site_excerpt(stripped, title_parts):
            doc.noise.append(stripped)
            doc.header.append(lines[i])
            i += 1
            continue
        tag = _SITE_TAG.match(stripped)
        if tag and not title_parts:  # 【规范性文件】… : the site's label of the page
            doc.noise.append(tag.group())
            stripped = stripped[tag.end() :].strip()
        if _is_body_start(stripped) and not _is_title_text(stripped, title_parts):
            break
        # Inside the heading zone: 文号, dates, letterheads, issuer and title lines.
        numbers = find_doc_numbers(stripped)
        rest = stripped
        for start, end, number in reversed(numbers):
            doc.doc_numbers.insert(0, number)
            rest = (rest[:start] + rest[end:]).strip()
        rest = re.sub(r"^[（(]\s*[）)]|[（(]\s*[）)]$", "", rest).strip()
        if re.fullmatch(r"[（(]?\s*\S+年\S+月\S+日\s*[）)]?", rest) and find_dates(rest):
            doc.header_dates.append(rest)
        elif rest.endswith("文件") and len(rest) <= 20:
            doc.noise.append(rest)  # letterhead such as 中共某市委文件
        elif rest and not _is_title_text(rest, title_parts):
            title_parts.append(rest)
            title_lines.append(lines[i])
        doc.header.append(lines[i])
        i += 1
    doc.title, used = _compose_title(title_parts)
    if doc.title and squeeze(doc.title).startswith("关于"):
        # a page's own title cell (关于…) before the letterhead issuer and the repeated title
        for k, part in enumerate(title_parts):
            if k not in used and _is_issuer_line(part):
                doc.title, used = f"{part.strip()}{doc.title}", used | {k}
                break
    rest_lines = lines[i:]
    # A page title cut short (…》的决定) whose full form heads the text a few lines further on.
    if doc.title:
        for k, (_n, t) in enumerate(rest_lines[:15]):
            full = t.strip()
            if (
                _is_title_line(full)
                and len(squeeze(full)) > len(squeeze(doc.title))
                and squeeze(halfwidth(doc.title)) in squeeze(halfwidth(full))
            ):
                doc.title = full
                doc.header.append(rest_lines.pop(k))
                break
    # Heading-zone lines the title did not take (an addressee, a preamble sentence without
    # a full stop) are text of the document: they open its body instead of being lost.
    unused = [ln for k, ln in enumerate(title_lines) if ln is not None and k not in used]
    if unused:
        doc.header = [ln for ln in doc.header if ln not in unused]
    doc.body = []
    for line in unused + rest_lines:
        if line[1].strip() and _is_noise(line[1].strip()):  # a share bar, a footer line
            doc.noise.append(line[1].strip())
            doc.header.append(line)
        else:
            doc.body.append(line)
    if doc.title is None:
        doc.title_in_text = False
    return doc


_TITLE_LINE_END = re.compile(
    r"(通知|意见|办法|方案|规划|措施|条例|决定|细则|规定|规则|公告|纲要|计划|预案|政策)(（[^）]*）|\([^)]*\))?$"
)


def _is_title_line(text: str) -> bool:
    """A line shaped like a document title: no sentence end, ends with a document kind."""
    flat = squeeze(halfwidth(text))
    return 6 <= len(flat) <= 120 and "。" not in flat and bool(_TITLE_LINE_END.search(flat))


def _split_glued_heading(lines: list[Line]) -> list[Line]:
    """A repost that flattened title, 文号 and text onto one line: cut it at the 文号 when what
    precedes it reads as a title (the pieces keep the line's number)."""
    out: list[Line] = []
    seen = 0
    for n, text in lines:
        if text.strip():
            seen += 1
        numbers = find_doc_numbers(text) if seen <= 8 and len(text) > 60 else []
        if numbers:
            start, end, _ = numbers[0]
            before, after = text[:start].strip(), text[end:].strip()
            if before and after and _is_title_line(before):
                out.extend([(n, before), (n, text[start:end]), (n, after)])
                continue
        out.append((n, text))
    return out


_SITE_TAG = re.compile(r"^\s*【[^】]{1,12}】")


def _is_site_excerpt(text: str, title_parts: list[str]) -> bool:
    """A site's excerpt of the page: the title again, then the text cut off with an ellipsis."""
    flat = squeeze(halfwidth(text))
    title = squeeze(halfwidth("".join(title_parts)))
    return bool(title) and flat.startswith(title) and flat.endswith(("…", "...")) and flat != title


def _is_title_text(text: str, title_parts: list[str]) -> bool:
    """A line that repeats (part of) the title already read from the entry heading."""
    if not title_parts:
        return False
    flat = squeeze(halfwidth(text)).strip("《》")
    joined = squeeze(halfwidth("".join(title_parts)))
    return len(flat) >= 4 and flat in joined


def _compose_title(parts: list[str]) -> tuple[str | None, set[int]]:
    """The title and the indices of the parts it is made of."""
    if not parts:
        return None, set()
    title = parts[0]
    used = {0}
    # An issuer line followed by 关于… line, or a title broken over two lines.
    for k, extra in enumerate(parts[1:], start=1):
        if _is_issuer_line(title) or extra.startswith("关于") or not TITLE_WORDS.search(title):
            sep = "" if extra.startswith("关于") else " "
            title = f"{title}{sep}{extra}" if _is_issuer_line(title) else f"{title}{extra}"
            title = title.replace(" 关于", "关于")
            used.add(k)
    title = title.strip()
    if title.startswith("《") and title.endswith("》"):
        title = title[1:-1]
    return re.sub(r"\s+", " ", title) or None, used


def find_attachment_titles(doc: RawDocument) -> list[str]:
    """Titles of the documents a notice issues, from its title and its first lines."""
    title = doc.title or ""
    sources = [title] + [t for _, t in doc.body[:6]]
    if not ("印发" in title or "公布" in title or any("印发" in s for s in sources[1:])):
        return []
    found: list[str] = []
    for text in sources:
        for m in re.finditer(r"《([^《》]{4,80})》", text):
            name = m.group(1).strip()
            after = halfwidth(text[m.end() : m.end() + 20])
            if re.match(r"\s*\(\S*?〔|\s*\(\S*?\[|\s*\(\S*?号", after):
                continue  # 《…》（…号）: a citation, not an attachment
            if ATTACHABLE.search(squeeze(halfwidth(name))) or "目录" in name:
                found.append(name)
    if not found:
        m = re.search(r"印发(.+?)(?:等[一二三四五六七八九十\d]+个\S*?)?的通知", title)
        if m:
            found.append(m.group(1).strip("《》 "))
    unique: list[str] = []
    for name in found:
        if squeeze(name) not in (squeeze(u) for u in unique):
            unique.append(name)
    return unique


def _heading_match(lines: list[Line], i: int, title: str) -> tuple[int, str | None] | None:
    """If line i starts the heading `title`, return (lines used, date text before it)."""
    want = squeeze(halfwidth(title))
    flat = squeeze(halfwidth(lines[i][1]))
    if not flat:
        return None
    if flat == want:
        return 1, None
    if flat.endswith(want):
        prefix = flat[: -len(want)]
        if find_dates(prefix) and len(prefix) <= 14:
            return 1, prefix
    # A heading broken over two lines: 某市引进培育…（团队） / 实 施 办 法
    if (
        want.startswith(flat)
        and len(flat) >= 6
        and i + 1 < len(lines)
        and squeeze(halfwidth(flat + lines[i + 1][1])) == want
    ):
        return 2, None
    return None


def split_attachments(doc: RawDocument) -> list[RawDocument]:
    """A notice and the documents it issues, each with its own lines."""
    titles = find_attachment_titles(doc)
    if not titles:
        return [doc]
    doc.attachment_titles = titles
    body = doc.body
    starts: list[tuple[int, int, str, str | None]] = []  # (index, heading lines, title, date)
    pos = 1  # an attachment never starts on the notice's own first body line
    for title in titles:
        for i in range(pos, len(body)):
            hit = _heading_match(body, i, title)
            if hit:
                starts.append((i, hit[0], title, hit[1]))
                pos = i + hit[0]
                break
    # An attachment needs a body; a title line at the very end is an attachment list.
    starts = [s for k, s in enumerate(starts) if _has_body(body, s, starts[k + 1 : k + 2])]
    if not starts:
        return [doc]
    docs = [doc]
    doc.body = body[: starts[0][0]]
    for k, (i, used, title, date_text) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(body)
        heading_lines = body[i : i + used]
        if date_text:
            doc.header_dates.append(date_text)
        child = RawDocument(
            title=re.sub(r"\s+", "", title) if _is_cjk_run(title) else title,
            title_in_text=True,
            header=heading_lines,
            body=body[i + used : end],
            part=doc.part,
            parent=doc,
        )
        docs.append(child)
    return docs


def _is_cjk_run(title: str) -> bool:
    """A heading whose inner spaces are layout (若干 政策措施), not separators."""
    return not re.search(r"[A-Za-z0-9]\s+[A-Za-z0-9]", title)


def _has_body(body: list[Line], start, following) -> bool:
    i, used = start[0], start[1]
    end = following[0][0] if following else len(body)
    return any(t.strip() for _, t in body[i + used : end])


def doc_type_of(title: str | None) -> str | None:
    if not title:
        return None
    flat = squeeze(halfwidth(title))
    flat = re.sub(r"\([^()]*\)$", "", flat)  # （2017—2020年）
    for suffix, kind in DOC_TYPE_SUFFIXES:
        if flat.endswith(suffix):
            return kind
    if "会议" in flat:
        return "新闻"
    if flat.endswith("政策"):
        return "汇编"
    return None
