"""Character-level normalisation shared by indexing and querying.

Both sides of a match go through `normalize`: full-width ASCII to half-width, traditional
characters to simplified (OpenCC t2s), Latin letters to lower case. Width folding and case
folding keep the string length, so offsets found in a normalised copy point into the
original text (used for highlighting).
"""

from __future__ import annotations

import threading
from functools import cache

from ..ingest.text import halfwidth

_lock = threading.Lock()


@cache
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


@cache
def _traditional_chars() -> frozenset[str]:
    """Characters OpenCC's t2s changes (read from its character table)."""
    from importlib.resources import files

    table = files("opencc").joinpath("dictionary", "TSCharacters.txt")
    chars = set()
    for line in table.read_text(encoding="utf-8").splitlines():
        trad, _, simp = line.partition("\t")
        if trad and simp and trad != simp.split(" ")[0]:
            chars.add(trad)
    return frozenset(chars)


def to_simplified(text: str) -> str:
    """Traditional Chinese to simplified; text with no traditional character is returned
    as is without running the converter (most policy text, and the fast path)."""
    if not text or _traditional_chars().isdisjoint(text):
        return text
    converter = _t2s()
    with _lock:  # the converter keeps per-call state
        out = converter.convert(text)
    # t2s maps characters one to one for all but a few phrases; keep lengths aligned.
    return out if len(out) == len(text) else text


def fold(text: str) -> str:
    """Width and case folding only: same length as the input."""
    half = halfwidth(text)
    lower = half.lower()
    return lower if len(lower) == len(half) else half


def normalize(text: str) -> str:
    """Everything a match compares on: width, case, traditional → simplified."""
    return to_simplified(fold(text))
