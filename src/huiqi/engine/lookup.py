"""Rules by the clause they encode: what search shows beside a clause."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from ..library.catalogue import find_clause, find_document
from ..packs.loader import Pack, bundled_pack

RuleLookup = Callable[[str, str], list[tuple[str, str]]]


def rules_by_clause(pack: Pack) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(document id, clause path) -> [(rule title, amount as written)]."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for rule in pack.rules:
        doc = find_document(rule.doc, pack.documents)
        clause = find_clause(doc, rule.clause) if doc else None
        if doc is None or clause is None:
            continue  # huiqi check reports these
        out.setdefault((doc.id, clause.path), []).append((rule.title, rule.amount.describe()))
    return out


@cache
def bundled_rule_lookup(pack: str | None = None) -> RuleLookup:
    """Rules of one bundled pack and the packs it extends (None: every pack)."""
    table = rules_by_clause(bundled_pack(pack))
    return lambda doc_id, path: table.get((doc_id, path), [])
