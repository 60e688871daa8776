"""Place names in a query: those of the library's own jurisdictions, and all others.

A question about another city's policy ("深圳人才买房补贴") must not be answered with the
library's amounts as if they were that city's. The names of the library's jurisdictions
come from the packs (jurisdiction.yaml: each pack's name and aliases, and the counties and
districts of city and county packs, whose enterprises the city's policies cover); all other
names from the national gazetteer kept as pack data (policies/cn/search/places.yaml).
A province or city listed as a *place* of a provincial or national pack is not covered:
the library then holds that layer's policies, not the place's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .dictionary import SearchData, search_data

_COVERING_LEVELS = ("city", "county")


@dataclass(frozen=True)
class PlaceMatcher:
    pattern: re.Pattern[str] | None
    outside: dict[str, str]  # name or short name → full name (outside the library)

    def find(self, text: str) -> tuple[list[str], list[str], str]:
        """(outside places, library places, text with every place name cut out)."""
        if self.pattern is None:
            return [], [], text
        outside: list[str] = []
        inside: list[str] = []

        def cut(m: re.Match[str]) -> str:
            name = m.group(0)
            full = self.outside.get(name)
            if full is None:
                inside.append(name)
                return m.group(0)  # the library's own places stay words of the query
            if full not in outside:
                outside.append(full)
            return " "

        rest = self.pattern.sub(cut, text)
        return outside, inside, rest


def _short(name: str, data: SearchData) -> str | None:
    if name in data.full_name_only:
        return None
    for suffix in sorted(data.suffixes, key=len, reverse=True):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def build_matcher(data: SearchData, covered: set[str]) -> PlaceMatcher:
    """Outside names: gazetteer names (and their short forms) not covered by the library."""
    covered_short = {s for n in covered if (s := _short(n, data))} | covered
    outside: dict[str, str] = {}
    for name in data.gazetteer:
        if name in covered_short:
            continue
        outside[name] = name
        short = _short(name, data)
        if short and short not in covered_short:
            outside.setdefault(short, name)
    for short in data.short_names:
        if short not in covered_short:
            outside.setdefault(short, short)
    words = sorted({*outside, *covered_short}, key=len, reverse=True)
    if not words:
        return PlaceMatcher(None, {})
    return PlaceMatcher(re.compile("|".join(map(re.escape, words))), outside)


def covered_places() -> set[str]:
    """The library's jurisdictions: pack names, aliases, and the places of city/county packs."""
    from ..jurisdictions import bundled_registry

    registry = bundled_registry()
    names: set[str] = set()
    for pack in registry.packs:
        j = registry.by_pack[pack]
        names.add(j.name)
        names.update(j.aliases)
        if j.level in _COVERING_LEVELS:
            names.update(p for ps in j.places.values() for p in ps)
    return names


@cache
def place_matcher() -> PlaceMatcher:
    return build_matcher(search_data(), covered_places())
