"""How the rules are cut into queries (`compile.chunks`): every rule once, a stacking group
whole, at most CHUNK_RULES rules a query unless one group is larger, the rules that need
events of one list (`sparse.needs_events`) in queries of that list alone, and a document's
rules for one kind of applicant only in queries of rules for that kind alone."""

from __future__ import annotations

from batch_helpers import AS_OF, KJJL, pack
from hypothesis import given, settings
from hypothesis import strategies as st

from huiqi.batch.compile import CHUNK_RULES, chunks, restriction
from huiqi.batch.sparse import needs_events


def _key(cr) -> str:
    return f"group:{cr.rule.stacking.group}" if cr.rule.stacking else f"doc:{cr.rule.doc}"


def _check(rules, lists: dict[int, str] | None = None) -> list[list[int]]:
    out = chunks(rules, lists)
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
    for c in out:  # a query of a list: only rules that need it; else none of them
        name = restriction(c, lists or {})
        assert all((lists or {}).get(i) == name for i in c)
    # the rules of a document (outside stacking groups) that are all for one kind of
    # applicant: in queries whose rules are all for that kind
    docs: dict[tuple, set[str]] = {}
    for i, cr in enumerate(rules):
        if not cr.rule.stacking:
            docs.setdefault((cr.rule.doc, (lists or {}).get(i)), set()).update(cr.rule.beneficiary)
    for i, cr in enumerate(rules):
        kinds = docs.get((cr.rule.doc, (lists or {}).get(i)), set())
        if not cr.rule.stacking and len(kinds) == 1:
            assert {b for j in out[where[i]] for b in rules[j].rule.beneficiary} == kinds
    return out


def test_the_whole_pack_and_one_document_fill_their_queries():
    """The whole pack's 449 rules in 21 queries, 《焦作市科技创新奖励资金管理暂行办法》's 45
    in 3: a piece goes into the first query of its kind of applicant with room, so its one
    rule of a group of its own no longer makes a query of its own (it did: 1 + 25 + 19).
    Its stacking groups of rules for enterprises alone (9 rules) are a query apart."""
    every = list(pack().compiled)
    out = _check(every)
    assert len(out) == 21
    kjjl = [cr for cr in every if cr.rule.doc_title == KJJL]
    out = _check(kjjl)
    assert sorted(len(c) for c in out) == [9, 11, 25]
    assert [len(c) for c in out if all(kjjl[i].rule.beneficiary == ("enterprise",) for i in c)] == [
        9
    ]


def test_rules_that_need_events_get_queries_of_their_list():
    """The whole pack in 32 queries, 19 of them of one event list; the document's 45 rules in
    6: its 35 rules that need a certification, a contest award, a platform, a service
    recognition or a science award in one query per list, and the other 10 together."""
    every = list(pack().compiled)
    lists = needs_events(pack(), AS_OF, every)
    out = _check(every, lists)
    assert (len(out), sum(restriction(c, lists) is not None for c in out)) == (32, 19)
    kjjl = [cr for cr in every if cr.rule.doc_title == KJJL]
    lists = needs_events(pack(), AS_OF, kjjl)
    assert sorted((len(c), restriction(c, lists) or "") for c in _check(kjjl, lists)) == [
        (3, "service_recognitions"),
        (5, "platform_recognitions"),
        (7, "certifications"),
        (8, "contest_awards"),
        (10, ""),
        (12, "science_awards"),
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 448), min_size=1, max_size=120, unique=True), st.booleans())
def test_any_choice_of_rules_is_cut_by_the_same_rules(picked, sparse):
    every = list(pack().compiled)
    chosen = [every[i] for i in sorted(picked)]
    _check(chosen, needs_events(pack(), AS_OF, chosen) if sparse else None)
