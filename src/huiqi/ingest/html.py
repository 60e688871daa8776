"""Web pages as text: the policy text of an HTML page (a site page, a Word 'save as web page'
export, an app page whose text sits in a JavaScript string), never its markup or furniture.

The stdlib html.parser is enough here: pages are read once, tolerantly, and only text and a few
attributes (class, id) are needed; no dependency is added for it.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from .text import squeeze

_HTML_SNIFF = re.compile(
    r"<!DOCTYPE\s+html|<html[\s>]|<body[\s>]|<p[\s>][^<]{0,2000}</p>|<div[\s>]", re.I
)
# Elements whose text is never the policy.
_SKIP_TAGS = {"script", "style", "head", "title", "noscript", "template", "button", "textarea",
              "select", "iframe", "svg", "img", "nav", "footer", "header", "form"}  # fmt: skip
_VOID = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
_BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
          "section", "article", "blockquote", "pre", "dd", "dt", "dl", "center", "hr",
          "tbody", "thead", "caption"}  # fmt: skip
# class / id words of page furniture: navigation, share bars, comments, footers, editor's notes.
_FURNITURE = re.compile(
    r"nav|crumb|position|\bpos\b|share|bdshare|\btags?\b|comment|footer|\bfoot\b|print|\bfx\b|"
    r"gotop|backtop|pager|pagination|loading|tabbar|\beditor|summary|guide|related|copyright|"
    r"\bad\b|advert|toolbar|menu|sidebar|login|search",
    re.I,
)
# A JavaScript string literal that holds markup (var content = "<p>…<\/p>").
_JS_STRING = re.compile(r'"((?:[^"\\\n]|\\.){20,})"|\'((?:[^\'\\\n]|\\.){20,})\'', re.S)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_TITLE_END = re.compile(r"(通知|意见|办法|方案|规划|措施|条例|决定|细则|规定|规则|公告|纲要|计划)$")


def looks_like_html(text: str) -> bool:
    """Markup, judged by content (a .txt file may hold a saved page, a .html file plain text)."""
    head = text[:20000]
    return bool(_HTML_SNIFF.search(head)) and head.count("<") >= 3


class _Extractor(HTMLParser):
    def __init__(self, furniture: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.furniture = furniture
        self.lines: list[str] = []
        self.current: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.skip_depth = 0
        self.scripts: list[str] = []
        self.in_script = False
        self.headings: list[str] = []  # h1 texts: kept only if the body does not repeat them
        self.in_h1 = False
        self.h1_text: list[str] = []

    def _break(self) -> None:
        line = "".join(self.current).strip()
        if line:
            self.lines.append(line)
        self.current = []

    def handle_starttag(self, tag, attrs):
        tag = tag.lower()
        if tag in _BLOCK:
            self._break()
        if tag in _VOID:
            return
        marks = " ".join(v or "" for k, v in attrs if k in ("class", "id"))
        skipped = tag in _SKIP_TAGS or bool(self.furniture and marks and _FURNITURE.search(marks))
        if tag == "script":
            self.in_script = True
        if tag == "h1" and not skipped:
            skipped, self.in_h1, self.h1_text = True, True, []
        self.stack.append((tag, skipped))
        if skipped:
            self.skip_depth += 1
        if tag in ("td", "th") and self.current:
            self.current.append(" ")

    def handle_endtag(self, tag):
        tag = tag.lower()
        if tag in _VOID:
            if tag == "br":
                self._break()
            return
        # close up to the matching open tag (pages are often not well formed)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for _, skipped in self.stack[i:]:
                    if skipped:
                        self.skip_depth -= 1
                del self.stack[i:]
                break
        if tag == "script":
            self.in_script = False
        if tag == "h1" and self.in_h1:
            self.in_h1 = False
            self.headings.append("".join(self.h1_text).strip())
        if tag in _BLOCK:
            self._break()

    def handle_data(self, data):
        if self.in_script:
            self.scripts.append(data)
            return
        if self.in_h1:
            self.h1_text.append(data)
            return
        if self.skip_depth:
            return
        # white space inside a block is layout: Word wraps lines and splits numbers into spans
        self.current.append(re.sub(r"[\r\n\t]+", "", data))

    def close(self):
        super().close()
        self._break()


def _unescape_js(raw: str) -> str:
    try:
        return json.loads('"' + raw + '"')
    except ValueError:
        return raw.replace("\\/", "/").replace('\\"', '"').replace("\\'", "'").replace("\\n", "\n")


def _script_markup(scripts: list[str]) -> list[str]:
    """Markup held in JavaScript strings of the page's scripts."""
    found = []
    for script in scripts:
        for m in _JS_STRING.finditer(script):
            raw = m.group(1) if m.group(1) is not None else m.group(2)
            if re.search(r"<\\?/?(p|div|span|br|table)\b", raw, re.I) and re.search(
                r"[\u4e00-\u9fff]", raw
            ):
                found.append(_unescape_js(raw))
    return found


def html_to_text(text: str) -> str:
    """The readable text of a page, one block per line; furniture and markup left out."""
    parser = _Extractor()
    parser.feed(text)
    parser.close()
    if not _CJK.search("".join(parser.lines)) and not parser.scripts:
        # the furniture classes matched the page's own container: read it without them
        parser = _Extractor(furniture=False)
        parser.feed(text)
        parser.close()
    lines = list(parser.lines)
    for markup in _script_markup(parser.scripts):
        inner = _Extractor()
        inner.feed(markup)
        inner.close()
        lines.extend(inner.lines)
    body = squeeze("".join(lines))
    # An <h1> is the page's headline: kept only when it reads as a document title that the
    # body does not already repeat (a site's own headline or a cut title is left out).
    heads = [
        h
        for h in parser.headings
        if h and squeeze(h) not in body and _TITLE_END.search(squeeze(h)) and "《" not in h[:1]
    ]
    return "\n".join(heads + [ln.replace("\xa0", " ").strip() for ln in lines]) + "\n"
