"""Which rules a batch run evaluates and reports: the whole pack, or the rules of some
documents (`--document`: the budget of one programme). A chosen rule that is stacked with a
rule of another document (就高、补差、只能享受一次) is only decided right with that rival in the
same row, so the rivals of the chosen rules' stacking groups are evaluated too, but reported
only when their own document was chosen."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ..packs.loader import CompiledRule, Pack
from .compile import RuleInfo
from .runner import FORECAST, RESULT, has_table


class ScopeError(ValueError):
    """A document asked for that the pack does not have (the message is for the user)."""


@dataclass(frozen=True)
class Scope:
    rules: list[CompiledRule]  # evaluated, in pack order
    shown: frozenset[str]  # ids of the rules reported
    titles: tuple[str, ...]  # the chosen documents' titles, as asked

    def reported(self, infos: list[RuleInfo]) -> list[RuleInfo]:
        """The rules of a compiled batch that the result and the summaries list."""
        return [i for i in infos if i.rule_id in self.shown]

    def keep_listed(self, con: duckdb.DuckDBPyConnection, infos: list[RuleInfo]) -> list[RuleInfo]:
        """After the evaluation: the rivals' rows leave the long result and the forecast, so
        that every total, count and chart is of the chosen documents only; the rules listed."""
        listed = self.reported(infos)
        if len(listed) < len(infos):
            keep = [i.idx for i in listed]
            for table in (RESULT, FORECAST):
                if has_table(con, table):
                    sql = f"DELETE FROM {table} WHERE NOT list_contains(?, rule_idx)"
                    con.execute(sql, [keep])
        return listed


def documents_with_rules(pack: Pack) -> list[tuple[str, str, str]]:
    """(id, title, 文号 or '') of the library documents that have rules in the pack, in
    library order: what a user may choose from."""
    with_rules = {cr.rule.doc_id for cr in pack.compiled}
    return [(d.id, d.title, d.doc_number or "") for d in pack.documents if d.id in with_rules]


def whole_pack(pack: Pack) -> Scope:
    return Scope(list(pack.compiled), frozenset(cr.rule.id for cr in pack.compiled), ())


def documents_scope(pack: Pack, refs: list[str]) -> Scope:
    """The rules of the documents named by `refs` (文号, title with or without 《》, or id), and
    their stacking rivals from other documents; ScopeError names a reference that matches no
    document of the pack's library, or a document without rules in the pack."""
    from ..library.catalogue import find_document

    wanted: dict[str, str] = {}
    for ref in refs:
        doc = find_document(ref, pack.documents)
        if doc is None:
            raise ScopeError(f"找不到文件“{ref}”：请写文号（如 财税〔2017〕43号）或完整标题")
        if not any(cr.rule.doc_id == doc.id for cr in pack.compiled):
            raise ScopeError(f"《{doc.title}》暂无可测算的规则")
        wanted[doc.id] = doc.title
    chosen = {cr.rule.id for cr in pack.compiled if cr.rule.doc_id in wanted}
    groups = {
        cr.rule.stacking.group
        for cr in pack.compiled
        if cr.rule.id in chosen and cr.rule.stacking is not None
    }
    rules = [
        cr
        for cr in pack.compiled
        if cr.rule.id in chosen
        or (cr.rule.stacking is not None and cr.rule.stacking.group in groups)
    ]
    return Scope(rules, frozenset(chosen), tuple(wanted.values()))
