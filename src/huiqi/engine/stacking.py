"""Stacking across rules: 就高不重复, 补差, 只能享受一次 — applied after every rule is evaluated.

Rules name a stacking `group`, a `policy` and optionally a `key` expression (e.g. the 届 of a
contest or the 档次 of an evaluation); members of the same group with the same key compete.
Benefits the profile says were already received (`received_benefits`) count in the group of
the rule they were paid under, with their key.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..explain import Reason

if TYPE_CHECKING:
    from ..packs.loader import Pack
    from .match import RuleResult


def _worth(r: RuleResult) -> Decimal:
    for v in (r.gross, r.amount_max, r.amount_min):
        if v is not None:
            return Decimal(v)
    return Decimal(0)


def _same_key(a: Any, b: Any) -> bool:
    return a is None or b is None or str(a) == str(b)


def apply_stacking(results: list[RuleResult], received: list[dict[str, Any]], pack: Pack) -> None:
    groups: dict[str, list[RuleResult]] = defaultdict(list)
    for r in results:
        if r.rule.stacking is not None and r.status == "eligible":
            groups[r.rule.stacking.group].append(r)
    prior: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in received:
        cr = pack.by_id.get(item["rule"])
        if cr is not None and cr.rule.stacking is not None:
            prior[cr.rule.stacking.group].append(item)

    for group, members in groups.items():
        # Members compete per key value.
        by_key: dict[str, list[RuleResult]] = defaultdict(list)
        for r in members:
            by_key["" if r.key is None else str(r.key)].append(r)
        for key, rivals in by_key.items():
            # Highest first; on a tie, the rule whose own text states the stacking principle
            # (it has a quote) is the one paid, then pack order.
            rivals.sort(key=lambda r: (-_worth(r), not r.rule.stacking.quote, r.index))  # type: ignore[union-attr]
            winner = rivals[0]
            policy = winner.rule.stacking.policy  # type: ignore[union-attr]
            # The sentence of the law that states the principle (ids never reach the user).
            label = winner.rule.stacking.quote  # type: ignore[union-attr]
            for r in rivals[1:]:
                r.set_aside(
                    winner.rule.id,
                    Reason(
                        "stack_lower",
                        {"winner_title": winner.rule.title, "key": key or None, "principle": label},
                    ),
                )
            paid_before = [
                p for p in prior.get(group, []) if _same_key(_received_key(p, winner), key or None)
            ]
            if not paid_before:
                continue
            before = [Decimal(p["amount"]) for p in paid_before]
            received = sorted({_title(pack, p["rule"]) for p in paid_before})
            if policy == "once":
                winner.set_aside(
                    "received",
                    Reason("stack_once_received", {"received": received, "principle": label}),
                )
            elif policy in ("difference", "highest"):
                already = sum(before) if policy == "difference" else max(before)
                if winner.gross is None:
                    continue
                remaining = max(Decimal(0), Decimal(winner.gross) - already)
                if remaining == 0:
                    winner.set_aside(
                        "received",
                        Reason(
                            "stack_received_covers",
                            {"already": str(already), "received": received, "principle": label},
                        ),
                    )
                else:
                    winner.top_up(
                        remaining,
                        Reason(
                            "stack_top_up",
                            {
                                "already": str(already),
                                "received": received,
                                "remaining": str(remaining),
                                "principle": label,
                            },
                        ),
                    )


def _received_key(item: dict[str, Any], winner: RuleResult) -> Any:
    """The key of a benefit already received. Without one, a benefit of a group keyed by the
    year of the achievement (上年度) counts for the year before the year it was received in:
    awards for one year's results are paid the next year."""
    if item["key"] is not None or item.get("year") is None:
        return item["key"]
    stacking = winner.rule.stacking
    if stacking is not None and stacking.key is not None and stacking.key.text == "last_year":
        return str(item["year"] - 1)
    return None


def _title(pack: Pack, rule_id: str) -> str:
    cr = pack.by_id.get(rule_id)
    return cr.rule.title if cr else rule_id
