"""A disk cache of the slow, pure steps of loading a pack, keyed by the content of its files.

Loading parses YAML, ~1,500 rule expressions (lark) and the corpus texts. Their results depend
only on the files' bytes and on this package's code, so they are pickled once per content key
and read back on the next start; resolution, type checking and compilation still run every
time, so a cached pack is checked exactly as a fresh one. The cache is an optimisation only:
an unreadable or stale entry is rebuilt, never trusted. Set HUIQI_CACHE_DIR to move it, or
HUIQI_NO_CACHE=1 to turn it off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

FORMAT = 3


@cache
def _code_hash() -> str:
    """The package's own source: a change of parser or model invalidates every entry."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for p in sorted(root.rglob("*.py")) + sorted(root.rglob("*.yaml")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def cache_dir() -> Path:
    env = os.environ.get("HUIQI_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "huiqi"


def content_key(files: list[Path]) -> str:
    h = hashlib.sha256(f"{FORMAT}|{sys.version_info[:2]}|{_code_hash()}".encode())
    for p in files:
        h.update(f"\0{p.parent.parent.name}/{p.parent.name}/{p.name}\0".encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:32]


@dataclass
class Memo:
    """What one pack set's files parse to; `dirty` when something had to be computed."""

    key: str
    loaded: dict[tuple[str, str], Any] = field(default_factory=dict)  # file read into objects
    exprs: dict[str, Any] = field(default_factory=dict)
    resolved: dict[tuple, Any] = field(default_factory=dict)
    library: dict[str, Any] | None = None  # per rule: what it takes from the library
    dirty: bool = False

    @property
    def path(self) -> Path:
        return cache_dir() / "packs" / f"{self.key}.pickle"

    def read(self, kind: str, label: str, load) -> Any:
        """A file read into its objects (variables, parameters, a rule file): computed once
        per content. `load` raising is not cached, so errors are found again each time."""
        key = (kind, label)
        if key not in self.loaded:
            self.loaded[key] = load()
            self.dirty = True
        return self.loaded[key]

    def save(self) -> None:
        if not self.dirty or os.environ.get("HUIQI_NO_CACHE"):
            return
        self.dirty = False  # pickled clean: the next process starts from a clean memo
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("wb", dir=self.path.parent, delete=False) as f:
                pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(f.name, self.path)  # atomic: a concurrent reader sees old or new
            _prune(self.path.parent)
        except OSError:
            pass  # a read-only home: the pack still loads, only more slowly next time


def open_memo(files: list[Path]) -> Memo:
    key = content_key(files)
    memo = Memo(key)
    if os.environ.get("HUIQI_NO_CACHE"):
        return memo
    try:
        with memo.path.open("rb") as f:
            loaded = pickle.load(f)  # our own file, written by save(); never user input
        if isinstance(loaded, Memo) and loaded.key == key:
            return loaded
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        pass
    return memo


KEEP = 16  # entries kept: the packs of a few checkouts and branches


def _prune(folder: Path) -> None:
    """Drop the oldest entries: each edit of a pack file writes a new one."""
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)
