"""Memory and time of reading a registry into DuckDB (`huiqi batch`'s first step), each case
in its own process so that its peak memory (VmHWM) is its own:

- streamed: read by Arrow's CSV reader and handed on in pieces as columns (what `huiqi batch`
  does with a regular CSV), the pieces kept as Arrow for DuckDB to query in place;
- streamed, into a DuckDB table: the same, each piece appended to a DuckDB table (what
  `--memory-limit` does; before stop 15, always), the sink's baseline;
- streamed, row by row: the reader for files Arrow's reader does not take (control
  characters, a quoted header), the reader's baseline; before stop 16 also any file with a
  row narrower or wider than the header;
- streamed, one short row: the same file with its middle row cut to ten cells, which Arrow's
  reader now skips and hands over to be read in its place;
- streamed, a short row in four: every fourth row without its last cell (as programs that
  drop empty trailing cells write them): the skipped rows join the pieces around them;
- streamed+events: with an events file as well (every certification and platform recognition
  of the synthetic registry, a row each; every known list holds 0-3 events, DENSE);
- whole: read with every record kept.

The registry: the synthetic one (every input variable of the pack as a column, about a
quarter of the cells empty), written as a UTF-8 CSV with variable names as headers.

    uv run python bench/bench_read.py [--sizes 20000,100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

AS_OF = date(2019, 3, 1)


def write_csv(n: int, path: Path) -> int:
    """The synthetic registry of `n` enterprises as a CSV; returns its column count."""
    from huiqi.batch.runner import connect
    from huiqi.batch.synthetic import DENSE, generate
    from huiqi.packs.loader import bundled_pack

    pack = bundled_pack()
    con = connect(2)
    generate(con, pack, n, seed=7, as_of=AS_OF, holders=DENSE)  # the events file as in stop 12
    cols = [r[0] for r in con.execute("DESCRIBE registry").fetchall()]
    keep = [c for c in cols if c in pack.variables and pack.variables[c].type != "events"]
    select = ", ".join(f'"{c}"' for c in keep)
    code = "'X' || lpad(CAST(_rid AS VARCHAR), 17, '0')"
    con.execute(
        f"COPY (SELECT {code} AS id, applicant, {select} FROM registry) TO '{path}' (HEADER)"
    )
    # the events file: every event of EVENT_LISTS (0-3 per enterprise), a row each
    parts = []
    for name in EVENT_LISTS:
        fields = list(pack.variables[name].fields)
        cols = ", ".join(f'CAST("{f}" AS VARCHAR) AS "{f}"' for f in fields)
        parts.append((fields, f"SELECT {code} AS id, '{name}' AS list, {cols} FROM ev__{name}"))
    every = sorted({f for fields, _ in parts for f in fields})
    union = " UNION ALL ".join(
        "SELECT id, list, "
        + ", ".join(f'"{f}"' if f in fields else f'NULL AS "{f}"' for f in every)
        + f" FROM ({q})"
        for fields, q in parts
    )
    con.execute(f"COPY ({union}) TO '{events_path(path)}' (HEADER)")
    return len(keep) + 2


EVENT_LISTS = ("certifications", "platform_recognitions")


def events_path(path: Path) -> Path:
    return path.with_suffix(".events.csv")


def short_path(path: Path, every: bool = False) -> Path:
    return path.with_suffix(".short4.csv" if every else ".short.csv")


def write_short(path: Path) -> None:
    """The registry with its middle row cut to its first ten cells, and with every fourth
    row without its last cell (no cell of the synthetic registry holds a comma or a line
    break)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    one = list(lines)
    middle = len(lines) // 2
    one[middle] = ",".join(lines[middle].split(",")[:10]) + "\n"
    short_path(path).write_text("".join(one), encoding="utf-8")
    four = [
        line if k % 4 != 2 else line.rstrip("\n").rsplit(",", 1)[0] + "\n"
        for k, line in enumerate(lines)
    ]
    short_path(path, every=True).write_text("".join(four), encoding="utf-8")


def _peak_mb() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent that
    made the registry)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def read_once(path: Path, mode: str) -> dict:
    import duckdb

    from huiqi.batch.compile import schema
    from huiqi.batch.read import read_registry
    from huiqi.batch.tables import DuckDBSink, write_tables
    from huiqi.packs.loader import bundled_pack

    pack = bundled_pack()
    sch = schema(pack)
    con = duckdb.connect()
    before = _peak_mb()
    t0 = time.perf_counter()
    streamed = mode != "whole"
    events = events_path(path) if mode == "streamed+events" else None
    if mode == "streamed, one short row":
        path = short_path(path)
    if mode == "streamed, a short row in four":
        path = short_path(path, every=True)
    if mode == "streamed, row by row":  # the reader before Arrow's CSV reader, as baseline
        from huiqi.batch import read

        read.FAST_CSV = False
    if streamed:
        table = mode == "streamed, into a DuckDB table"
        sink = DuckDBSink(con, sch, keep_bytes=0) if table else DuckDBSink(con, sch)
        more = {} if events is None else {"events": events}  # (runs older code too)
        reg = read_registry(path, pack, as_of=AS_OF, sink=sink, **more)
    else:
        reg = read_registry(path, pack, as_of=AS_OF)
        write_tables(con, sch, reg.records)
    seconds = time.perf_counter() - t0
    rows = con.execute("SELECT count(*) FROM registry").fetchone()[0]
    assert rows == len(reg.ids) == reg.rows_in - len(reg.rejected_rows)
    return {
        "mode": mode,
        "rows": rows,
        "events": reg.events_in,
        "events_rejected": reg.events_rejected,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
        "rss_before_mb": before,
        "peak_rss_mb": _peak_mb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20000,100000")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(read_once(Path(a.one[0]), a.one[1])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in a.sizes.split(",")):
            path = Path(tmp) / f"registry{n}.csv"
            cols = write_csv(n, path)
            write_short(path)
            size = path.stat().st_size / 1e6
            print(f"{n:,} enterprises x {cols} columns, {size:.0f} MB", flush=True)
            modes = (
                "streamed",
                "streamed, into a DuckDB table",
                "streamed, row by row",
                "streamed, one short row",
                "streamed, a short row in four",
            )
            for mode in (*modes, "streamed+events", "whole"):
                out = subprocess.run(
                    [sys.executable, __file__, "--one", str(path), mode],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                print(" ", out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
