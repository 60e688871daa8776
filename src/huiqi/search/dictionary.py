"""The search dictionaries: pack data, read from every bundled pack's `search/*.yaml`.

Each pack may hold, in any of its `search/*.yaml` files (national first, then each pack below
it; lists are joined and mappings merged):

    equivalents     [[word, …], …]       every member finds every other member
    abbreviations   {word: [word, …]}    what users type → the policy's words (one way)
    terms           [word, …]            added to the segmenter's dictionary
    stopwords       [word, …]            dropped from a query after segmentation
    fillers         [phrase, …]          cut out of a query before segmentation
    generic         [word, …]            words a clause may lack and still answer
    intents         {name: {label, query, hint, clause}}   what a question asks for
    confusables     [chars, …]           groups of characters that look alike
    provinces / cities / suffixes / full_name_only / short_names   the national gazetteer

The search code holds no word list of its own, and no place name: places come from this data
and from the packs' jurisdiction.yaml (jurisdictions.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .normalize import normalize

_LIST_KEYS = (
    "terms",
    "stopwords",
    "fillers",
    "generic",
    "confusables",
    "provinces",
    "suffixes",
    "full_name_only",
    "short_names",
)
KNOWN_KEYS = {*_LIST_KEYS, "equivalents", "abbreviations", "intents", "cities"}


class SearchDataError(ValueError):
    """A search dictionary file that cannot be used; the message is Chinese and names it."""


@dataclass(frozen=True)
class Intent:
    name: str
    label: str
    query: tuple[str, ...]  # normalised question forms
    clause: re.Pattern[str] | None  # marks a clause of this kind (own text, normalised)
    hint: tuple[str, ...] = ()  # words suggesting it when no question form says otherwise


@dataclass
class SearchData:
    equivalents: list[list[str]] = field(default_factory=list)
    abbreviations: dict[str, list[str]] = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)
    stopwords: set[str] = field(default_factory=set)
    fillers: list[str] = field(default_factory=list)
    generic: set[str] = field(default_factory=set)
    intents: dict[str, Intent] = field(default_factory=dict)
    confusables: dict[str, set[str]] = field(default_factory=dict)  # char → look-alikes
    gazetteer: list[str] = field(default_factory=list)  # full names
    suffixes: list[str] = field(default_factory=list)
    full_name_only: set[str] = field(default_factory=set)
    short_names: list[str] = field(default_factory=list)


def _strings(value: Any, where: str, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise SearchDataError(f"{where}：{what} 应为文字列表")
    return [normalize(str(v)).strip() for v in value if str(v).strip()]


def _read(path: Path, label: str, data: SearchData) -> None:
    from ..errors import PackError
    from ..packs.yamlio import load_yaml

    try:
        raw = load_yaml(path, label)
    except PackError as exc:
        raise SearchDataError(str(exc)) from None
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise SearchDataError(f"{label}：应为键值映射（如 abbreviations: …）")
    for key, value in raw.items():
        line = raw.line_of(str(key)) if hasattr(raw, "line_of") else 0
        where = f"{label} 第 {line} 行" if line else label
        if key not in KNOWN_KEYS:
            known = "、".join(sorted(KNOWN_KEYS))
            raise SearchDataError(f"{where}：未知的键 {key}（可用：{known}）")
        if key == "equivalents":
            if not isinstance(value, list):
                raise SearchDataError(f"{where}：equivalents 应为词组列表")
            for group in value:
                words = _strings(group, where, "equivalents 的每一组")
                if len(words) > 1:
                    data.equivalents.append(words)
        elif key == "abbreviations":
            if not isinstance(value, dict):
                raise SearchDataError(f"{where}：abbreviations 应为 词: [词, …] 的映射")
            for word, targets in value.items():
                w = normalize(str(word)).strip()
                if w:
                    more = _strings(targets, where, f"abbreviations 的 {word}")
                    data.abbreviations[w] = list(
                        dict.fromkeys([*data.abbreviations.get(w, []), *more])
                    )
        elif key == "intents":
            _read_intents(value, where, data)
        elif key == "cities":
            if not isinstance(value, dict):
                raise SearchDataError(f"{where}：cities 应为 省: [市, …] 的映射")
            for province, names in value.items():
                data.gazetteer.extend(_strings(names, where, f"cities 的 {province}"))
        elif key == "confusables":
            for group in _strings(value, where, key):
                for ch in group:
                    data.confusables.setdefault(ch, set()).update(c for c in group if c != ch)
        elif key == "provinces":
            data.gazetteer.extend(_strings(value, where, key))
        elif key in ("stopwords", "generic", "full_name_only"):
            getattr(data, key).update(_strings(value, where, key))
        else:
            getattr(data, key).extend(_strings(value, where, key))


def _read_intents(value: Any, where: str, data: SearchData) -> None:
    if not isinstance(value, dict):
        raise SearchDataError(f"{where}：intents 应为 名称: {{label, query, clause}} 的映射")
    for name, spec in value.items():
        if not isinstance(spec, dict):
            raise SearchDataError(f"{where}：intents 的 {name} 应为映射")
        label = str(spec.get("label") or name)
        query = _strings(spec.get("query"), where, f"intents 的 {name}.query")
        hint = _strings(spec.get("hint"), where, f"intents 的 {name}.hint")
        patterns = _strings(spec.get("clause"), where, f"intents 的 {name}.clause")
        try:
            clause = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        except re.error as exc:
            raise SearchDataError(
                f"{where}：intents 的 {name}.clause 正则表达式有误：{exc}"
            ) from None
        old = data.intents.get(name)
        if old is not None:  # a lower pack adds forms to a national intent
            query = [*old.query, *query]
            hint = [*old.hint, *hint]
            if old.clause is not None:
                clause = (
                    re.compile(f"{old.clause.pattern}|{clause.pattern}") if clause else old.clause
                )
        data.intents[name] = Intent(
            str(name),
            label,
            tuple(dict.fromkeys(query)),
            clause,
            tuple(dict.fromkeys(hint)),
        )


def load_search_data(roots: list[Path]) -> SearchData:
    """Merge the search/*.yaml of the given pack folders (parents first)."""
    data = SearchData()
    for root in roots:
        folder = root / "search"
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            label = f"{root.name}/search/{path.name}"
            _read(path, label, data)
    data.fillers = sorted(dict.fromkeys(data.fillers), key=len, reverse=True)
    return data


@cache
def search_data() -> SearchData:
    """The dictionaries of every bundled pack (read once per process)."""
    from ..jurisdictions import bundled_registry
    from ..resources import policies_dir

    base = policies_dir()
    return load_search_data([base / name for name in bundled_registry().packs])
