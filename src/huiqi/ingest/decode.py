"""Decode raw policy files: UTF-8 (with or without BOM), GBK and GB18030 are all normal."""

from __future__ import annotations

import re


class IngestError(Exception):
    """A file that cannot be ingested; the message names the file and is for users."""


_CJK = re.compile(r"[\u4e00-\u9fff]")


def decode_bytes(data: bytes, name: str, *, chinese: bool = True) -> tuple[str, str]:
    """Return (text, encoding name) or raise IngestError naming the file.

    `chinese`: the text must contain Chinese (a policy text); a data file such as a profile
    may be pure ASCII.
    """
    if not data.strip():
        raise IngestError(f"{name}: 文件为空")
    if b"\x00" in data[:4096]:
        raise IngestError(f"{name}: 不是文本文件（含二进制内容）")
    # GB18030 is a superset of GBK, so one attempt covers both.
    candidates = ["utf-8-sig"] if data.startswith(b"\xef\xbb\xbf") else ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _plausible(text, chinese):
            label = "utf-8-sig" if encoding == "utf-8-sig" else encoding
            return text.replace("\r\n", "\n").replace("\r", "\n"), label
    raise IngestError(f"{name}: 无法识别文件编码（支持 UTF-8、GBK、GB18030）")


def _plausible(text: str, chinese: bool = True) -> bool:
    """Decoded text has few control characters (and, for policy text, Chinese characters)."""
    if not text.strip():
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    return controls <= max(2, len(text) // 1000) and (not chinese or bool(_CJK.search(text)))
