"""Boundary coverage of the rule cases: for every threshold comparison in a money rule
(以上/以下/超过/不低于 …, and windows such as 三年内 written as comparisons), whether the cases
that assert the rule include a profile on each side of the threshold — the comparison true and
the comparison false — and one exactly at the threshold.

A threshold is a comparison (<, <=, >, >=) with a number literal in it; `x > 0` and `x >= 1`
only test that something happened at all and are left out (as for gaps in the engine). Only the
cases that assert the rule count: a profile that merely passes through a rule pins nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine.profile import ProfileError, validate_profile
from ..lang.expr import Compare, Num, walk
from ..lang.scalar import UNKNOWN, Atom, compile_expr
from ..packs.loader import CompiledRule, Pack
from .cases import Case

ORDER_OPS = (">=", ">", "<=", "<")
MONEY_TYPES = ("fixed", "formula", "per_item", "percent", "range")


@dataclass
class Boundary:
    rule: str
    file: str
    part: int  # index into rule.when
    label: str
    condition: str
    true_cases: list[str] = field(default_factory=list)
    false_cases: list[str] = field(default_factory=list)
    at_threshold: list[str] = field(default_factory=list)  # the two sides equal

    @property
    def covered(self) -> bool:
        return bool(self.true_cases and self.false_cases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "file": self.file,
            "part": self.part + 1,
            "label": self.label,
            "condition": self.condition,
            "true_cases": self.true_cases,
            "false_cases": self.false_cases,
            "at_threshold": self.at_threshold,
            "covered": self.covered,
        }


def is_boundary(atom: Atom) -> bool:
    node = atom.node
    if not isinstance(node, Compare) or node.op not in ORDER_OPS:
        return False
    nums = [x for x in walk(node) if isinstance(x, Num)]
    if not nums:
        return False
    for side in (node.left, node.right):  # `x > 0` / `x >= 1`: any activity at all
        if isinstance(side, Num) and side.unit == "number" and side.value in (0, 1):
            return False
    return True


def money_rule(cr: CompiledRule) -> bool:
    return cr.rule.amount.type in MONEY_TYPES


def boundary_coverage(pack: Pack, cases: list[Case]) -> list[Boundary]:
    """Every threshold atom of the pack's own money rules, with the cases on each side."""
    rows: dict[tuple[str, int], Boundary] = {}
    sides: dict[tuple[str, int], tuple[Any, Any]] = {}
    for cr in pack.compiled:
        if not pack.own(cr.rule.id) or not money_rule(cr):
            continue
        for atom in cr.atoms:
            if is_boundary(atom):
                part = cr.rule.when[atom.part]
                rows[(cr.rule.id, atom.index)] = Boundary(
                    cr.rule.id,
                    cr.rule.where.file,
                    atom.part,
                    part.label,
                    atom.text,
                )
                node = atom.node
                assert isinstance(node, Compare)
                names = pack.program.derived_names
                sides[(cr.rule.id, atom.index)] = (
                    compile_expr(node.left, names),
                    compile_expr(node.right, names),
                )
    wanted = {rid for rid, _ in rows}
    for case in cases:
        rids = [rid for rid in case.expect if rid in wanted]
        if not rids:
            continue
        try:
            profile = validate_profile(case.profile, pack.variables, set(pack.by_id), pack.entities)
        except ProfileError:
            continue  # reported by the case itself
        ctx = pack.new_ctx(profile.facts, case.as_of)
        for rid in rids:
            cr = pack.by_id[rid]
            ctx.missing, ctx.trace = [], []
            cr.condition(ctx)  # every atom is evaluated and traced, in atom order
            values = list(ctx.trace)
            for atom, value in zip(cr.atoms, values, strict=False):
                row = rows.get((rid, atom.index))
                if row is None or value is UNKNOWN:
                    continue
                (row.true_cases if value else row.false_cases).append(case.id)
                left_fn, right_fn = sides[(rid, atom.index)]
                ctx.missing = []
                left, right = left_fn(ctx, ()), right_fn(ctx, ())
                if left is not UNKNOWN and right is not UNKNOWN and left == right:
                    row.at_threshold.append(case.id)
    return list(rows.values())
