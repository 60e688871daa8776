"""The one place where text meets the terminal.

Titles, clause texts, file names and arguments are data: printed through Rich they would be
read as markup (`[/]` raises, `[bold]` restyles) and control characters or ANSI escapes in a
policy text would drive the terminal. Every piece of data printed by the CLI goes through
`esc`; markup written by the CLI itself stays as it is.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.markup import escape

# Messages soft-wrap: the terminal wraps them, so a path is never cut by a newline.
# No automatic highlighting: Rich's highlighter regexes are super-linear on long lines (a
# 100,000-character argument took 80 s to echo), and data is styled only where the CLI says.
console = Console(highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

# ANSI sequences (CSI, OSC) first, then lone C0/C1 control characters (tab and newline kept),
# bidirectional overrides that reorder what follows them on screen.
_UNSAFE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def clean(text: object) -> str:
    """Text without control characters or escape sequences (for Rich Text objects)."""
    return _UNSAFE.sub("", "" if text is None else str(text))


def esc(text: object, limit: int | None = None) -> str:
    """Text safe to embed in Rich markup: escapes, controls and markup neutralised;
    cut to `limit` characters (an echoed argument may be arbitrarily long)."""
    plain = clean(text)
    if limit is not None and len(plain) > limit:
        plain = plain[:limit] + "…"
    return escape(plain)
