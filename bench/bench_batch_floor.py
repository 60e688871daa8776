"""What the kjjl batch (bench_batch.py scope a) costs before any rule is decided, on a synthetic
registry of N enterprises: (1) the pre-aggregated event lists and their joins alone (the CTEs of
the compiled queries up to `l0`); (2) 45 trivial status conditions over the registry: the same
kind of query without events. A floor under the issue's 0.5 s for 1M enterprises. The
registry's event lists are as sparse as the generator's default (`synthetic.HOLDERS`).

    uv run python bench/bench_batch_floor.py [N]
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_batch import AS_OF, _rules

from huiqi.batch.compile import compile_rules
from huiqi.batch.runner import connect
from huiqi.batch.synthetic import generate

RULES = 45


def timed(con, label: str, queries: list[str]) -> None:
    t0 = time.perf_counter()
    for q in queries:
        con.execute(q).fetchall()
    print(f"{label}: {time.perf_counter() - t0:.3f} s", flush=True)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    pack, rules = _rules("kjjl")
    con = connect(2)
    generate(con, pack, n, seed=7, as_of=AS_OF)
    batch = compile_rules(pack, AS_OF, "duckdb", rules)
    events = []
    for wide in batch.wide_sqls:
        cut = wide.index(', "l1" AS (') if '"l1" AS (' in wide else wide.index(', "st" AS (')
        aggs = sorted(set(re.findall(r'AS "(agg_\d+)"', wide[:cut])))
        if aggs:
            counted = ", ".join(f'count("{a}")' for a in aggs)
            events.append(f"{wide[:cut]} SELECT {counted} FROM l0")
    timed(con, f"{n:,} enterprises, kjjl event aggregates and joins only", events)
    cond = "(independent_legal_person AND agency_grants_last_year > {k})"
    status = ", ".join(
        f"CASE WHEN applicant IS NOT NULL AND applicant <> 'enterprise' THEN 'not_eligible' "
        f"WHEN {cond.format(k=k)} IS FALSE THEN 'not_eligible' "
        f"WHEN {cond.format(k=k)} IS NULL THEN 'undetermined' ELSE 'eligible' END AS s_{k}"
        for k in range(RULES)
    )
    counts = ", ".join(f"count(*) FILTER (WHERE s_{k} = 'eligible')" for k in range(RULES))
    trivial = f"SELECT {counts} FROM (SELECT {status} FROM registry)"
    timed(con, f"{n:,} enterprises, {RULES} trivial rules (status only)", [trivial])


if __name__ == "__main__":
    main()
