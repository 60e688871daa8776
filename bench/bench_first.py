"""First-request latency after start-up: for each URL, a fresh process starts the app (its
lifespan runs, as under `huiqi serve`), then times the very first request to that URL
(server time, the Server-Timing header; and the round trip through FastAPI's TestClient).

Every cache in the process is cold except what the start-up warmed, so a figure here is what
the first user of a freshly started worker waits. Target (issue #12): no request pays a
one-off load (the search dictionaries, templates, the catalogue); no page over 300 ms.

    uv run python bench/bench_first.py            # every URL, one fresh process each
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "examples/hightech_enterprise.yaml"
FORM = {
    "registered_place": "焦作市",
    "as_of": "2018-02-01",
    "independent_legal_person": "true",
    "tech_absorb_volume_last_year": "280万",
}
URLS: list[tuple[str, str, str]] = [
    ("GET /api/search?q=高新技术企业", "GET", "/api/search?q=高新技术企业"),
    ("GET /search?q=高新技术企业", "GET", "/search?q=高新技术企业"),
    ("GET /rules", "GET", "/rules"),
    ("GET /documents/{id}", "GET", "/documents/{doc}"),
    ("POST /api/match", "POST", "/api/match"),
    ("POST /check (result page)", "POST", "/check"),
    ("POST /check.xlsx", "POST", "/check.xlsx"),
    ("POST /api/match.xlsx", "POST", "/api/match.xlsx"),
    ("GET /check/ask", "GET", "/check/ask"),
]


def _one(method: str, url: str) -> dict[str, Any]:
    """Run in the child: start the app, time its first request to `url`."""
    import warnings

    import yaml

    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

    from huiqi.library.catalogue import corpus_documents
    from huiqi.web.app import create_app

    t = time.perf_counter()
    with TestClient(create_app()) as client:  # runs the lifespan (the start-up warm-up)
        started = time.perf_counter() - t
        url = url.replace("{doc}", corpus_documents()[0].id)
        kw: dict[str, Any] = {}
        if url.startswith("/api/match"):
            profile = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
            kw["content"] = json.dumps({"profile": profile}, ensure_ascii=False, default=str)
            kw["headers"] = {"content-type": "application/json"}
        elif method == "POST":
            kw["data"] = FORM
        t = time.perf_counter()
        r = client.request(method, url, **kw)
        wall = (time.perf_counter() - t) * 1000
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
        server = float(r.headers["server-timing"].split("dur=")[1])
    return {"startup_s": started, "server_ms": server, "wall_ms": wall}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(_one(sys.argv[2], sys.argv[3])))
        return
    print("first request after start-up, one fresh process per URL (ms)")
    worst = 0.0
    for name, method, url in URLS:
        out = subprocess.run(
            [sys.executable, __file__, "--one", method, url],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            timeout=300,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        worst = max(worst, r["server_ms"])
        print(
            f"  {name:34s} server {r['server_ms']:7.1f}  round trip {r['wall_ms']:7.1f}  "
            f"(start-up {r['startup_s']:.1f} s)",
            flush=True,
        )
    print(f"slowest first request: {worst:.1f} ms server time")


if __name__ == "__main__":
    main()
