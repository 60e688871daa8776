"""Rules that only an enterprise with events of one list can meet.

Most award rules require an event: a certification of some kind and year, a prize, a
recognition. For an enterprise whose list of such events is known and empty, the rule is not
eligible whatever else is known of it. The budget forecast (`compile._forecast`) need not
evaluate those rules there: a query of rules that all need the same list reads only the
enterprises whose list is unknown or has events, and counts every other enterprise of a
place as not eligible (what its enterprises leave: the place's total less the rows read).

Which rules those are is decided here, by the scalar evaluator itself: a part of the rule
that is false for an applicant of whom nothing is known but that this list is empty. The
three-valued evaluation only ever answers true or false where every value of the unknown
facts would give that answer, so the part is false for every enterprise with the list empty.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from ..engine.match import _in_force
from ..lang.scalar import Ctx, compile_expr
from ..packs.loader import CompiledRule, Pack

#: A list whose rules get a query of their own only from this many rules: such a query has
#: a fixed cost (it scans the registry, finds the enterprises with events and plans: about
#: 0.04 s over 1M enterprises), a rule read on the ~30% of the benchmark's enterprises whose
#: list is unknown or has events spares about 0.015 s (kjjl at 1M: 2 rules a list 0.95 s,
#: 3 rules 0.87 s, 5 rules 0.86 s)
MIN_RULES = 3


def ruled_out_by(pack: Pack, cr: CompiledRule, as_of: date) -> list[str]:
    """The event lists whose being known and empty makes the rule not eligible, whatever else
    is known: some part of its condition is then false. A part after a time limit of a rule
    that refuses late applications does not count (a false time limit before it would make
    the rule 逾期, not 不符合); a rule out of force on `as_of` has no such list."""
    rule = cr.rule
    if _in_force(rule, as_of) is not None:
        return []
    limits = [d for d, part in enumerate(rule.when) if part.deadline]
    last = min(limits) if rule.apply.late_refused and limits else len(cr.parts)
    found: list[str] = []
    for node, _ in cr.parts[:last]:
        # (the event lists it reads, through derived variables; never a derived list)
        reads = pack.program.inputs_read([node])
        names = [n for n in reads if pack.variables[n].type == "events" and n not in found]
        if not names:
            continue
        fn = compile_expr(node, pack.program.derived_names)
        for name in names:
            if fn(Ctx(pack.program, {name: []}, as_of), ()) is False:
                found.append(name)
    return found


def needs_events(
    pack: Pack, as_of: date, rules: list[CompiledRule], min_rules: int = MIN_RULES
) -> dict[int, str]:
    """Rule position -> the event list the forecast reads it for (`ruled_out_by`), for lists
    with at least `min_rules` such rules. A stacking group's rules are compared within the
    row, so a group's rules all get the same list, one that rules out each of them, or none.
    Of several lists, a rule gets the one most of the rules have (fewer queries)."""
    candidates = [ruled_out_by(pack, cr, as_of) for cr in rules]
    popular = Counter(name for found in candidates for name in found)
    groups: dict[str, list[int]] = {}
    for i, cr in enumerate(rules):
        if cr.rule.stacking is not None:
            groups.setdefault(cr.rule.stacking.group, []).append(i)

    def best(names: set[str]) -> str | None:
        return min(names, key=lambda n: (-popular[n], n)) if names else None

    chosen: dict[int, str] = {}
    for i, cr in enumerate(rules):
        if cr.rule.stacking is None:
            pick = best(set(candidates[i]))
        else:
            members = groups[cr.rule.stacking.group]
            pick = best(set.intersection(*(set(candidates[j]) for j in members)))
        if pick is not None:
            chosen[i] = pick
    sizes = Counter(chosen.values())
    return {i: name for i, name in chosen.items() if sizes[name] >= min_rules}
