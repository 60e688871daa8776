"""Jurisdictions as pack data: each pack's `jurisdiction.yaml` says which place it governs.

Ingest reads issuers and 文号 prefixes from here to tell a document's level, search strips the
place names from titles, and the engine picks the packs that apply to an applicant from the
place where it is registered. No place name is written in the code; a new city or county is a
new folder under `policies/`.

```yaml
name: 某市                   # the place the pack governs
level: city                  # national | province | city | county
extends: province_pack       # the pack one level up (none for the national pack)
aliases: [某]                # short names used in titles and bodies
doc_prefixes: [某]           # how this government's 文号 begin (某政〔2017〕24号)
issuers: [某市人民政府, …]  # bodies whose documents belong to this level
places:                      # subdivisions that have no pack of their own, by level
  county: [某县, 某县级市]
  district: [解放区]
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from .errors import PackError

LEVELS = {"national": "国家", "province": "省", "city": "市", "county": "县（市、区）"}
#: Places below a pack: the level a document from there gets (district counts as county).
PLACE_LEVELS = {"province": "province", "city": "city", "county": "county", "district": "county"}
KEYS = {"name", "level", "extends", "aliases", "doc_prefixes", "issuers", "places"}
FILENAME = "jurisdiction.yaml"
#: The input that says where an applicant is registered (an enum of every place of the tree,
#: `values: places`); it picks the packs that apply to the applicant.
PLACE_VARIABLE = "registered_place"


@dataclass(frozen=True)
class Jurisdiction:
    pack: str  # the pack's folder name: the id used by --pack
    name: str
    level: str
    extends: str | None
    aliases: tuple[str, ...] = ()
    doc_prefixes: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    places: dict[str, tuple[str, ...]] = field(default_factory=dict)  # level -> names
    root: Path = Path()

    @property
    def level_label(self) -> str:
        return LEVELS[self.level]


def _short(place: str) -> str:
    """某州市 → 某州; 某县 stays (one character alone would match too much)."""
    stem = re.sub(r"(省|市|县|区|自治州|地区)$", "", place)
    return stem if len(stem) >= 2 else place


def _strings(raw: object, file: str, key: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        raise PackError("应为非空文字的列表", file=file, field=key)
    return tuple(x.strip() for x in raw)


def read_jurisdiction(root: Path) -> Jurisdiction:
    """Parse one pack's jurisdiction.yaml; every problem is a PackError naming the field."""
    path = root / FILENAME
    label = f"{root.name}/{FILENAME}"
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except FileNotFoundError:
        raise PackError(f"缺少 {FILENAME}", file=label) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PackError(f"无法读取：{exc}", file=label) from None
    if not isinstance(data, dict):
        raise PackError("应为映射（name、level、extends …）", file=label)
    unknown = sorted(set(map(str, data)) - KEYS)
    if unknown:
        raise PackError(
            f"未知的键 {'、'.join(unknown)}（可用：{'、'.join(sorted(KEYS))}）", file=label
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PackError("缺少地名 name", file=label, field="name")
    level = data.get("level")
    if level not in LEVELS:
        raise PackError(f"level 应为 {'、'.join(LEVELS)} 之一", file=label, field="level")
    extends = data.get("extends")
    if extends is not None and not isinstance(extends, str):
        raise PackError("extends 应为上级规则包的目录名", file=label, field="extends")
    places_raw = data.get("places") or {}
    if not isinstance(places_raw, dict):
        raise PackError("places 应按层级列出下辖地名", file=label, field="places")
    places: dict[str, tuple[str, ...]] = {}
    for lvl, names in places_raw.items():
        if lvl not in PLACE_LEVELS:
            raise PackError(
                f"places 的层级应为 {'、'.join(PLACE_LEVELS)} 之一",
                file=label,
                field=f"places.{lvl}",
            )
        places[lvl] = _strings(names, label, f"places.{lvl}")
    return Jurisdiction(
        pack=root.name,
        name=name.strip(),
        level=level,
        extends=extends,
        aliases=_strings(data.get("aliases"), label, "aliases"),
        doc_prefixes=_strings(data.get("doc_prefixes"), label, "doc_prefixes"),
        issuers=_strings(data.get("issuers"), label, "issuers"),
        places=places,
        root=root,
    )


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Registry:
    """Every jurisdiction under one policies folder, as a tree."""

    def __init__(self, items: list[Jurisdiction]) -> None:
        self.by_pack = {j.pack: j for j in items}
        problems = []
        for j in items:
            if j.extends is not None and j.extends not in self.by_pack:
                problems.append(
                    PackError(
                        f"上级规则包 {j.extends} 不存在（已有：{'、'.join(sorted(self.by_pack))}）",
                        file=f"{j.pack}/{FILENAME}",
                        field="extends",
                    )
                )
        for j in items:
            seen = [j.pack]
            cur = j
            while cur.extends and cur.extends in self.by_pack:
                if cur.extends in seen:
                    problems.append(
                        PackError(
                            f"上级关系成环：{' → '.join([*seen, cur.extends])}",
                            file=f"{j.pack}/{FILENAME}",
                            field="extends",
                        )
                    )
                    break
                seen.append(cur.extends)
                cur = self.by_pack[cur.extends]
        if problems:
            from .errors import PackErrors

            raise PackErrors(problems)
        # place name -> (pack that governs it directly, its level)
        self._place: dict[str, tuple[str, str]] = {}
        for j in items:
            self._place[j.name] = (j.pack, j.level)
        for j in items:
            for lvl, names in j.places.items():
                for p in names:
                    self._place.setdefault(p, (j.pack, PLACE_LEVELS[lvl]))

    def __contains__(self, pack: str) -> bool:
        return pack in self.by_pack

    @property
    def packs(self) -> list[str]:
        """Pack names, parents before children."""
        order: list[str] = []

        def visit(p: str) -> None:
            if p in order:
                return
            parent = self.by_pack[p].extends
            if parent:
                visit(parent)
            order.append(p)

        for p in sorted(self.by_pack):
            visit(p)
        return order

    def chain(self, pack: str) -> list[Jurisdiction]:
        """The pack and every pack it extends, national first."""
        out: list[Jurisdiction] = []
        cur: str | None = pack
        while cur:
            j = self.by_pack[cur]
            out.append(j)
            cur = j.extends
        return out[::-1]

    def descendants(self, pack: str) -> list[str]:
        return [p for p in self.packs if pack in (j.pack for j in self.chain(p)) and p != pack]

    def places(self) -> list[str]:
        """Every place an applicant can be registered in, the most local first (a list to
        choose from starts with the places that have their own policies)."""
        out: list[str] = []
        for p in reversed(self.packs):
            j = self.by_pack[p]
            if j.name not in out:
                out.append(j.name)
            for names in j.places.values():
                out.extend(n for n in names if n not in out)
        return out

    def places_within(self, name: str) -> list[str]:
        """A place and everything under it: 某市 → 某市, 某县级市, 某县 …"""
        if name not in self._place:
            raise KeyError(name)
        pack, _ = self._place[name]
        j = self.by_pack[pack]
        if j.name != name:  # a leaf place without a pack of its own
            return [name]
        out = [name]
        for p in [pack, *self.descendants(pack)]:
            d = self.by_pack[p]
            for n in [d.name, *(x for names in d.places.values() for x in names)]:
                if n not in out:
                    out.append(n)
        return out

    def pack_for_place(self, place: str) -> str | None:
        """The deepest pack whose jurisdiction contains the place."""
        hit = self._place.get(place)
        return hit[0] if hit else None

    def level_hints(self) -> list[tuple[str, re.Pattern[str]]]:
        """(level, pattern) pairs for telling a document's level, most local first."""
        by_level: dict[str, list[str]] = {lvl: [] for lvl in LEVELS}
        prefixes: dict[str, list[str]] = {lvl: [] for lvl in LEVELS}
        for j in self.by_pack.values():
            by_level[j.level] += [j.name, *j.aliases, *j.issuers]
            prefixes[j.level] += list(j.doc_prefixes)
            for lvl, names in j.places.items():
                # Counties are named without 市/县 in titles (某州, 某阳); districts are not
                # (解放, 中站 are ordinary words).
                short = lvl == "county"
                by_level[PLACE_LEVELS[lvl]] += [
                    n for p in names for n in {p, _short(p) if short else p}
                ]
        out = []
        for lvl in ("county", "city", "province", "national"):
            words = sorted(set(by_level[lvl]), key=len, reverse=True)
            alts = [re.escape(w) for w in words] + [
                "^" + re.escape(p) for p in sorted(set(prefixes[lvl]), key=len, reverse=True)
            ]
            if alts:
                out.append((lvl, re.compile("|".join(alts))))
        return out

    def issuers(self) -> list[str]:
        return [i for p in self.packs for i in self.by_pack[p].issuers]

    def place_names(self) -> list[str]:
        """Names that may open a title (某省某市人民政府关于…), longest first."""
        names = {j.name for j in self.by_pack.values()}
        names |= {a for j in self.by_pack.values() for a in j.aliases}
        names |= {p for j in self.by_pack.values() for ps in j.places.values() for p in ps}
        return sorted(names, key=len, reverse=True)


def load_registry(policies: Path) -> Registry:
    items = [read_jurisdiction(d) for d in sorted(policies.iterdir()) if (d / FILENAME).is_file()]
    return Registry(items)


@cache
def bundled_registry() -> Registry:
    from .resources import policies_dir

    return load_registry(policies_dir())
