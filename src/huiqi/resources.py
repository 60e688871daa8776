"""Where the bundled policy packs live, in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path


def policies_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "policies", here.parents[1] / "policies"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("找不到内置政策库目录 policies/")


def bundled_corpus() -> list[Path]:
    """Raw policy texts shipped with every jurisdiction pack."""
    return sorted(policies_dir().glob("*/corpus/*.txt"))
