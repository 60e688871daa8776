"""`POST /api/match` server time (the Server-Timing header) from a real `huiqi serve` (1 worker)
with sequential requests from this process: p50 per example profile (10 warm-up requests, then
50), and the median of the profiles' p50s. Target (issue #12): p50 ≤ 5 ms.

    uv run python bench/bench_server_time.py [--port 8765]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WARM, TIMED = 10, 50


def wait_ready(base: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("huiqi serve did not start")


def server_ms(base: str, body: bytes) -> float:
    req = urllib.request.Request(
        f"{base}/api/match", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req) as r:
        r.read()
        return float(r.headers["server-timing"].split("dur=")[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    port = ap.parse_args().port
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "huiqi.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--workers", "1", "--no-access-log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(base)
        p50 = {}
        for path in sorted(EXAMPLES.glob("*.yaml")):
            profile = yaml.safe_load(path.read_text(encoding="utf-8"))
            body = json.dumps({"profile": profile}, default=str).encode()
            times = [server_ms(base, body) for _ in range(WARM + TIMED)][WARM:]
            p50[path.stem] = statistics.median(times)
            print(f"{path.stem:32s} p50 {p50[path.stem]:5.1f} ms", flush=True)
        print(
            f"median of the {len(p50)} profiles' p50: {statistics.median(p50.values()):.1f} ms,"
            f" max {max(p50.values()):.1f} ms"
        )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(10)


if __name__ == "__main__":
    main()
