"""Benchmark of the service in-process (FastAPI's TestClient, no network): server time
(the Server-Timing header: the app's time to the response headers) p50/p90 of

- POST /api/match: the default slim document (orjson), against in the same run the old
  default path (the full report without trace, encoded by the standard json module, as the
  endpoint did before) mounted on a bench-only route, `?detail=full` and `?trace=true`;
- the engine alone (validate + evaluate) as the floor;
- every web page (target: none over 300 ms server time).

Profile: examples/hightech_enterprise.yaml, whole pack. Run: `uv run python bench/bench_service.py`
(`--n 100` requests per line).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import yaml
from fastapi import Request
from fastapi.responses import Response
from fastapi.testclient import TestClient

from huiqi.engine.match import evaluate_profile
from huiqi.engine.profile import validate_profile
from huiqi.lang.scalar import plain
from huiqi.output import json_default
from huiqi.packs.loader import bundled_pack
from huiqi.web import api
from huiqi.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
PROFILE_PATH = ROOT / "examples/hightech_enterprise.yaml"


def old_app() -> Any:
    """The app with the pre-slim /api/match path on /bench/old-match."""
    app = create_app()

    @app.post("/bench/old-match")
    async def old_match(request: Request) -> Response:
        report = await api._match_report(request, None)
        content = {**report.to_dict(trace=False), "packs": report.packs}
        body = json.dumps(
            content,
            ensure_ascii=False,
            separators=(",", ":"),
            default=lambda v: json_default(v, plain),
        ).encode("utf-8")
        return Response(body, media_type="application/json")

    return app


def timed(client: TestClient, n: int, method: str, url: str, **kw: Any) -> dict[str, float]:
    server, wall, size = [], [], 0
    for _ in range(n):
        t = time.perf_counter()
        r = client.request(method, url, **kw)
        wall.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
        server.append(float(r.headers["server-timing"].split("dur=")[1]))
        size = len(r.content)
    server.sort()
    return {
        "p50": statistics.median(server),
        "p90": server[int(len(server) * 0.9)],
        "max": server[-1],
        "wall_p50": statistics.median(wall),
        "kb": size / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    n = ap.parse_args().n

    profile = yaml.safe_load(PROFILE_PATH.read_text(encoding="utf-8"))
    profile["as_of"] = str(profile["as_of"])
    body = {"profile": profile}
    with TestClient(old_app()) as client:
        for url in ("/api/match", "/bench/old-match", "/check/ask"):  # warm
            client.request("GET" if url == "/check/ask" else "POST", url, json=body)

        print(f"POST /api/match, whole pack, {PROFILE_PATH.name}, n={n} (server time, ms)")
        lines = [
            ("old default (full, no trace, json module)", "/bench/old-match"),
            ("new default (slim, orjson)", "/api/match"),
            ("?questions=true (slim + questions)", "/api/match?questions=true"),
            ("?detail=full (orjson)", "/api/match?detail=full"),
            ("?trace=true (full + trace)", "/api/match?trace=true"),
        ]
        for name, url in lines:
            s = timed(client, n, "POST", url, json=body)
            print(
                f"  {name:44s} p50 {s['p50']:6.1f}  p90 {s['p90']:6.1f}  "
                f"(round trip p50 {s['wall_p50']:5.1f})  {s['kb']:7.1f} KB"
            )

        pack = bundled_pack()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            prof = validate_profile(profile, pack.variables, set(pack.by_id), pack.entities)
            evaluate_profile(pack, prof, prof.as_of)
            times.append((time.perf_counter() - t) * 1000)
        print(f"  {'engine only (validate + evaluate)':44s} p50 {statistics.median(times):6.1f}")

        doc_id = client.get("/api/documents").json()[0]["id"]
        form = {
            "registered_place": "焦作市",
            "as_of": "2018-02-01",
            "independent_legal_person": "true",
            "tech_absorb_volume_last_year": "280万",
        }
        ask = client.get("/check/ask?as_of=2018-02-01").text
        state = ask.split('name="state" value="')[1].split('"')[0]
        import html

        ask_form = {
            "state": html.unescape(state),
            "name": "applicant",
            "value": "enterprise",
            "action": "answer",
        }
        pages = [
            ("GET /", "GET", "/", {}),
            ("GET /search?q=高新技术企业", "GET", "/search?q=高新技术企业", {}),
            ("GET /search?q=奖励 (many hits)", "GET", "/search?q=奖励&limit=50", {}),
            ("GET /documents", "GET", "/documents", {}),
            ("GET /documents/{id}", "GET", f"/documents/{doc_id}", {}),
            ("GET /rules", "GET", "/rules", {}),
            ("GET /check", "GET", "/check", {}),
            ("POST /check (result page)", "POST", "/check", {"data": form}),
            ("POST /check.xlsx", "POST", "/check.xlsx", {"data": form}),
            ("GET /check/ask", "GET", "/check/ask", {}),
            ("POST /check/ask (one step)", "POST", "/check/ask", {"data": ask_form}),
            ("POST /api/match.xlsx", "POST", "/api/match.xlsx", {"json": body}),
        ]
        print(f"pages, n={max(n // 5, 5)} each (server time, ms; target: none over 300 ms)")
        worst = 0.0
        for name, method, url, kw in pages:
            s = timed(client, max(n // 5, 5), method, url, **kw)
            worst = max(worst, s["max"])
            print(f"  {name:36s} p50 {s['p50']:6.1f}  p90 {s['p90']:6.1f}  max {s['max']:6.1f}")
        print(f"slowest single page response: {worst:.1f} ms")


if __name__ == "__main__":
    main()
