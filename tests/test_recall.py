"""Results kept between matches (engine/recall.py): a match that reuses what an earlier one
kept must give exactly what evaluating every rule afresh gives, and a rule's key must cover
every fact its evaluation can read."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.engine.match import NOT_ELIGIBLE, evaluate_profile, evaluate_rule
from huiqi.engine.profile import validate_profile
from huiqi.engine.recall import Recall, recall, rule_reads
from huiqi.lang.expr import names_read
from huiqi.packs.loader import bundled_pack

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))
PROFILES = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in EXAMPLES}
FIXED = ("applicant", "label", "as_of")


@pytest.fixture(scope="module")
def pack():
    return bundled_pack()


def _profile(pack, data: dict):
    return validate_profile(data, pack.variables, set(pack.by_id), pack.entities)


def _full(report) -> str:
    """Everything a report says, trace included, as text to compare."""
    return json.dumps(report.to_dict(trace=True), ensure_ascii=False, default=str)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(PROFILES)),
    dropped=st.sets(st.integers(min_value=0, max_value=60), max_size=15),
    year=st.sampled_from([2017, 2019, 2021, 2024]),
    month=st.sampled_from([1, 3, 7, 12]),
)
def test_a_match_from_kept_results_equals_a_fresh_one(
    name: str, dropped: set[int], year: int, month: int
) -> None:
    """Drop some facts of an example and move the date: the report of a match that reuses
    kept results (evaluated twice, the second time every rule is found kept) equals the
    report with every rule evaluated afresh, trace, gaps and stacking included."""
    pack = bundled_pack()
    data = dict(PROFILES[name])
    facts = sorted(k for k in data if k not in FIXED)
    for k, key in enumerate(facts):
        if k in dropped:
            data.pop(key)
    when = date(year, month, 1)
    fresh = _full(evaluate_profile(pack, _profile(pack, data), when, remember=False))
    first = evaluate_profile(pack, _profile(pack, data), when, remember=True)
    again = evaluate_profile(pack, _profile(pack, data), when, remember=True)
    assert _full(first) == _full(again) == fresh
    # the second match found every rule it evaluated kept
    assert all(r._kept is not None for r in again.results if r.status != NOT_ELIGIBLE)


def _data(r) -> str:
    """What a result says before stacking: status, amounts, missing inputs, reason, stacking
    key, arithmetic, and its trace and gaps."""
    fields = (r.status, r.amount, r.amount_min, r.amount_max, r.gross, r.missing, r.key)
    reason = r.reason.to_dict() if r.reason else None
    steps = [s.to_dict() for s in r.steps]
    return json.dumps([fields, reason, steps, r.trace, r.gaps], default=str, ensure_ascii=False)


def test_a_rules_key_covers_every_fact_it_reads(pack) -> None:
    """Evaluated with only the facts its key names, each rule gives what it gives with all
    of them: a fact read but missing from the key would make two applicants who differ in
    it share a result."""
    checked = 0
    for name, data in PROFILES.items():
        profile = _profile(pack, data)
        when = profile.as_of or date(2019, 3, 1)
        for cr in pack.compiled:
            reads = set(rule_reads(cr, pack.program))
            narrow = {k: v for k, v in profile.facts.items() if k in reads}
            whole = evaluate_rule(cr, pack.new_ctx(profile.facts, when), pack)
            alone = evaluate_rule(cr, pack.new_ctx(narrow, when), pack)
            assert _data(alone) == _data(whole), (name, cr.rule.id)
            checked += len(narrow) < len(profile.facts)
    assert checked > 4000  # rules that read fewer facts than the profile gives


def test_derived_variables_are_read_through(pack) -> None:
    """A rule that reads a derived variable is keyed by the facts that variable reads."""
    program = pack.program
    some = [
        cr
        for cr in pack.compiled
        if any(n in program.derived_names for node, _ in cr.parts for n in names_read(node))
    ]
    assert some
    for cr in some:
        reads = set(rule_reads(cr, program))
        assert reads and not reads & program.derived_names


def test_memory_stays_bounded_and_results_stay_right(pack, monkeypatch) -> None:
    """With room for 3 results per rule and 40 fact values, 30 distinct applicants: no rule
    keeps more than 3, the token table starts afresh many times, and every report still
    equals the fresh one (a token is never reused for another value)."""
    import huiqi.engine.recall as recall_module

    monkeypatch.setattr(recall_module, "PER_RULE", 3)
    monkeypatch.setattr(recall_module, "TOKENS", 40)
    monkeypatch.setitem(pack.memo, Recall, Recall(pack))
    names = sorted(PROFILES)
    for k in range(30):
        data = dict(PROFILES[names[k % len(names)]])
        facts = sorted(f for f in data if f not in FIXED)
        data.pop(facts[k % len(facts)])
        when = date(2018 + k % 5, 3, 1)
        kept = evaluate_profile(pack, _profile(pack, data), when, remember=True)
        fresh = evaluate_profile(pack, _profile(pack, data), when, remember=False)
        assert _full(kept) == _full(fresh), k
    held = recall(pack).held
    assert max(len(h) for h in held) == 3
    assert len(recall(pack)._tokens) <= 40
