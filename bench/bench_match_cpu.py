"""CPU time per POST /api/match (slim default) in-process, averaged over the 11 examples/*.yaml
profiles: the whole request through the ASGI app (called directly in one event loop, as a server would:
middleware, routing, body, response; no HTTP parsing), and its parts called directly
(validate the profile, evaluate, build the slim document, encode). CPU time (process_time), so
a busy neighbour on the machine changes the figures less than wall time would.

    uv run python bench/bench_match_cpu.py --rounds 20 --repeat 5
    uv run python bench/bench_match_cpu.py --profile 200   # cProfile of the whole request path
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import time
from datetime import date
from pathlib import Path

import yaml

from huiqi.engine.match import evaluate_profile
from huiqi.engine.profile import validate_profile
from huiqi.packs.loader import bundled_pack
from huiqi.web.app import create_app

try:
    from huiqi.web.app import settle_gc
except ImportError:  # an older tree (before/after comparisons): what its start-up did

    def settle_gc() -> None:
        gc.collect()
        gc.freeze()


from huiqi.web.match_json import dumps, slim_report

try:
    from huiqi.web.match_json import encode_slim
except ImportError:  # an older tree: what its endpoint did

    def encode_slim(report, questions=False):  # type: ignore[no-untyped-def]
        return dumps(slim_report(report, questions))


ROOT = Path(__file__).resolve().parent.parent


async def _post(app, body: bytes) -> None:
    """One POST /api/match through the ASGI app; asserts a 200."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/match",
        "raw_path": b"/api/match",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = []

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    assert status == [200], status


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20, help="passes over the 11 profiles")
    ap.add_argument("--repeat", type=int, default=5, help="passes of --rounds; the best counts")
    ap.add_argument("--profile", type=int, default=0, help="cProfile this many passes")
    args = ap.parse_args()
    profiles = [
        yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted((ROOT / "examples").glob("*.yaml"))
    ]
    bodies = [
        json.dumps({"profile": p}, ensure_ascii=False, default=str).encode() for p in profiles
    ]
    app = create_app()
    loop = asyncio.new_event_loop()

    def post(body: bytes) -> None:
        loop.run_until_complete(_post(app, body))

    pack = bundled_pack()
    for b in bodies:  # warm
        post(b)
    settle_gc()  # as the server's start-up does

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.profile):
            for b in bodies:
                post(b)
        prof.disable()
        stats = pstats.Stats(prof).sort_stats("tottime")
        stats.print_stats(35)
        stats.sort_stats("cumulative").print_stats(45)
        return

    def per_call(fn) -> float:
        # the best of --repeat passes: a neighbour's load only ever adds time
        best = float("inf")
        for _ in range(args.repeat):
            t = time.process_time()
            for _ in range(args.rounds):
                for i in range(len(profiles)):
                    fn(i)
            best = min(best, time.process_time() - t)
        return best * 1000 / (args.rounds * len(profiles))

    def fresh_parts() -> tuple[float, float, float]:
        """validate+evaluate, then the slim document encoded, each on fresh objects: a report
        caches what it renders (reasons, traced values), so re-encoding one report, or
        re-evaluating one validated profile, would measure less than a request does."""
        best = [float("inf")] * 3
        for _ in range(args.repeat):
            spent = [0.0, 0.0, 0.0]
            for _ in range(args.rounds):
                for p in profiles:
                    t0 = time.process_time()
                    v = validate_profile(p, pack.variables, set(pack.by_id), pack.entities)
                    t1 = time.process_time()
                    report = evaluate_profile(pack, v, v.as_of or date.today())
                    t2 = time.process_time()
                    encode_slim(report)
                    t3 = time.process_time()
                    spent[0] += t1 - t0
                    spent[1] += t2 - t1
                    spent[2] += t3 - t2
            best = [min(b, s) for b, s in zip(best, spent, strict=True)]
        n = args.rounds * len(profiles)
        return best[0] * 1000 / n, best[1] * 1000 / n, best[2] * 1000 / n

    request = per_call(lambda i: post(bodies[i]))
    validate, evaluate, encode = fresh_parts()
    print(
        f"CPU ms per match, mean of {len(profiles)} profiles × {args.rounds} "
        f"(best of {args.repeat}): "
        f"whole request (ASGI) {request:.2f}; validate {validate:.3f}, "
        f"evaluate {evaluate:.2f}, slim document built and encoded {encode:.2f}"
    )


if __name__ == "__main__":
    main()
