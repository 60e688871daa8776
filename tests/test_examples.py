"""Every shipped example profile runs through `huiqi match` as a new user would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huiqi.cli import app

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("profile", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_profile_matches(profile: Path):
    result = CliRunner().invoke(app, ["match", str(profile), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["rules"], "no rule evaluated"
    assert any(r["status"] == "eligible" for r in data["rules"]), (
        "an example should qualify for something"
    )


def test_there_are_examples():
    assert EXAMPLES
