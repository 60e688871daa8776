"""Where the policy packs live: $HUIQI_POLICIES, or the bundled ones (checkout or wheel)."""

from __future__ import annotations

import os
from pathlib import Path


def policies_dir() -> Path:
    """A deployment may keep its own packs elsewhere (HUIQI_POLICIES=/srv/policies)."""
    env = os.environ.get("HUIQI_POLICIES")
    if env:
        path = Path(env)
        if not path.is_dir():
            raise FileNotFoundError(f"HUIQI_POLICIES 指向的目录不存在：{path}")
        return path
    here = Path(__file__).resolve().parent
    for candidate in (here / "policies", here.parents[1] / "policies"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("找不到内置政策库目录 policies/")


def bundled_corpus() -> list[Path]:
    """Raw policy texts shipped with every jurisdiction pack."""
    return sorted(policies_dir().glob("*/corpus/*.txt"))
