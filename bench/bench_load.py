"""Load benchmark of `huiqi serve` on loopback.

The server runs as a subprocess (`huiqi serve --workers W`; uvicorn itself when `--http` or
`--loop` is chosen); the load generator runs in a second process (this script with
`--generate`): `--concurrency` keep-alive connections, each sending the next request as soon as
the last one is answered (closed loop), bounded in time and count. The client is wrk (Debian's package `wrk`, C, about a tenth of a CPU millisecond per
request) when it is installed, else an httpx async client (`--client httpx`: 2–3 CPU ms per
request, so on 2 cores the generator itself takes a good part of the machine). Phases, in one
run against the same server:

1. baseline: GET /healthz (the cost of HTTP + the app's middleware, no work);
2. search:   GET /api/search?q=… (a few queries in turn);
3. match, old path: POST /api/match?detail=full (the full report, as the endpoint returned
   before the slim default);
3b. match, varied: POST /api/match over 20,000 distinct profiles (examples with a random
   third of their facts left out, amounts scaled, other dates), more than the phase sends,
   so that no request repeats an earlier one: what the server keeps between requests (a
   rule's result under the facts it reads, entries encoded) helps only where rules read
   alike;
4. match:    POST /api/match (the slim default) for `--duration` seconds (default 120), the
   examples/*.yaml profiles in turn.

Reports requests/s, p50/p99 latency (ms), errors (non-200 or transport), the generator's CPU
time, the server's CPU time per request (and the req/s it would sustain with every core to
itself: on a shared machine the wall-clock figures say more about the neighbours), and the
server's RSS (master + workers) at start, during and at the end of the match phase.
Targets (issue #12): ≥ 500 match req/s, p99 < 50 ms, zero errors, flat memory, on 2 cores.

    uv run python bench/bench_load.py                     # 2 workers, 120 s match phase
    uv run python bench/bench_load.py --duration 20 --workers 1 --http h11
    uv run python bench/bench_load.py --client httpx      # the pure-Python generator
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["高新技术企业", "技术交易额", "研发费用加计扣除", "人才引进", "专利奖励"]
MAX_REQUESTS = 2_000_000  # a bound on any phase, whatever its duration


# --- the load generator (second process) --------------------------------------------------


def _requests(kind: str) -> list[tuple[str, str, bytes | None]]:
    import yaml

    if kind == "healthz":
        return [("GET", "/healthz", None)]
    if kind == "search":
        from urllib.parse import quote

        return [("GET", f"/api/search?q={quote(q)}", None) for q in QUERIES]
    url = "/api/match?detail=full" if kind == "match_full" else "/api/match"
    examples = [
        yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "examples").glob("*.yaml"))
    ]
    profiles = examples if kind != "match_varied" else _varied(examples, VARIED)
    return [
        ("POST", url, json.dumps({"profile": p}, ensure_ascii=False, default=str).encode())
        for p in profiles
    ]


VARIED = 20_000  # distinct profiles of the varied match phase: more than a phase sends


def _varied(examples: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """`n` distinct profiles: an example with a seeded random third of its facts left out,
    every amount of money scaled by a random factor (0.3–3×, to the 元), and its date moved
    by up to three years, so that what is missing, the amounts, the statuses and the periods
    differ from one request to the next: a stream of new applicants, not the same eleven
    again, and few rules that read an amount see the same one twice."""
    import random
    from datetime import date

    from huiqi.packs.loader import bundled_pack

    money = {name for name, v in bundled_pack().variables.items() if v.type == "money"}
    rnd = random.Random(20261129)
    out = []
    for k in range(n):
        base = examples[k % len(examples)]
        keep = {"applicant", "label", "as_of"}
        profile = {key: value for key, value in base.items() if key in keep or rnd.random() > 1 / 3}
        for key, value in profile.items():
            if key in money and isinstance(value, int | float) and not isinstance(value, bool):
                profile[key] = round(value * rnd.uniform(0.3, 3))
        when = base.get("as_of")
        if isinstance(when, date):
            profile["as_of"] = when.replace(year=when.year + rnd.randint(-1, 2))
        profile["label"] = f"{base.get('label', '')} #{k}"
        out.append(profile)
    return out


async def _generate(base: str, kind: str, seconds: float, concurrency: int) -> dict[str, Any]:
    import httpx

    requests = _requests(kind)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    counter = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal counter
            while time.perf_counter() < deadline and counter < MAX_REQUESTS:
                method, url, body = requests[counter % len(requests)]
                counter += 1
                t = time.perf_counter()
                try:
                    r = await client.request(
                        method, url, content=body, headers={"content-type": "application/json"}
                    )
                    await r.aread()
                    ok = r.status_code == 200
                    key = f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    ok, key = False, type(exc).__name__
                latencies.append((time.perf_counter() - t) * 1000)
                if not ok:
                    errors[key] = errors.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "kind": kind,
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99)],
        "errors": errors,
        "client_cpu": usage.ru_utime + usage.ru_stime,
    }


_WRK_SCRIPT = r"""
local items = {}
local n = 0
init = function(args)
  -- args[1]: a file of requests, one per line: method, URL and body (or "-"), tab-separated
  for line in io.lines(args[1]) do
    local method, url, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    if body == "-" then body = nil end
    items[#items + 1] = {method, url, body}
  end
end
request = function()
  n = n + 1
  local it = items[(n - 1) % #items + 1]
  if it[3] then
    return wrk.format(it[1], it[2], {["Content-Type"] = "application/json"}, it[3])
  end
  return wrk.format(it[1], it[2])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "us": %d, "p50": %d, "p99": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _generate_wrk(base: str, kind: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """The same closed loop with wrk: one thread, `concurrency` connections."""
    with tempfile.TemporaryDirectory() as tmp:
        lines = []
        for method, url, body in _requests(kind):
            text = "-" if body is None else body.decode("utf-8")
            assert "\n" not in text and "\t" not in f"{method}{url}"  # one line per request
            lines.append(f"{method}\t{url}\t{text}\n")
        manifest = Path(tmp) / "requests.txt"
        manifest.write_text("".join(lines), encoding="utf-8")
        args = [str(manifest)]
        script = Path(tmp) / "load.lua"
        script.write_text(_WRK_SCRIPT, encoding="utf-8")
        cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(int(seconds), 1)}s", "--timeout", "30s"]
        out = subprocess.run(
            [*cmd, "-s", str(script), base, *args],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            check=True,
        )
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRK "))
    w = json.loads(line[4:])
    elapsed = w["us"] / 1e6
    errors = {k: w[k] for k in ("connect", "read", "write", "status", "timeout") if w[k]}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "kind": kind,
        "requests": w["requests"],
        "seconds": elapsed,
        "rps": w["requests"] / elapsed,
        "p50": w["p50"] / 1000,
        "p99": w["p99"] / 1000,
        "errors": errors,  # "status": answers other than 2xx/3xx
        "client_cpu": usage.ru_utime + usage.ru_stime,
    }


# --- the server and the run ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    """RSS of a process and its children (uvicorn's master and workers), in MB."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                pids.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _generator(base: str, kind: str, seconds: float, concurrency: int, client: str) -> list[str]:
    return [
        sys.executable,
        __file__,
        "--generate",
        kind,
        "--base",
        base,
        "--seconds",
        str(seconds),
        "--concurrency",
        str(concurrency),
        "--client",
        client,
    ]


def _phase(
    base: str, kind: str, seconds: float, concurrency: int, server: int, client: str
) -> dict[str, Any]:
    cpu = _cpu_seconds(server)
    out = subprocess.run(
        _generator(base, kind, seconds, concurrency, client),
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["server_cpu"] = _cpu_seconds(server) - cpu
    return result


def _line(name: str, r: dict[str, Any]) -> str:
    errors = sum(r["errors"].values())
    detail = f" {r['errors']}" if errors else ""
    return (
        f"  {name:30s} {r['rps']:7.1f} req/s  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
        f"{r['requests']:7d} requests  errors {errors}{detail}  "
        f"(generator CPU {r['client_cpu']:.1f} s / {r['seconds']:.0f} s)\n"
        f"  {'':30s} server CPU {r['server_cpu']:.1f} s = "
        f"{r['server_cpu'] * 1000 / max(r['requests'], 1):.2f} ms per request -> "
        f"{r['requests'] / max(r['server_cpu'], 1e-9) * (os.cpu_count() or 1):.0f} req/s "
        f"if the server had the {os.cpu_count()} cores to itself"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=120, help="match phase, seconds")
    ap.add_argument("--side", type=float, default=15, help="each other phase, seconds")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    ap.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    ap.add_argument(
        "--client",
        choices=["auto", "wrk", "httpx"],
        default="auto",
        help="load generator (auto: wrk when installed)",
    )
    ap.add_argument("--generate", help=argparse.SUPPRESS)
    ap.add_argument("--base", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "httpx"
    if args.generate:
        if args.client == "wrk":
            result = _generate_wrk(args.base, args.generate, args.seconds, args.concurrency)
        else:
            result = asyncio.run(
                _generate(args.base, args.generate, args.seconds, args.concurrency)
            )
        print(json.dumps(result))
        return

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    if args.http == "auto" and args.loop == "auto":
        # the command users run (on Linux with 2+ workers: a listening socket per worker)
        cmd = [sys.executable, "-m", "huiqi.cli", "serve", "--port", str(port)]
        cmd += ["--workers", str(args.workers), "--no-access-log"]
    else:  # a chosen HTTP parser or event loop: uvicorn itself, with its shared socket
        cmd = [sys.executable, "-m", "uvicorn", "huiqi.web.app:app", "--port", str(port)]
        cmd += ["--workers", str(args.workers), "--http", args.http, "--loop", args.loop]
        cmd += ["--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        time.sleep(3 * args.workers)  # every worker warms its packs and index at start-up
        _phase(base, "match", 3, args.concurrency, server.pid, args.client)  # a few requests

        print(
            f"huiqi serve: {args.workers} worker(s), http={args.http}, loop={args.loop}; "
            f"generator: {args.client}, 1 process, {args.concurrency} connections; "
            f"{os.cpu_count()} cores"
        )
        print(f"  server RSS after warm-up: {_rss_mb(server.pid):.0f} MB")
        for name, kind in [
            ("GET /healthz (baseline)", "healthz"),
            ("GET /api/search", "search"),
            ("POST /api/match?detail=full", "match_full"),
            (f"POST /api/match, {VARIED} varied", "match_varied"),
        ]:
            print(
                _line(
                    name, _phase(base, kind, args.side, args.concurrency, server.pid, args.client)
                ),
                flush=True,
            )

        rss_start = _rss_mb(server.pid)
        cpu_start = _cpu_seconds(server.pid)
        samples: list[float] = []
        proc = subprocess.Popen(
            _generator(base, "match", args.duration, args.concurrency, args.client),
            stdout=subprocess.PIPE,
            text=True,
        )
        while proc.poll() is None:
            time.sleep(min(5, max(args.duration / 10, 1)))
            samples.append(_rss_mb(server.pid))
        out, _ = proc.communicate()
        match = json.loads(out.strip().splitlines()[-1])
        match["server_cpu"] = _cpu_seconds(server.pid) - cpu_start
        rss_end = _rss_mb(server.pid)
        print(_line(f"POST /api/match ({args.duration:.0f} s)", match))
        shown = " ".join(f"{s:.0f}" for s in samples)
        print(
            f"  server RSS during the match phase (MB): start {rss_start:.0f} | {shown} | end {rss_end:.0f}"
        )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
