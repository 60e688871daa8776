"""Benchmark of the rules engine: one profile against all rules (p50, p99) and 10,000 profiles,
for the real Jiaozuo pack and for a synthetic pack of ~200 rules (the real rules replicated
under new ids). Run: `uv run python bench/bench_engine.py [--profiles N]`.

Timings are of `evaluate_profile` (every rule: validity, exclusions, traced condition, amount,
then stacking) on validated profiles; profile validation and JSON rendering (trace, gaps) are
reported separately. No assertion on time is made anywhere in the tests.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace
from datetime import date, timedelta

from rich.console import Console
from rich.table import Table

from huiqi.engine.match import evaluate_profile
from huiqi.engine.profile import validate_profile
from huiqi.packs.loader import CompiledRule, Pack, bundled_pack
from huiqi.packs.variables import FieldSpec


def synthetic(pack: Pack, target: int = 200) -> Pack:
    """The pack's rules replicated under new ids until there are `target` rules."""
    compiled: list[CompiledRule] = []
    copy = 0
    while len(compiled) < target:
        for cr in pack.compiled:
            if len(compiled) == target:
                break
            rule = cr.rule if copy == 0 else replace(cr.rule, id=f"{cr.rule.id}_x{copy}")
            compiled.append(replace(cr, rule=rule, index=len(compiled)))
        copy += 1
    return replace(
        pack,
        rules=[c.rule for c in compiled],
        compiled=compiled,
        by_id={c.rule.id: c for c in compiled},
    )


def _scalar(spec: FieldSpec, rng: random.Random):
    t = spec.type
    if t == "bool":
        return rng.random() < 0.7
    if t == "year":
        return rng.choice([2015, 2016, 2017, 2017, 2017])
    if t == "integer":
        low = int(spec.min or 0)
        return rng.randint(low, int(spec.max) if spec.max is not None else max(low, 200))
    if t == "money":
        high = int(spec.max) if spec.max is not None else 50_000_000
        return rng.choice([0, rng.randint(0, high)])
    if t == "ratio":
        return rng.random()
    if t == "enum":
        return rng.choice(spec.values)
    if t == "date":
        return date(2016, 1, 1) + timedelta(days=rng.randint(0, 3 * 365))
    raise AssertionError(t)


def random_profile(pack: Pack, rng: random.Random) -> dict:
    out = {}
    for name, var in pack.variables.items():
        if var.derived or rng.random() < 0.25:  # about a quarter of facts unknown
            continue
        if var.type == "events":
            out[name] = [
                {f: _scalar(s, rng) for f, s in var.fields.items()}
                for _ in range(rng.randint(0, 4))
            ]
        else:
            out[name] = _scalar(var.spec, rng)
    return out


def measure(pack: Pack, profiles: list, as_of: date, repeat_one: int = 2000) -> dict:
    # one profile against all rules, many times
    one = profiles[0]
    samples = []
    for _ in range(repeat_one):
        t0 = time.perf_counter()
        evaluate_profile(pack, one, as_of)
        samples.append(time.perf_counter() - t0)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    # many profiles, each timed
    each = []
    t0 = time.perf_counter()
    for prof in profiles:
        t1 = time.perf_counter()
        evaluate_profile(pack, prof, as_of)
        each.append(time.perf_counter() - t1)
    many = time.perf_counter() - t0
    each.sort()
    return {
        "p50": p50,
        "p99": p99,
        "many": many,
        "all_p50": statistics.median(each),
        "all_p99": each[int(len(each) * 0.99) - 1],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", type=int, default=10_000)
    args = ap.parse_args()
    rng = random.Random(20180201)
    as_of = date(2018, 2, 1)
    real = bundled_pack("jiaozuo")
    big = synthetic(real, 200)
    raw = [random_profile(real, rng) for _ in range(args.profiles)]

    t0 = time.perf_counter()
    profiles = [validate_profile(p, real.variables, set(real.by_id)) for p in raw]
    validate_s = time.perf_counter() - t0

    table = Table(title=f"规则引擎基准（{args.profiles} 个随机画像，as_of {as_of}）")
    for col in (
        "政策包",
        "规则数",
        "同一画像 p50",
        "同一画像 p99",
        "各画像 p50",
        "各画像 p99",
        f"{args.profiles} 个画像",
    ):
        table.add_column(col, justify="right")
    for label, pack in (("jiaozuo", real), ("synthetic", big)):
        m = measure(pack, profiles, as_of)
        table.add_row(
            label,
            str(len(pack.rules)),
            f"{m['p50'] * 1e3:.3f} ms",
            f"{m['p99'] * 1e3:.3f} ms",
            f"{m['all_p50'] * 1e3:.3f} ms",
            f"{m['all_p99'] * 1e3:.3f} ms",
            f"{m['many']:.2f} s",
        )
    Console().print(table)

    t0 = time.perf_counter()
    for prof in profiles[:1000]:
        evaluate_profile(real, prof, as_of).to_dict()
    render = (time.perf_counter() - t0) / 1000
    print(
        f"画像校验：{validate_s / len(profiles) * 1e3:.3f} ms/画像；"
        f"评估并生成完整 JSON（含 trace、gap）：{render * 1e3:.3f} ms/画像（真实包）"
    )


if __name__ == "__main__":
    main()
