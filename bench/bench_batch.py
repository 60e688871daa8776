"""Benchmark of `huiqi batch`: DuckDB over 10k / 100k / 1M synthetic enterprises against
(a) the rules of 《焦作市科技创新奖励资金管理暂行办法》 (rules/kjjl.yaml) and (b) the whole
jiaozuo pack; the scalar loop on 10k enterprises is the baseline, measured in the same run.

Each case runs in its own process so that its peak memory (max RSS) is its own. Timed: the
evaluation (the wide table, then the long result with stacking streamed into counts and totals
per rule and status: the budget forecast; the 449M-row long table of the whole pack at 1M is
not stored), after the synthetic registry is built; compile time is reported separately.

    uv run python bench/bench_batch.py [--sizes 10000,100000,1000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date

AS_OF = date(2019, 3, 1)
PACK = "jiaozuo"
KJJL = "焦作市科技创新奖励资金管理暂行办法"


def _rules(scope: str):
    from huiqi.packs.loader import bundled_pack

    pack = bundled_pack(PACK)
    if scope == "kjjl":
        return pack, [cr for cr in pack.compiled if cr.rule.doc_title == KJJL]
    return pack, list(pack.compiled)


def run_duckdb(scope: str, n: int, threads: int) -> dict:
    from huiqi.batch.compile import compile_rules
    from huiqi.batch.runner import SUMMARY, connect, evaluate
    from huiqi.batch.synthetic import generate

    pack, rules = _rules(scope)
    con = connect(threads)
    t0 = time.perf_counter()
    generate(con, pack, n, seed=7, as_of=AS_OF)
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    batch = compile_rules(pack, AS_OF, "duckdb", rules)
    comp = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate(con, pack, AS_OF, rules, batch, store=False)
    elapsed = time.perf_counter() - t0
    rows = con.execute(f"SELECT sum(n) FROM {SUMMARY}").fetchone()[0]
    return {
        "engine": "duckdb",
        "scope": scope,
        "rules": len(rules),
        "enterprises": n,
        "result_rows": rows,
        "generate_s": round(gen, 3),
        "compile_s": round(comp, 3),
        "seconds": round(elapsed, 3),
        "enterprises_per_s": round(n / elapsed),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def run_scalar(scope: str, n: int) -> dict:
    import duckdb

    from huiqi.batch.synthetic import generate, profiles
    from huiqi.engine.match import evaluate_profile, evaluate_rule
    from huiqi.engine.profile import Profile
    from huiqi.engine.stacking import apply_stacking

    pack, rules = _rules(scope)
    con = duckdb.connect()
    generate(con, pack, n, seed=7, as_of=AS_OF)
    records = profiles(con, pack)
    t0 = time.perf_counter()
    for rec in records:
        if scope == "kjjl":
            ctx = pack.new_ctx(rec["facts"], AS_OF)
            results = [evaluate_rule(cr, ctx) for cr in rules]
            apply_stacking(results, [], pack)
        else:
            evaluate_profile(pack, Profile(rec["facts"], [], applicant=rec["applicant"]), AS_OF)
    elapsed = time.perf_counter() - t0
    return {
        "engine": "scalar",
        "scope": scope,
        "rules": len(rules),
        "enterprises": n,
        "seconds": round(elapsed, 3),
        "enterprises_per_s": round(n / elapsed),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def _child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scopes", default="kjjl,pack")
    ap.add_argument("--one", nargs="*")
    a = ap.parse_args()
    if a.one:
        engine, scope, n = a.one[0], a.one[1], int(a.one[2])
        res = run_duckdb(scope, n, a.threads) if engine == "duckdb" else run_scalar(scope, n)
        print(json.dumps(res))
        return
    sizes = [int(s) for s in a.sizes.split(",")]
    print(f"as_of {AS_OF}, pack {PACK}, DuckDB threads {a.threads}")
    for scope in a.scopes.split(","):
        base = _child(["scalar", scope, "10000", "--threads", str(a.threads)])
        print(json.dumps(base, ensure_ascii=False))
        for n in sizes:
            res = _child(["duckdb", scope, str(n), "--threads", str(a.threads)])
            res["ratio_to_scalar"] = round(res["enterprises_per_s"] / base["enterprises_per_s"], 1)
            print(json.dumps(res, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
