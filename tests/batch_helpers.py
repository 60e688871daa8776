"""What the batch tests share: the bundled pack, the date they evaluate on, the rules of
《焦作市科技创新奖励资金管理暂行办法》 and the columns of a forecast row."""

from __future__ import annotations

from datetime import date

from huiqi.packs.loader import CompiledRule, Pack, bundled_pack

AS_OF = date(2019, 3, 1)
KJJL = "焦作市科技创新奖励资金管理暂行办法"
COLUMNS = "place, rule_idx, status, fact, n, amount, amount_min, amount_max"


def pack() -> Pack:
    return bundled_pack("jiaozuo")  # (cached by the loader)


def kjjl() -> list[CompiledRule]:
    return [cr for cr in pack().compiled if cr.rule.doc_title == KJJL]
