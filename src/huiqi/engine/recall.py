"""A rule's result kept between matches, under the values of exactly what the rule reads.

Before stacking, a rule's result is a function of the facts it reads (directly, or through
derived variables) and of the date (parameters in force, deadlines, `as_of`). A service
answers many self-checks whose facts differ in a few places: each step of the questionnaire
re-sends every answer so far, and a rule about facts nobody has given reads the same for
every applicant. So a match looks each rule up under (date, its facts' values) and evaluates
only what it has not seen. Facts are replaced by tokens first (one per distinct value), so
that a rule's key is a short tuple of integers, cheap to hash.

What is kept is the result's data, never a result object: stacking changes the results of a
match in place, and each match gets its own.
"""

from __future__ import annotations

import itertools
from contextlib import suppress
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..lang.expr import Node

if TYPE_CHECKING:
    from ..lang.scalar import Program
    from ..packs.loader import CompiledRule, Pack
    from .match import RuleResult

#: Results kept per rule (oldest dropped first) and distinct fact values tokenised before
#: the table starts afresh: memory stays bounded however varied the requests are.
PER_RULE = 64
TOKENS = 50_000

# Whether the result is traced, and the RuleResult fields after rule and index
Kept = tuple[bool, tuple[Any, ...]]


def rule_reads(cr: CompiledRule, program: Program) -> tuple[str, ...]:
    """The facts a rule's evaluation can read: its conditions, exclusions, amount and
    stacking key, with derived variables replaced by what they read in turn."""
    nodes: list[Node] = [node for node, _ in cr.parts]
    nodes += cr.exclusion_nodes
    nodes += cr.amount_nodes.values()
    if cr.key_node is not None:
        nodes.append(cr.key_node)
    return program.inputs_read(nodes)


def _frozen(value: Any) -> Any:
    """A hashable image of a fact value, equal only for values that read and print alike
    (the type is part of it: True is not 1, and Decimal 1.0 is not Decimal 1)."""
    kind = type(value)
    if kind is list or kind is tuple:
        return (kind, tuple(_frozen(v) for v in value))
    if kind is dict:
        return (kind, tuple((k, _frozen(v)) for k, v in value.items()))
    if kind is Decimal:
        return (kind, str(value))
    if kind in (str, int, bool, date, type(None)):
        return (kind, value)
    raise TypeError(kind)


class Recall:
    """One pack's kept results: per compiled rule, the facts it reads and its results."""

    def __init__(self, pack: Pack) -> None:
        self.reads = [rule_reads(cr, pack.program) for cr in pack.compiled]
        self.held: list[dict[tuple, Kept]] = [{} for _ in pack.compiled]
        self._tokens: dict[Any, int] = {}
        # never reused, even after the table starts afresh: a token names one value forever
        self._count = itertools.count()

    def tokens(self, facts: dict[str, Any]) -> dict[str, int]:
        """Each fact's token: equal tokens, equal values."""
        table, out = self._tokens, {}
        for name, value in facts.items():
            try:
                frozen = _frozen(value)
            except TypeError:  # a kind of value not foreseen: a token of its own, never hit
                out[name] = next(self._count)
                continue
            token = table.get(frozen)
            if token is None:
                if len(table) >= TOKENS:
                    table.clear()
                token = table[frozen] = next(self._count)
            out[name] = token
        return out

    def keep(self, held: dict[tuple, Kept], key: tuple, r: RuleResult) -> Kept:
        """Keep what evaluation set of `r` (the fields after rule and index, the stacking
        ones left empty) under `key` in one rule's `held`, and whether it is traced (an
        excluded rule has no trace); returns what is kept."""
        if len(held) >= PER_RULE:
            with suppress(KeyError, RuntimeError, StopIteration):  # another thread was first
                del held[next(iter(held))]
        fields = (r.status, r.amount, r.amount_min, r.amount_max, r.gross, r.steps, r.missing)
        kept = held[key] = (r._cr is not None, (*fields, r.reason, r.key, None, None, r._values))
        return kept


def recall(pack: Pack) -> Recall:
    """The pack's Recall (made on first use, kept in the pack's memo)."""
    held = pack.memo.get(Recall)
    if held is None:
        held = pack.memo[Recall] = Recall(pack)
    return held
