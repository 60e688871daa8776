"""Benchmark of the service: POST /api/match through FastAPI's TestClient (whole pack, no trace;
then with ?trace=true) against the CLI's `huiqi match --json` path in-process (validate, evaluate,
to_dict with trace, json.dumps with indent) and the engine alone, p50/p90 over N requests on
examples/hightech_enterprise.yaml. Run: `uv run python bench/bench_service.py`.
"""

import json
import statistics
import time
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from huiqi.engine.match import evaluate_profile
from huiqi.engine.profile import read_profile_file, validate_profile
from huiqi.lang.scalar import plain
from huiqi.output import json_default
from huiqi.packs.loader import bundled_pack
from huiqi.web.app import app

N = 200
path = Path("examples/hightech_enterprise.yaml")
profile = yaml.safe_load(path.read_text(encoding="utf-8"))
profile["as_of"] = str(profile["as_of"])
client = TestClient(app)
client.post("/api/match", json={"profile": profile})  # warm


def p50(fn):
    times = []
    for _ in range(N):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), sorted(times)[int(N * 0.9)]


server_ms: list[float] = []


def api(trace=False):
    r = client.post(f"/api/match{'?trace=true' if trace else ''}", json={"profile": profile})
    assert r.status_code == 200
    server_ms.append(float(r.headers["server-timing"].split("dur=")[1]))


pack = bundled_pack()


def cli():
    data = read_profile_file(path)
    prof = validate_profile(data, pack.variables, set(pack.by_id), pack.entities)
    report = evaluate_profile(pack, prof, prof.as_of)
    json.dumps(
        report.to_dict(), ensure_ascii=False, indent=2, default=lambda v: json_default(v, plain)
    )


def engine_only():
    data = read_profile_file(path)
    prof = validate_profile(data, pack.variables, set(pack.by_id), pack.entities)
    evaluate_profile(pack, prof, prof.as_of)


for name, fn in [
    ("POST /api/match (no trace), TestClient round trip", api),
    ("POST /api/match?trace=true, TestClient round trip", lambda: api(True)),
    ("CLI --json path in-process (trace, indent=2)", cli),
    ("engine only (validate + evaluate)", engine_only),
]:
    server_ms.clear()
    med, p90 = p50(fn)
    print(f"{name}: p50 {med:.1f} ms, p90 {p90:.1f} ms")
    if server_ms:
        print(f"  server time (Server-Timing): p50 {statistics.median(server_ms):.1f} ms")
