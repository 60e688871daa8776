"""Differential tests: the DuckDB back end against the scalar evaluator, rule by rule, on
synthetic registries (the seeded generator) and on profiles drawn by hypothesis."""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.batch.compile import RID, RuleCompileError, compile_rules, schema
from huiqi.batch.runner import RESULT, connect, evaluate
from huiqi.batch.synthetic import DENSE, HOLDERS, generate, profiles
from huiqi.batch.tables import write_tables
from huiqi.engine.match import evaluate_profile
from huiqi.engine.profile import Profile
from huiqi.packs.loader import bundled_pack
from huiqi.packs.variables import FieldSpec

PACK = "jiaozuo"
KJJL = "焦作市科技创新奖励资金管理暂行办法"


@cache
def pack():
    return bundled_pack(PACK)


def kjjl_rules():
    return [cr for cr in pack().compiled if cr.rule.doc_title == KJJL]


def disagreements(con, rules, records, as_of, p=None) -> list[tuple]:
    """(rule, enterprise, sql, scalar) for every rule result where the back ends differ."""
    rows = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            f"SELECT {RID}, rule_idx, status, amount, amount_min, amount_max FROM {RESULT}"
        ).fetchall()
    }
    p = p or pack()
    chosen = {cr.rule.id for cr in rules}
    out = []
    for rec in records:
        received = rec.get("received") or []
        report = evaluate_profile(
            p, Profile(rec["facts"], received, applicant=rec["applicant"]), as_of
        )
        mine = [r for r in report.results if r.rule.id in chosen]
        if len(mine) != len(p.compiled):  # stacking among the chosen rules only
            mine = _restack(mine, rec, as_of, p)
        for idx, r in enumerate(mine):
            want = (r.status, r.amount, r.amount_min, r.amount_max)
            got = rows[(rec[RID], idx)]
            if tuple(got) != want:
                out.append((r.rule.id, rec[RID], tuple(got), want))
    return out


def _restack(results, rec, as_of, p):
    """Re-evaluate the chosen rules without the others, so stacking sees the same rivals."""
    from huiqi.engine.match import evaluate_rule
    from huiqi.engine.stacking import apply_stacking

    ctx = p.new_ctx(rec["facts"], as_of)
    fresh = [evaluate_rule(p.by_id[r.rule.id], ctx) for r in results]
    for f, r in zip(fresh, results, strict=True):
        if r.status != f.status:  # a gate (applicant, jurisdiction) decided it
            f.status, f.amount, f.amount_min, f.amount_max = (
                r.status,
                None,
                None,
                None,
            )
    apply_stacking(fresh, rec.get("received") or [], p)
    return fresh


@pytest.mark.parametrize(
    ("as_of", "seed"), [(date(2019, 3, 1), 11), (date(2021, 6, 30), 12)], ids=["2019", "2021"]
)
def test_every_rule_agrees_on_synthetic_registry(as_of, seed):
    con = connect()
    generate(con, pack(), 250, seed=seed, as_of=as_of, holders=DENSE)
    evaluate(con, pack(), as_of)
    records = profiles(con, pack())
    assert len(records) == 250
    statuses = {r[0] for r in con.execute(f"SELECT DISTINCT status FROM {RESULT}").fetchall()}
    assert {"eligible", "not_eligible", "undetermined", "not_in_force"} <= statuses
    assert disagreements(con, pack().compiled, records, as_of) == []


def test_benefits_already_received_agree():
    """Benefits already paid (`received_benefits`) in the stacking groups, compiled into the
    query: 只能享受一次 sets the winner aside, 补差 / 就高 pay what is left, keys match as in
    `apply_stacking` (no key: any; a group keyed by the achievement year: the year before it
    was received). Every enterprise of a synthetic registry gets a few, drawn with a seed."""
    import random

    as_of = date(2019, 3, 1)
    con = connect()
    generate(con, pack(), 300, seed=31, as_of=as_of, holders=DENSE)
    records = profiles(con, pack())
    stacked = [cr.rule for cr in pack().compiled if cr.rule.stacking is not None]
    rng = random.Random(31)
    for rec in records:
        # in groups where the enterprise has an eligible rule (found without them), so that
        # they matter: an amount below or above it, the rule's own key, no key, another key
        profile = Profile(rec["facts"], [], applicant=rec["applicant"])
        hits = [
            r
            for r in evaluate_profile(pack(), profile, as_of).results
            if r.status == "eligible" and r.rule.stacking is not None
        ]
        rec["received"] = [
            {
                "rule": rng.choice(
                    [o.id for o in stacked if o.stacking.group == r.rule.stacking.group]
                ),
                "amount": (
                    (r.gross or Decimal(100_000)) * Decimal(rng.choice([0.3, 1, 2]))
                ).quantize(Decimal("0.01")),
                "year": rng.choice([None, as_of.year - 1, as_of.year]),
                "key": rng.choice([None, None, None if r.key is None else str(r.key), "其他"]),
            }
            for r in hits
            if rng.random() < 0.8
        ] + [
            {"rule": rule.id, "amount": Decimal(50_000), "year": as_of.year, "key": None}
            for rule in rng.sample(stacked, rng.choice([0, 1]))
        ]
    assert sum(len(r["received"]) for r in records) > 100
    write_tables(con, schema(pack()), records)
    evaluate(con, pack(), as_of, batch=compile_rules(pack(), as_of, received=True))
    assert disagreements(con, pack().compiled, records, as_of) == []
    # the received benefits changed outcomes: set aside by them, or topped up
    aside = con.execute(f"SELECT count(*) FROM {RESULT} WHERE set_aside").fetchall()[0][0]
    topped = con.execute(
        f"SELECT count(*) FROM {RESULT} WHERE amount < amount_gross AND amount > 0"
    ).fetchall()[0][0]
    assert aside > 0 and topped > 0
    # the forecast of the queries that read only the enterprises with events (or an unknown
    # list) is the one grouped from every enterprise's rows, received benefits included
    from huiqi.batch.report import label_tables
    from huiqi.batch.runner import FORECAST, forecast

    batch = compile_rules(pack(), as_of, received=True)
    assert any(batch.restrictions)
    rids, places = zip(
        *[(r[RID], r["facts"].get("registered_place")) for r in records], strict=True
    )
    label_tables(con, batch.rules, [f"E{r}" for r in rids], pack(), list(places), list(rids))
    forecast(con)
    cols = "place, rule_idx, status, fact, n, amount, amount_min, amount_max"
    grouped = set(con.execute(f"SELECT {cols} FROM {FORECAST}").fetchall())
    con.execute(f"DROP TABLE {FORECAST}")
    evaluate(con, pack(), as_of, batch=batch, store=False)
    assert set(con.execute(f"SELECT {cols} FROM {FORECAST}").fetchall()) == grouped


def test_stacking_keys_compared_per_enterprise(tmp_path):
    """Rivals whose keys differ per enterprise: the provincial contest awards keyed on where
    the enterprise is registered, the national ones on two different constants. The compiler
    compares keys in SQL only where it cannot decide them (the bundled pack's groups all can:
    the same key expression, or two literals); here rivals with different keys are both paid."""
    from conftest import copy_policies

    from huiqi.packs.loader import load_pack

    root = copy_policies(tmp_path) / "jiaozuo"
    path = root / "rules" / "kjjl.yaml"
    text = path.read_text(encoding="utf-8")
    national = "stacking: &contest_stack {group: contest, policy: highest, key: last_year,"
    assert national in text
    text = text.replace(national, national.replace("key: last_year", "key: '\"焦作市\"'"))
    head, tail = text.split("  - id: jz.kjjl.contest_prov_1st", 1)
    # national 3rd prize and merit award: another constant key than national 1st and 2nd
    start, national_rest = head.split("  - id: jz.kjjl.contest_national_3rd", 1)
    assert national_rest.count("stacking: *contest_stack") == 2
    national_rest = national_rest.replace(
        "stacking: *contest_stack", "stacking: {group: contest, policy: highest, key: '\"另一届\"'}"
    )
    head = start + "  - id: jz.kjjl.contest_national_3rd" + national_rest
    assert tail.count("stacking: *contest_stack") == 4
    tail = tail.replace(
        "stacking: *contest_stack",
        "stacking: {group: contest, policy: highest, key: registered_place}",
    )
    path.write_text(head + "  - id: jz.kjjl.contest_prov_1st" + tail, encoding="utf-8")
    p = load_pack(root)
    as_of = date(2019, 3, 1)
    rules = [cr for cr in p.compiled if cr.rule.doc_title == KJJL]
    batch = compile_rules(p, as_of, rules=rules)
    assert any('"kk_' in w and '" = "kk_' in w for w in batch.wide_sqls)
    con = connect()
    generate(con, p, 3000, seed=5, as_of=as_of, holders=DENSE)
    evaluate(con, p, as_of, rules, batch)
    records = profiles(con, p)
    assert disagreements(con, rules, records, as_of, p) == []
    contest = [i for i, cr in enumerate(rules) if cr.rule.id.startswith("jz.kjjl.contest_")]
    marks = ", ".join(map(str, contest))
    paid_twice, aside = con.execute(
        f"SELECT count(*) FILTER (WHERE k > 1), sum(a) FROM (SELECT count(*) FILTER (WHERE "
        f"status = 'eligible' AND NOT set_aside) AS k, count(*) FILTER (WHERE set_aside) AS a "
        f"FROM {RESULT} WHERE rule_idx IN ({marks}) GROUP BY {RID})"
    ).fetchone()
    assert paid_twice > 0 and aside > 0  # different keys both paid; same keys set aside


# --- hypothesis: profiles drawn from the pack's metadata, on the rules of one document -----


def _value(spec: FieldSpec, as_of: date):
    low, high = spec.bounds()
    if spec.type == "bool":
        return st.booleans()
    if spec.type == "enum":
        return st.sampled_from(spec.values)
    if spec.type == "money":
        lo = int(low or 0)
        hi = int(min(high, 10**10)) if high is not None else 10**10
        return st.integers(lo, hi).map(Decimal) | st.integers(lo * 100, hi * 100).map(
            lambda c: Decimal(c) / 100
        )
    if spec.type == "ratio":
        return st.integers(int((low or 0) * 10000), int((high or 1) * 10000)).map(
            lambda v: Decimal(v) / 10000
        )
    if spec.type == "year":
        return st.integers(max(int(low), as_of.year - 12), min(int(high), as_of.year + 1))
    if spec.type == "integer":
        lo = int(low) if low is not None else 0
        hi = int(high) if high is not None else lo + 300
        return st.integers(lo, min(hi, lo + 300))
    if spec.type == "date":
        return st.dates(as_of - timedelta(days=4000), as_of + timedelta(days=30))
    raise AssertionError(spec.type)


def _record(names: list[str], as_of: date):
    p = pack()
    parts = {}
    for name in names:
        var = p.variables[name]
        if var.type == "events":
            required = {f: _value(s, as_of) for f, s in var.fields.items() if not s.optional}
            optional = {f: _value(s, as_of) for f, s in var.fields.items() if s.optional}
            event = st.fixed_dictionaries(required, optional=optional)
            parts[name] = st.none() | st.lists(event, max_size=3)
        else:
            parts[name] = st.none() | _value(var.spec, as_of)
    applicant = st.none() | st.sampled_from(sorted(p.entities))
    return st.fixed_dictionaries({"facts": st.fixed_dictionaries(parts), "applicant": applicant})


def _inputs_read(rules) -> list[str]:
    from huiqi.batch.compile import _Builder

    b = _Builder(pack(), date(2019, 3, 1), "duckdb")
    names: dict[str, None] = {}
    for cr in rules:
        for node in [*(n for n, _ in cr.parts), *cr.amount_nodes.values(), *cr.exclusion_nodes]:
            names.update(dict.fromkeys(n for n in b.inputs_of(node) if ":" not in n))
        if cr.key_node is not None:
            names.update(dict.fromkeys(n for n in b.inputs_of(cr.key_node) if ":" not in n))
    names["registered_place" if "registered_place" in pack().variables else ""] = None
    return [n for n in names if n in pack().variables]


KJJL_AS_OF = date(2019, 3, 1)


@cache
def kjjl_batch():
    return compile_rules(pack(), KJJL_AS_OF, "duckdb", kjjl_rules())


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(st.lists(_record(_inputs_read(kjjl_rules()), KJJL_AS_OF), min_size=1, max_size=25))
def test_document_rules_agree_on_drawn_profiles(drawn):
    records = []
    for i, rec in enumerate(drawn):
        facts = {k: v for k, v in rec["facts"].items() if v is not None}
        records.append({RID: i, "applicant": rec["applicant"], "facts": facts})
    con = connect()
    write_tables(con, schema(pack()), records)
    evaluate(con, pack(), KJJL_AS_OF, kjjl_rules(), kjjl_batch())
    assert disagreements(con, kjjl_rules(), records, KJJL_AS_OF) == []


def test_every_rule_compiles():
    batch = compile_rules(pack(), date(2020, 1, 1))
    assert [r.rule_id for r in batch.rules] == [cr.rule.id for cr in pack().compiled]


def test_uncompilable_rule_is_an_error_naming_it():
    from dataclasses import replace

    from huiqi.lang.expr import Aggregate, Field

    cr = pack().compiled[0]
    source = next(n for n, v in pack().variables.items() if v.type == "events")
    field = next(iter(pack().variables[source].fields))
    # an aggregate nested inside another one's `where` has no SQL translation here
    bad = Aggregate("any", source, None, Aggregate("any", source, None, Field(source, field, 1)))
    broken = replace(cr, parts=[(bad, "nested")])
    with pytest.raises(RuleCompileError, match=cr.rule.id):
        compile_rules(pack(), date(2020, 1, 1), rules=[broken])


# --- the synthetic registry generator ----------------------------------------------------------


def _tables(con, sch, below: int) -> dict[str, list[tuple]]:
    names = ["registry", *(f"ev__{e}" for e in sch.events)]
    return {
        t: con.execute(f'SELECT * FROM "{t}" WHERE {RID} < ? ORDER BY ALL', [below]).fetchall()
        for t in names
    }


def test_synthetic_registry_is_seeded_prefix_stable_and_a_quarter_unknown():
    as_of = date(2019, 3, 1)
    small, large, other = connect(), connect(), connect()
    sch = generate(small, pack(), 300, seed=5, as_of=as_of, holders=DENSE)
    generate(large, pack(), 1200, seed=5, as_of=as_of, holders=DENSE)
    generate(other, pack(), 300, seed=6, as_of=as_of, holders=DENSE)
    # each value is a function of (seed, enterprise, variable): more rows change no earlier row
    assert _tables(small, sch, 300) == _tables(large, sch, 300)
    assert _tables(small, sch, 300)["registry"] != _tables(other, sch, 300)["registry"]

    # about a quarter of the facts unknown (1200 × ~260 cells: the share is within ±2 points)
    nulls = " + ".join(f'count(*) - count("{c}")' for c in sch.inputs)
    unknown = large.execute(f"SELECT ({nulls}) / (count(*) * {len(sch.inputs)}) FROM registry")
    assert 0.23 < unknown.fetchone()[0] < 0.27
    # event lists: unknown for about a quarter, 0–3 events (1.5 on average) when known
    for name in ("annual_results", "certifications"):
        known, events = large.execute(
            f'SELECT count("{name}"), (SELECT count(*) FROM "ev__{name}") FROM registry'
        ).fetchone()
        assert 0.70 < known / 1200 < 0.80
        assert 1.3 < events / known < 1.7
        per = large.execute(
            f'SELECT max(n) FROM (SELECT count(*) n FROM "ev__{name}" GROUP BY {RID})'
        )
        assert per.fetchone()[0] <= 3


def test_synthetic_event_lists_are_held_by_the_holders_share():
    """By default few enterprises hold events of a list (HOLDERS of the known lists draw 0–3
    events); DENSE draws the same events as the generator
    before the share, the default a subset of them; 0 draws none."""
    as_of = date(2019, 3, 1)
    dense, some, none = connect(), connect(), connect()
    sch = generate(dense, pack(), 4000, seed=5, as_of=as_of, holders=DENSE)
    generate(some, pack(), 4000, seed=5, as_of=as_of)
    generate(none, pack(), 4000, seed=5, as_of=as_of, holders=0)
    for name in ("certifications", "science_awards"):
        held = f'SELECT count(DISTINCT {RID}) FROM "ev__{name}"'
        known = dense.execute(f'SELECT count("{name}") FROM registry').fetchone()[0]
        # of ~3,000 known lists, 3/4 of the holders draw 1-3 events: 75% when dense, 7.5% by
        # default (±2 points: 4 standard deviations of the default's share)
        assert abs(dense.execute(held).fetchone()[0] / known - 0.75) < 0.05
        assert abs(some.execute(held).fetchone()[0] / known - 0.75 * HOLDERS) < 0.02
        assert none.execute(held).fetchone()[0] == 0
        # the same registry: the share changes which enterprises hold events, nothing else
        rows = f'SELECT * FROM "ev__{name}" ORDER BY ALL'
        assert set(some.execute(rows).fetchall()) <= set(dense.execute(rows).fetchall())
    reg = "SELECT * FROM registry ORDER BY _rid"
    assert some.execute(reg).fetchall() == dense.execute(reg).fetchall()
    assert sch.events
    with pytest.raises(ValueError, match="holders"):
        generate(connect(), pack(), 10, holders=1.5)


def test_compiled_sql_does_not_depend_on_the_hash_seed():
    """The same pack and date compile to the same SQL in every process: the order of the
    names in `missing` once followed a set's order, which Python's hash seed changes."""
    import subprocess
    import sys

    script = (
        "import hashlib; from datetime import date;"
        "from huiqi.batch.compile import compile_rules;"
        "from huiqi.packs.loader import bundled_pack;"
        "b = compile_rules(bundled_pack('jiaozuo'), date(2019, 3, 1));"
        "print(hashlib.sha256('\\n'.join(b.sqls + b.forecast_sqls).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
