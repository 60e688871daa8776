"""Start-up: wall time of `huiqi match examples/hightech_enterprise.yaml`, against a baseline.

The baseline is another commit of this repository (default: the last commit before layered
packs and the pack cache), checked out into a temporary worktree with its own environment
and timed in the same run, alternating with the current tree so that drift in the machine's
speed hits both alike. Both run with bytecode caching on, as on a user's machine (this
workplace sets PYTHONDONTWRITEBYTECODE, which would otherwise recompile every module).

    uv run python bench/bench_startup.py [--baseline REV] [--runs N]

Target: the current tree's median ≤ 0.5 s with a warm pack cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "68eecdf"  # main before the one-vocabulary / layered-packs work
PROFILE = "examples/hightech_enterprise.yaml"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("VIRTUAL_ENV", None)
    return env


def _time(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=_env(), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="huiqi-baseline-"))
    try:
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tmp / "wt"), args.baseline],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        base = tmp / "wt"
        subprocess.run(["uv", "sync", "--quiet"], cwd=base, env=_env(), check=True)
        subprocess.run(["uv", "sync", "--quiet"], cwd=ROOT, env=_env(), check=True)
        cmd_new = [str(ROOT / ".venv/bin/huiqi"), "match", PROFILE]
        cmd_old = [str(base / ".venv/bin/huiqi"), "match", PROFILE]
        for _ in range(2):  # warm-up: bytecode and the pack cache written once
            _time(cmd_old, base)
            _time(cmd_new, ROOT)
        old, new = [], []
        for _ in range(args.runs):
            old.append(_time(cmd_old, base))
            new.append(_time(cmd_new, ROOT))
        ratios = [o / n for o, n in zip(old, new, strict=True)]
        print(f"huiqi match {PROFILE}, {args.runs} runs each, alternating")
        print(f"  baseline {args.baseline}: median {statistics.median(old):.3f} s")
        print(f"  current:          median {statistics.median(new):.3f} s")
        print(f"  speed-up (pairwise median): {statistics.median(ratios):.1f}x")
        print(f"  target ≤ 0.5 s: {'met' if statistics.median(new) <= 0.5 else 'NOT met'}")
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tmp / "wt")], cwd=ROOT, check=False
        )
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
