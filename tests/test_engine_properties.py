"""Property tests: random profiles never crash evaluation; adding a fact never turns an eligible
rule undetermined; an undetermined rule is decided once all its missing inputs are given."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from huiqi.engine.match import ELIGIBLE, UNDETERMINED, evaluate_rule, match
from huiqi.engine.profile import validate_profile
from huiqi.packs.loader import bundled_pack
from huiqi.packs.variables import FieldSpec, Variable

PACK = bundled_pack("jiaozuo")
INPUTS = {n: v for n, v in PACK.variables.items() if not v.derived}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scalar(spec: FieldSpec) -> st.SearchStrategy:
    t = spec.type
    if t == "bool":
        return st.booleans()
    if t == "year":
        return st.integers(2010, 2022)
    if t == "integer":
        low = int(spec.min) if spec.min is not None else 0
        high = int(spec.max) if spec.max is not None else low + 300
        return st.integers(low, high)
    if t == "money":
        if spec.max is not None:
            return st.integers(int(spec.min or 0), int(spec.max))
        return st.one_of(st.integers(0, 2_000_000_000), st.sampled_from(["0", "300万", "1.5亿"]))
    if t == "ratio":
        return st.sampled_from([0, 0.05, 0.1, "15%", 1])
    if t == "date":
        return st.dates(date(2010, 1, 1), date(2025, 12, 31))
    if t == "enum":
        return st.sampled_from(list(spec.values))
    raise AssertionError(t)


def value(var: Variable, complete: bool = False) -> st.SearchStrategy:
    if var.type != "events":
        assert var.spec is not None
        return scalar(var.spec)
    fields = {}
    optional = {}
    for name, spec in var.fields.items():
        (optional if spec.optional and not complete else fields)[name] = scalar(spec)
    return st.lists(st.fixed_dictionaries(fields, optional=optional), max_size=4)


def profiles(complete: bool = False) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={n: value(v, complete) for n, v in INPUTS.items()})


as_of_dates = st.dates(date(2016, 1, 1), date(2023, 12, 31))


@SETTINGS
@given(profile=profiles(), as_of=as_of_dates)
def test_random_profiles_never_crash(profile, as_of):
    report = match(profile, as_of, PACK)
    assert len(report.results) == len(PACK.rules)
    report.to_dict()  # traces, gaps and JSON rendering must not crash either


@SETTINGS
@given(data=st.data(), profile=profiles(), as_of=as_of_dates)
def test_adding_a_fact_never_makes_an_eligible_rule_undetermined(data, profile, as_of):
    absent = [n for n in INPUTS if n not in profile]
    assume(absent)
    before = {r.rule.id: r.status for r in match(profile, as_of, PACK).results}
    name = data.draw(st.sampled_from(absent))
    bigger = {**profile, name: data.draw(value(INPUTS[name]))}
    after = {r.rule.id: r.status for r in match(bigger, as_of, PACK).results}
    for rid, status in before.items():
        if status == ELIGIBLE:
            assert after[rid] != UNDETERMINED, (rid, name)


@SETTINGS
@given(data=st.data(), profile=profiles(), as_of=as_of_dates)
def test_undetermined_rules_are_decided_once_missing_inputs_are_given(data, profile, as_of):
    # The condition's inputs are asked first; a rule whose amount reads further inputs asks
    # for those once the condition is decided. Each round must ask only for new inputs, and
    # the rule must be decided once everything it asked for is given.
    # The answers are drawn once per example and shared by the rules that ask for the same
    # input (drawing them anew for each of ~400 rules made this test take minutes); each rule
    # still gets exactly what it asked for, round by round.
    answers: dict[tuple, object] = {}
    contexts: dict[frozenset, object] = {}

    def answer(base: str, field: str = "", event: int = 0):
        key = (base, field, event)
        if key not in answers:
            var = INPUTS[base]
            answers[key] = data.draw(
                scalar(var.fields[field]) if field else value(var, complete=True)
            )
        return answers[key]

    report = match(profile, as_of, PACK)
    for r in report.results:
        if r.status != UNDETERMINED:
            continue
        filled, given, current = dict(profile), set(), r
        for _ in range(4):
            asked = set(current.missing)
            assert asked and not asked & given, (r.rule.id, asked, given)
            for missing in current.missing:
                base, _, field = missing.partition(".")
                if field:  # an optional event field left out: give it on every event
                    filled[base] = [
                        {
                            **ev,
                            field: ev[field] if field in ev else answer(base, field, i),
                        }
                        for i, ev in enumerate(filled[base])
                    ]
                else:
                    filled[base] = answer(base)
            given |= asked
            # `filled` is a function of `given` (the answers are shared), so is its context
            key = frozenset(given)
            if key not in contexts:
                prof = validate_profile(filled, PACK.variables, set(PACK.by_id), PACK.entities)
                contexts[key] = PACK.new_ctx(prof.facts, as_of)
            current = evaluate_rule(PACK.by_id[r.rule.id], contexts[key])
            if current.status != UNDETERMINED:
                break
        assert current.status != UNDETERMINED, (r.rule.id, given, current.missing)
