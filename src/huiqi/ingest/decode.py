"""Decode raw policy files: UTF-8 (with or without BOM), UTF-16 with a BOM, GBK and GB18030.

Control characters inside otherwise valid text (a stray \\x07 or an ANSI colour code copied
from a terminal) are removed and counted, so that a good file is not rejected for them and
nothing invisible reaches the library or a terminal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class IngestError(Exception):
    """A file that cannot be ingested; the message names the file and is for users."""


_CJK = re.compile(r"[\u4e00-\u9fff]")
# ANSI escape sequences (CSI … final byte, OSC … BEL/ST) first, then lone C0/C1 controls other
# than line breaks, tab and form feed.
CONTROL_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]"
)
# every match of CONTROL_RE starts with one of these (ESC is \x1b): a plain class scans a
# text three times faster than the alternation, and most texts have none
_CONTROL_START = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def without_controls(text: str) -> str:
    """The text with CONTROL_RE's escape sequences and control characters removed."""
    return CONTROL_RE.sub("", text) if has_controls(text) else text


def has_controls(text: str) -> bool:
    """The text has something `without_controls` removes."""
    return _CONTROL_START.search(text) is not None


# In UTF-8 the characters of _CONTROL_START are found in the bytes: C0 and DEL are single
# bytes that no multi-byte sequence contains, and U+0080-U+009F is \xc2\x80-\xc2\x9f
_NOT_C0 = bytes(b for b in range(256) if b >= 0x80 or not _CONTROL_START.match(chr(b)))
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")


def utf8_has_controls(data: bytes, before: bytes = b"") -> bool:
    """`has_controls` of `data` decoded as UTF-8, read from its bytes (a quarter of the time
    of searching the decoded text). `before`: the block read just before, when `data` goes
    on from it (a C1 control's two bytes may be split between them)."""
    seam = before[-1:] == b"\xc2" and data[:1] != b"" and 0x80 <= data[0] <= 0x9F
    return seam or bool(data.translate(None, _NOT_C0)) or _C1_UTF8.search(data) is not None


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


@dataclass
class Decoded:
    text: str
    encoding: str
    controls: int = 0  # control characters removed


def decode_bytes(data: bytes, name: str, *, chinese: bool = True) -> tuple[str, str]:
    """Return (text, encoding name) or raise IngestError naming the file.

    `chinese`: the text must contain Chinese (a policy text); a data file such as a profile
    may be pure ASCII.
    """
    decoded = decode(data, name, chinese=chinese)
    return decoded.text, decoded.encoding


def candidates(head: bytes, name: str) -> list[str]:
    """The encodings to try, in order, for a file that starts with `head`: its BOM's, else
    UTF-8 then GB18030 (a superset of GBK, so one attempt covers both). Raises IngestError
    for an empty or binary file."""
    if not head.strip():
        raise IngestError(f"{name}：文件为空")
    bom = next((enc for mark, enc in _BOMS if head.startswith(mark)), None)
    if bom is None and b"\x00" in head[:4096]:
        raise IngestError(f"{name}：不是文本文件（含二进制内容）")
    return [bom] if bom else ["utf-8", "gb18030"]


def decode(data: bytes, name: str, *, chinese: bool = True) -> Decoded:
    """Decode a file's bytes; raise IngestError naming the file and the reason."""
    encodings = candidates(data, name)
    bom = encodings[0] if len(encodings) == 1 else None
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():  # ideographic spaces only: not text, and not an encoding issue
            raise IngestError(f"{name}：文件为空（只有空白字符）")
        # Strictly valid UTF-8 (or a BOM) is trusted; GB18030 decodes almost any byte
        # sequence, so there the control characters decide whether it is text at all.
        trusted = bom is not None or encoding == "utf-8"
        if not plausible(text, chinese, trusted):
            continue
        clean, removed = CONTROL_RE.subn("", text)
        if not clean.strip():
            raise IngestError(f"{name}：文件为空（只有控制字符）")
        return Decoded(clean, encoding, removed)
    if bom is not None:
        raise IngestError(f"{name}：带有字节顺序标记，但内容无法按其编码解码")
    raise IngestError(
        f"{name}：无法识别文件编码（支持 UTF-8、UTF-16（带字节顺序标记）、GBK、GB18030）"
    )


def plausible(text: str, chinese: bool, trusted: bool) -> bool:
    """Decoded text has few control characters (and, for policy text, Chinese characters)."""
    if not text.strip():
        return False
    if chinese and not _CJK.search(text):
        return False
    if trusted:
        return True
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    return controls <= max(2, len(text) // 1000)
