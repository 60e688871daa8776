"""The same event paid twice: money rules of different documents (or packs) that an applicant
meets through the same event of the period or on the same spend.

A rule's *triggers* are
- each event of the period it counts: an aggregate over an event list whose filter names the
  event's kind (and any other fields it pins, such as the level) and ties its year to the
  evaluation (`year == last_year`), read directly or through derived variables;
- the spend a percentage is taken of (`percent … of X`): two subsidies of 20% of the same
  spend pay the spend twice.
Two money rules of different documents with a trigger in common must say how they stack:
the same stacking group, or `independent_of` with the sentence of the law that allows both.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..errors import PackError
from ..lang.expr import Aggregate, Builtin, Compare, Field, In, Node, Str, Var, names_read, walk
from ..packs.loader import CompiledRule, Pack


@dataclass(frozen=True)
class Trigger:
    source: str  # an event list, or "spend" for a percentage base
    fields: tuple[tuple[str, frozenset[str]], ...]  # pinned fields and their allowed values

    def meets(self, other: Trigger) -> bool:
        """Can one event satisfy both filters (every field both pin shares a value)?"""
        if self.source != other.source:
            return False
        mine, theirs = dict(self.fields), dict(other.fields)
        return all(mine[f] & theirs[f] for f in mine.keys() & theirs.keys())

    def text(self, pack: Pack) -> str:
        if self.source == "spend":
            (name,) = dict(self.fields)["of"]
            return f"按同一支出“{pack.variables[name].label if name in pack.variables else name}”的比例"
        label = pack.variables[self.source].label if self.source in pack.variables else self.source
        pinned = "、".join("/".join(sorted(v)) for _, v in self.fields)
        return f"{label}（{pinned}）"


def _pinned(where: Node) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for n in walk(where):
        if isinstance(n, Compare) and n.op == "==":
            for a, b in ((n.left, n.right), (n.right, n.left)):
                if isinstance(a, Field) and isinstance(b, Str):
                    out[a.name].add(b.value)
        elif isinstance(n, In) and not n.negated and isinstance(n.item, Field):
            values = {o.value for o in n.options if isinstance(o, Str)}
            if values and len(values) == len(n.options):
                out[n.item.name] |= values
    return out


def _of_period(where: Node) -> bool:
    """The filter ties the event's year to the evaluation (an event of the period)."""
    for n in walk(where):
        if isinstance(n, Compare) and n.op == "==":
            sides = (n.left, n.right)
            if any(isinstance(s, Field) and s.name == "year" for s in sides) and any(
                isinstance(s, Builtin) for s in sides
            ):
                return True
    return False


def _events(node: Node, pack: Pack, seen: frozenset[str] = frozenset()) -> set[Trigger]:
    out: set[Trigger] = set()
    for n in walk(node):
        if isinstance(n, Var) and n.name not in seen:
            var = pack.variables.get(n.name)
            if var is not None and var.node is not None:
                out |= _events(var.node, pack, seen | {n.name})
        elif isinstance(n, Aggregate) and n.where is not None and _of_period(n.where):
            pinned = _pinned(n.where)
            if "kind" in pinned:  # an event of a named kind, not "any record of the year"
                fields = tuple(sorted((f, frozenset(v)) for f, v in pinned.items()))
                out.add(Trigger(n.source, fields))
    return out


def _filters(cr: CompiledRule) -> set[Trigger]:
    """Every pinned filter of the rule's own conditions (of the period or not)."""
    out = set()
    for node, _ in cr.parts:
        for n in walk(node):
            if isinstance(n, Aggregate) and n.where is not None:
                pinned = _pinned(n.where)
                if pinned:
                    out.add(
                        Trigger(
                            n.source, tuple(sorted((f, frozenset(v)) for f, v in pinned.items()))
                        )
                    )
    return out


def _distinct_events(a: CompiledRule, b: CompiledRule) -> bool:
    """Both rules require an event of the same list that no single event satisfies for both
    (a merger with a firm inside the city, and one with a firm outside): different events,
    even when the amounts are taken of the same figure."""
    fa, fb = _filters(a), _filters(b)
    shared = {t.source for t in fa} & {t.source for t in fb}
    return any(
        not any(t.meets(u) for t in fa if t.source == src for u in fb if u.source == src)
        for src in shared
    )


def triggers(cr: CompiledRule, pack: Pack) -> set[Trigger]:
    out: set[Trigger] = set()
    for node, _ in cr.parts:
        out |= _events(node, pack)
    base = cr.amount_nodes.get("base")
    if base is not None:
        for name in names_read(base):
            out.add(Trigger("spend", (("of", frozenset({name})),)))
    return out


def _pays_money(cr: CompiledRule) -> bool:
    return cr.rule.amount.type not in ("none", "unstated")


def _declared(a: CompiledRule, b: CompiledRule) -> bool:
    ra, rb = a.rule, b.rule
    if ra.stacking and rb.stacking and ra.stacking.group == rb.stacking.group:
        return True
    return any(i.rule == rb.id for i in ra.independent_of) or any(
        i.rule == ra.id for i in rb.independent_of
    )


def overlap_pairs(pack: Pack) -> list[tuple[CompiledRule, CompiledRule, Trigger]]:
    """Pairs of money rules of different documents sharing a trigger, declared or not."""
    money = [cr for cr in pack.compiled if _pays_money(cr)]
    found = {cr.rule.id: triggers(cr, pack) for cr in money}
    out = []
    for i, a in enumerate(money):
        for b in money[i + 1 :]:
            if a.rule.doc_id == b.rule.doc_id or a.rule.benefit != b.rule.benefit:
                continue
            common = [t for t in found[a.rule.id] for u in found[b.rule.id] if t.meets(u)]
            if common and not _distinct_events(a, b):
                out.append((a, b, common[0]))
    return out


def lint_overlaps(pack: Pack) -> list[PackError]:
    errors = []
    for a, b, trigger in overlap_pairs(pack):
        if _declared(a, b):
            continue
        # reported on the rule of the higher pack (or the later one): that is where it is fixed
        later = b if pack.compiled.index(b) > pack.compiled.index(a) else a
        other = a if later is b else b
        errors.append(
            PackError(
                f"与《{other.rule.doc_title or other.rule.doc}》的 {other.rule.id}"
                f"（{other.rule.title}）由同一事项触发：{trigger.text(pack)}，却不在同一叠加组："
                "请放入同一 stacking 组（不重复享受），或用 independent_of 写明允许同时享受的原文",
                file=later.rule.where.file,
                rule=later.rule.id,
                field="stacking",
                line=later.rule.where.line,
            )
        )
    return errors
