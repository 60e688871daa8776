"""The slim /api/match document: entries kept encoded between requests must be exactly what
building them afresh gives, whatever the profile; the next questions are the best first N."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.engine.match import evaluate_profile
from huiqi.engine.profile import validate_profile
from huiqi.packs.loader import bundled_pack
from huiqi.web.app import create_app
from huiqi.web.match_json import dumps, encode_slim, slim_report

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))
PROFILES = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in EXAMPLES}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def _report(data: dict, as_of: date | None = None, remember: bool = True):
    pack = bundled_pack()
    profile = validate_profile(data, pack.variables, set(pack.by_id), pack.entities)
    when = as_of or profile.as_of or date(2019, 3, 1)
    return evaluate_profile(pack, profile, when, remember=remember)


def _fresh(data: dict, as_of: date) -> dict:
    """The document built without anything kept: every rule evaluated, every entry a new
    dict."""
    report = _report(data, as_of, remember=False)
    return json.loads(dumps(slim_report(report, fragments=False, next_questions=None)))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(PROFILES)),
    dropped=st.sets(st.integers(min_value=0, max_value=60), max_size=12),
    year=st.sampled_from([2017, 2019, 2021, 2024]),
)
def test_kept_entries_equal_fresh_ones(name: str, dropped: set[int], year: int) -> None:
    """Drop some facts of an example (so other inputs are missing) and move the date: the
    document with kept entries, encoded twice (the second time from what the first kept),
    equals the one built afresh, field for field."""
    data = dict(PROFILES[name])
    facts = {k: v for k, v in data.items() if k not in ("applicant", "label", "as_of")}
    for k, key in enumerate(sorted(facts)):
        if k in dropped:
            data.pop(key)
    when = date(year, 3, 1)
    first = json.loads(encode_slim(_report(data, when), next_questions=None))
    again = json.loads(encode_slim(_report(data, when), next_questions=None))
    assert first == again == _fresh(data, when)


def _body(name: str) -> bytes:
    return json.dumps({"profile": PROFILES[name]}, ensure_ascii=False, default=str).encode()


def test_next_questions_are_the_best_first_n(client: TestClient) -> None:
    body = _body("hightech_enterprise")

    def asked(query: str) -> list[dict]:
        r = client.post(f"/api/match{query}", content=body)
        assert r.status_code == 200, r.text[:300]
        return r.json()["next_questions"]

    every, default, three = asked("?next_questions=1000"), asked(""), asked("?next_questions=3")
    assert len(every) > 10  # this profile leaves many questions open
    assert default == every[:10] and three == every[:3]
    # best first: the question that decides the most rules leads
    assert [q["decides"] for q in every] == sorted((q["decides"] for q in every), reverse=True)
    assert all(q["decides"] == len(q["rules"]) for q in every)


@pytest.mark.parametrize("value", ["-1", "1001", "many"])
def test_next_questions_out_of_range_is_422(client: TestClient, value: str) -> None:
    r = client.post(f"/api/match?next_questions={value}", content=_body("hightech_enterprise"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "next_questions"


def test_fast_path_answers_as_the_routed_endpoint(client: TestClient) -> None:
    """POST /api/match without parameters skips FastAPI's routing (web/app.MatchFastPath):
    the same bytes as the routed endpoint, the same headers, the same errors."""
    body = _body("science_sme")
    fast = client.post("/api/match", content=body)
    routed = client.post("/api/match?next_questions=10", content=body)
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    for header in ("content-type", "content-security-policy", "x-content-type-options"):
        assert fast.headers[header] == routed.headers[header]
    bad = b'{"profile": {"applicant": "enterprise", "employees": "many"}}'
    fast, routed = (client.post(u, content=bad) for u in ("/api/match", "/api/match?pack="))
    assert fast.status_code == routed.status_code == 422
    assert fast.json() == routed.json()
    assert fast.json()["errors"][0]["path"] == "profile.employees"


def test_fast_path_crash_is_a_chinese_500(monkeypatch) -> None:
    from huiqi.web import service

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "match", boom)
    client = TestClient(create_app(), raise_server_exceptions=False)
    r = client.post("/api/match", content=_body("science_sme"))
    assert r.status_code == 500
    assert r.json()["message"] == "服务器内部错误，请稍后再试"
    assert "secret" not in r.text and "Traceback" not in r.text
