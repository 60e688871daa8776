"""How the rules are cut into queries (`compile.chunks`): every rule once, a stacking group
whole, at most CHUNK_RULES rules a query unless one group is larger."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from huiqi.batch.compile import CHUNK_RULES, chunks
from huiqi.packs.loader import bundled_pack

KJJL = "焦作市科技创新奖励资金管理暂行办法"


@cache
def pack():
    return bundled_pack("jiaozuo")


def _key(cr) -> str:
    return f"group:{cr.rule.stacking.group}" if cr.rule.stacking else f"doc:{cr.rule.doc}"


def _check(rules) -> list[list[int]]:
    out = chunks(rules)
    flat = sorted(i for c in out for i in c)
    assert flat == list(range(len(rules)))  # every rule, once
    where = {i: k for k, c in enumerate(out) for i in c}
    groups: dict[str, set[int]] = {}
    for i, cr in enumerate(rules):
        if cr.rule.stacking:
            groups.setdefault(cr.rule.stacking.group, set()).add(where[i])
    assert all(len(at) == 1 for at in groups.values())  # rivals in one query
    for c in out:  # more rules than CHUNK_RULES: one stacking group of that many, alone
        assert len(c) <= CHUNK_RULES or (
            len({_key(rules[i]) for i in c}) == 1 and _key(rules[c[0]]).startswith("group:")
        )
    return out


def test_the_whole_pack_and_one_document_fill_their_queries():
    """The whole pack's 449 rules in 19 queries (at least 18 of 25), 《焦作市科技创新奖励资金
    管理暂行办法》's 45 in 2: a piece goes into the first query with room, so its one rule of
    a group of its own no longer makes a query of its own (it did: 1 + 25 + 19)."""
    every = list(pack().compiled)
    assert len(_check(every)) == 19
    kjjl = [cr for cr in every if cr.rule.doc_title == KJJL]
    assert sorted(len(c) for c in _check(kjjl)) == [20, 25]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 448), min_size=1, max_size=120, unique=True))
def test_any_choice_of_rules_is_cut_by_the_same_rules(picked):
    every = list(pack().compiled)
    _check([every[i] for i in sorted(picked)])
