"""Benchmark of `huiqi batch`: DuckDB over 10k / 100k / 1M synthetic enterprises against
(a) the rules of 《焦作市科技创新奖励资金管理暂行办法》 (rules/kjjl.yaml) and (b) the whole
jiaozuo pack; the scalar loop on 10k enterprises is the baseline and Spark (local mode) on
100k, measured in the same run.

Each case runs in its own process so that its peak memory (max RSS) is its own. The synthetic
registry is built first (not timed). Timed:
* `seconds` (compute): the budget forecast (`huiqi batch --forecast-only`): counts, totals and
  unknown facts per place, rule and status, aggregated from the wide rows (stacking applied),
  no row per enterprise and rule; it includes `complete_check_s`, the pass that finds the
  inputs no enterprise has unknown (`runner.complete_inputs`), which the queries then do not
  test for a missing fact, and the count of enterprises per kind of applicant
  (`runner.applicant_counts`), by which a query whose rules are for kinds that leave out a
  third of the registry reads only the others' rows;
* `end_to_end_s` (DuckDB up to 1M enterprises for kjjl, 100k for the pack): the long result
  stored, then written as Parquet (one row per enterprise and rule);
compile time is reported separately. Spark: the registry handed over as Arrow (`load_s`), then
the forecast computed in Spark (`seconds`).

    uv run python bench/bench_batch.py [--sizes 10000,100000,1000000] [--threads 2] [--holders 1]

The registry's event lists are as sparse as the generator makes them by default (HOLDERS);
`--holders 1` gives every known list 0–3 events (the registry of the runs before stop 13).
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
HOLDERS: float | None = None  # --holders: share of known event lists holding events
PACK = "jiaozuo"
KJJL = "焦作市科技创新奖励资金管理暂行办法"


def _rules(scope: str):
    from huiqi.packs.loader import bundled_pack

    pack = bundled_pack(PACK)
    if scope == "kjjl":
        return pack, [cr for cr in pack.compiled if cr.rule.doc_title == KJJL]
    return pack, list(pack.compiled)


def _generate(con, pack, n: int):
    """The synthetic registry of every case: seed 7, as of AS_OF, --holders if given."""
    from huiqi.batch.synthetic import generate

    more = {} if HOLDERS is None else {"holders": HOLDERS}
    return generate(con, pack, n, seed=7, as_of=AS_OF, **more)


def run_duckdb(scope: str, n: int, threads: int) -> dict:
    from huiqi.batch.compile import compile_rules
    from huiqi.batch.runner import FORECAST, applicant_counts, complete_inputs, connect, evaluate

    pack, rules = _rules(scope)
    con = connect(threads)
    t0 = time.perf_counter()
    _generate(con, pack, n)
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    complete = complete_inputs(con, pack, AS_OF, rules)  # data work: timed with the run
    kinds = applicant_counts(con)
    check = time.perf_counter() - t0
    t0 = time.perf_counter()
    batch = compile_rules(pack, AS_OF, "duckdb", rules, complete=complete, applicants=kinds)
    comp = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate(con, pack, AS_OF, rules, batch, store=False)
    elapsed = time.perf_counter() - t0 + check
    rows = con.execute(f"SELECT sum(n) FROM {FORECAST} WHERE fact IS NULL").fetchone()[0]
    e2e = None
    if rows <= 50_000_000:
        import tempfile
        from pathlib import Path

        from huiqi.batch.report import _write
        from huiqi.batch.runner import RESULT

        t0 = time.perf_counter()
        evaluate(con, pack, AS_OF, rules, batch, store=True)
        with tempfile.TemporaryDirectory() as tmp:
            _write(con, f"SELECT * FROM {RESULT}", Path(tmp) / "result.parquet")
        e2e = round(time.perf_counter() - t0, 3)
    return {
        "engine": "duckdb",
        "scope": scope,
        "rules": len(rules),
        "enterprises": n,
        "result_rows": rows,
        "generate_s": round(gen, 3),
        "compile_s": round(comp, 3),
        "complete_check_s": round(check, 3),
        "seconds": round(elapsed, 3),
        "enterprises_per_s": round(n / elapsed),
        "end_to_end_s": e2e,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def run_spark(scope: str, n: int, threads: int) -> dict:
    import pyarrow.compute as pc

    from huiqi.batch import spark as sp
    from huiqi.batch.compile import compile_rules
    from huiqi.batch.runner import connect

    pack, rules = _rules(scope)
    con = connect(threads)
    sch = _generate(con, pack, n)
    session = sp.session(f"local[{threads}]", partitions=threads * 2)
    t0 = time.perf_counter()
    names = ["registry"] + [f"ev__{e}" for e in sch.events]
    for name in names:
        table = sp.decoded(con.sql(f'SELECT * FROM "{name}"').to_arrow_table())
        session.createDataFrame(table).cache().createOrReplaceTempView(name)
        session.table(name).count()
    load = time.perf_counter() - t0
    batch = compile_rules(pack, AS_OF, "spark", rules)
    t0 = time.perf_counter()
    total = 0
    everyone = batch.everyone(lambda sql: session.sql(sql).toArrow())
    for k, q in enumerate(batch.forecast_sqls):
        rows = batch.chunk_forecast(k, session.sql(q).toArrow(), everyone)
        statuses = rows.filter(pc.is_null(rows["fact"]))  # (the fact rows count them again)
        total += pc.sum(statuses["n"]).as_py() or 0
    elapsed = time.perf_counter() - t0
    session.stop()
    return {
        "engine": "spark-local",
        "scope": scope,
        "rules": len(rules),
        "enterprises": n,
        "result_rows": total,
        "load_s": round(load, 3),
        "seconds": round(elapsed, 3),
        "enterprises_per_s": round(n / elapsed),
        "peak_rss_mb_driver": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def run_scalar(scope: str, n: int) -> dict:
    import duckdb

    from huiqi.batch.synthetic import profiles
    from huiqi.engine.match import evaluate_profile, evaluate_rule
    from huiqi.engine.profile import Profile
    from huiqi.engine.stacking import apply_stacking

    pack, rules = _rules(scope)
    con = duckdb.connect()
    _generate(con, pack, n)
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


def _cause(stderr: str) -> str:
    """The lines of a failed case's output that say what failed (a Java stack trace's
    `...Exception: message` lines, a Python error's last line), not the trace's tail."""
    lines = [x.strip() for x in stderr.splitlines() if x.strip()]
    said = [x for x in lines if ("Exception" in x or "Error" in x) and not x.startswith("at ")]
    return " | ".join(dict.fromkeys(said[:3] + lines[-1:]))[:1500]


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
    ap.add_argument("--spark", default="100000", help="Spark sizes ('' for none)")
    ap.add_argument(
        "--holders",
        type=float,
        default=None,
        help="share of known event lists holding events (default: the generator's; 1 = dense)",
    )
    ap.add_argument("--one", nargs="*")
    a = ap.parse_args()
    global HOLDERS
    HOLDERS = a.holders
    if a.one:
        engine, scope, n = a.one[0], a.one[1], int(a.one[2])
        if engine == "duckdb":
            res = run_duckdb(scope, n, a.threads)
        elif engine == "spark":
            res = run_spark(scope, n, a.threads)
        else:
            res = run_scalar(scope, n)
        print(json.dumps(res))
        return
    sizes = [int(s) for s in a.sizes.split(",")]
    common = ["--threads", str(a.threads)]
    if a.holders is not None:
        common += ["--holders", str(a.holders)]
    from huiqi.batch.synthetic import HOLDERS as default

    holders = default if a.holders is None else a.holders
    print(f"as_of {AS_OF}, pack {PACK}, DuckDB threads {a.threads}, event holders {holders}")
    for scope in a.scopes.split(","):
        base = _child(["scalar", scope, "10000", *common])
        print(json.dumps(base, ensure_ascii=False))
        cases = [("duckdb", n) for n in sizes]
        cases += [("spark", int(n)) for n in a.spark.split(",") if n]
        for engine, n in cases:
            try:
                res = _child([engine, scope, str(n), *common])
            except subprocess.CalledProcessError as exc:
                print(
                    json.dumps(
                        {
                            "engine": engine,
                            "scope": scope,
                            "enterprises": n,
                            "error": _cause(exc.stderr),
                        },
                        ensure_ascii=False,
                    ),
                    flush=True,
                )
                continue
            res["ratio_to_scalar"] = round(res["enterprises_per_s"] / base["enterprises_per_s"], 1)
            print(json.dumps(res, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
