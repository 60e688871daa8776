"""The service: REST API and web pages through FastAPI's TestClient (no server, no network)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.ingest.model import Clause, Document
from huiqi.web import service
from huiqi.web.app import app

EXAMPLES = Path(__file__).parent.parent / "examples"
KDJL = "焦作市科技创新奖励资金管理暂行办法"  # 《焦作市科技创新奖励资金管理暂行办法》


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def example(name: str) -> dict:
    data = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    if "as_of" in data:
        data["as_of"] = str(data["as_of"])
    return data


def kdjl_id(client: TestClient) -> str:
    docs = client.get("/api/documents").json()
    return next(d["id"] for d in docs if d["title"] == KDJL)


# --- documents ------------------------------------------------------------------------


def test_healthz_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/documents",
        "/api/documents/{doc_id}",
        "/api/documents/{doc_id}/clauses/{path}",
        "/api/search",
        "/api/rules",
        "/api/rules/{rule_id}",
        "/api/match",
        "/api/variables",
        "/api/packs",
    ):
        assert path in spec["paths"]
    assert "profile" in str(spec["paths"]["/api/match"]["post"]["requestBody"])
    assert client.get("/docs").status_code == 200


def test_documents_list_and_filters(client: TestClient) -> None:
    docs = client.get("/api/documents").json()
    assert len(docs) >= 40
    assert {"id", "title", "doc_number", "issuers", "level", "in_force", "clause_count"} <= set(
        docs[0]
    )
    city = client.get("/api/documents", params={"level": "市"}).json()
    assert city and all(d["level"] == "city" for d in city)
    y2017 = client.get("/api/documents", params={"year": "2017"}).json()
    assert y2017 and all(d["issued_on"].startswith("2017") for d in y2017)
    issuer = client.get("/api/documents", params={"issuer": "焦作市人民政府"}).json()
    assert issuer and all(any("焦作市人民政府" in i for i in d["issuers"]) for d in issuer)
    on = client.get("/api/documents", params={"in_force_on": "2018-02-01"}).json()
    assert 0 < len(on) <= len(docs)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"level": "星球"}, "level"),
        ({"year": "去年"}, "year"),
        ({"in_force_on": "2018-02-30"}, "in_force_on"),
    ],
)
def test_documents_bad_filters(client: TestClient, params: dict, field: str) -> None:
    r = client.get("/api/documents", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["errors"][0]["path"] == field
    assert re.search(r"[\u4e00-\u9fff]", body["message"])


def test_document_and_clause(client: TestClient) -> None:
    doc_id = kdjl_id(client)
    doc = client.get(f"/api/documents/{doc_id}").json()
    assert doc["title"] == KDJL

    def walk(items: list[dict]):
        for c in items:
            yield c["path"]
            yield from walk(c["children"])

    assert {"a8", "a8.p4"} <= set(walk(doc["clauses"]))
    clause = client.get(f"/api/documents/{doc_id}/clauses/a8.p4").json()
    assert clause["citation"] == "《焦作市科技创新奖励资金管理暂行办法》第八条（四）"
    assert "按上年度技术交易额的10%" in clause["text"]


def test_unknown_document_and_clause_are_404_in_chinese(client: TestClient) -> None:
    r = client.get("/api/documents/d0000000000")
    assert r.status_code == 404
    assert r.json()["message"].startswith("找不到文件")
    doc_id = kdjl_id(client)
    r = client.get(f"/api/documents/{doc_id}/clauses/z99")
    assert r.status_code == 404
    assert r.json()["message"].startswith("找不到条款")
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["message"] == "找不到您要的页面或资源"


# --- search ---------------------------------------------------------------------------


def test_search(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "技术交易额", "level": "city", "limit": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] >= 1 and body["documents"]
    hit = body["documents"][0]["clauses"][0]
    assert "【" in hit["snippet"]
    assert body["filters"]["level"] == "city"


def test_search_limits_and_bad_filters(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "补贴" * 251})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"path": "q", "reason": "内容过长（上限 500 个字符）"}]
    r = client.get("/api/search", params={"q": "补贴", "from_year": "2019", "to_year": "2017"})
    assert r.status_code == 422
    r = client.get("/api/search", params={"q": "补贴", "limit": "0"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "limit"
    r = client.get("/api/search")
    assert r.status_code == 422 and r.json()["errors"][0] == {"path": "q", "reason": "缺少必填项"}


def test_unknown_pack_lists_the_packs(client: TestClient) -> None:
    for url in (
        "/api/search?q=补贴&pack=atlantis",
        "/api/rules?pack=atlantis",
        "/api/variables?pack=atlantis",
    ):
        r = client.get(url)
        assert r.status_code == 404
        message = r.json()["message"]
        assert "atlantis" in message and "cn" in message and "jiaozuo" in message


# --- rules, variables, packs -----------------------------------------------------------


def test_rules_catalogue_and_filters(client: TestClient) -> None:
    everything = client.get("/api/rules").json()
    assert len(everything) >= 476
    cn = client.get("/api/rules", params={"pack": "cn"}).json()
    assert cn and all(r["id"].startswith("tax.") for r in cn)
    by_doc = client.get("/api/rules", params={"document": KDJL}).json()
    assert by_doc and all(r["document"] == KDJL for r in by_doc)
    people = client.get("/api/rules", params={"beneficiary": "个人"}).json()
    assert people and all("person" in r["beneficiary"] for r in people)
    auto = client.get("/api/rules", params={"determination": "automatic"}).json()
    assert auto and all(r["determination"] == "automatic" for r in auto)
    yearly = client.get("/api/rules", params={"kind": "按年"}).json()
    assert yearly and all(r["kind"] == "yearly" for r in yearly)
    in_2018 = client.get("/api/rules", params={"in_force_on": "2018-02-01"}).json()
    assert 0 < len(in_2018) < len(everything)


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"beneficiary": "外星人"}, 422, "beneficiary"),
        ({"kind": "每秒"}, 422, "kind"),
        ({"determination": "抽签"}, 422, "determination"),
        ({"document": "不存在的文件"}, 404, "document"),
        ({"in_force_on": "明天"}, 422, "in_force_on"),
    ],
)
def test_rules_bad_filters(client: TestClient, params: dict, status: int, field: str) -> None:
    r = client.get("/api/rules", params=params)
    assert r.status_code == status
    assert r.json()["errors"][0]["path"] == field


def test_rule_with_its_clause_text(client: TestClient) -> None:
    r = client.get("/api/rules/jz.kjjl.tech_absorb").json()
    assert r["citation"] == "《焦作市科技创新奖励资金管理暂行办法》第八条（四）"
    assert r["clause_text"]["path"] == "a8.p4"
    assert r["quote"] in r["clause_text"]["text"]
    assert client.get("/api/rules/jz.nope").status_code == 404


def test_variables_and_packs(client: TestClient) -> None:
    variables = {v["name"]: v for v in client.get("/api/variables").json()}
    place = variables["registered_place"]
    assert place["question"] and "焦作市" in place["values"] and place["type"] == "enum"
    assert variables["certifications"]["fields"]
    assert all(not name.startswith("_") for name in variables)
    packs = {p["pack"]: p for p in client.get("/api/packs").json()}
    assert packs["cn"]["parent"] is None and packs["cn"]["level"] == "national"
    assert packs["jiaozuo"]["parent"] == "henan" and packs["mengzhou"]["parent"] == "jiaozuo"


# --- match ----------------------------------------------------------------------------


def test_match_hightech_enterprise_total_by_hand(client: TestClient) -> None:
    """examples/hightech_enterprise.yaml: a first-time national high-tech enterprise of 2017 in
    焦作, evaluated on 2018-02-01. 《焦作市科技创新奖励资金管理暂行办法》:

    - 第六条 “首次认定的国家高新技术企业奖励20万元”                          200,000
      (焦作市加快高新技术企业培育行动方案 五4 “对新认定高新技术企业补贴20万元” is the same
      achievement: not paid twice)
    - 第六条 “…省科技型中小企业，分别奖励…2万元”                              20,000
    - 第六条 “获得省一、二、三等奖…分别奖励30万元…” (省一等奖)                 300,000
      (国家三等奖 20万元 is set aside: “同届获奖企业，按就高不重复原则奖励”)
    - 第八条（四）“按上年度技术交易额的10%，给予最高不超过100万元的奖励”
      280万元 × 10% = 28万元 (under the cap)                                    280,000
    - 第九条 “获得省政府专利奖二、三等奖的，每项分别奖励8万元、5万元” (1 项三等奖) 50,000
    - 第九条 “对维持7年以上（含7年）的国内发明专利…每件每年给予2000元年费奖励”
      (filed 2009: 8 years by 2017; filed 2014: 3 years, not yet)               2,000
                                                                         = 852,000
    """
    r = client.post("/api/match", json={"profile": example("hightech_enterprise.yaml")})
    assert r.status_code == 200
    body = r.json()
    assert Decimal(str(body["total"])) == 200_000 + 20_000 + 300_000 + 280_000 + 50_000 + 2_000
    assert body["total_max"] == body["total"]  # no review-dependent amount here
    by_id = {x["rule_id"]: x for x in body["rules"]}
    assert by_id["jz.kjjl.tech_absorb"]["amount"] == 280_000
    assert by_id["jz.kjjl.contest_national_3rd"]["amount"] == 0
    assert "trace" not in by_id["jz.kjjl.tech_absorb"]
    assert body["packs"] == ["cn", "henan", "jiaozuo"]
    assert body["next_questions"]
    assert b"\n" not in r.content  # compact


def test_match_trace_on_request_and_date_override(client: TestClient) -> None:
    profile = example("hightech_enterprise.yaml")
    body = client.post("/api/match?trace=true", json={"profile": profile}).json()
    rule = next(x for x in body["rules"] if x["rule_id"] == "jz.kjjl.tech_absorb")
    assert rule["trace"] and rule["trace"][0]["clause"]
    later = client.post("/api/match", json={"profile": profile, "as_of": "2030-01-01"}).json()
    assert later["as_of"] == "2030-01-01"


def test_match_default_is_slim_and_full_on_request(client: TestClient) -> None:
    profile = example("hightech_enterprise.yaml")
    slim = client.post("/api/match", json={"profile": profile})
    full = client.post("/api/match?detail=full", json={"profile": profile})
    assert slim.status_code == full.status_code == 200
    s, f = slim.json(), full.json()
    assert s["total"] == f["total"] == 852_000
    assert len(slim.content) * 2 < len(full.content)
    assert [r["rule_id"] for r in s["rules"]] == [r["rule_id"] for r in f["rules"]]
    full_by_id = {r["rule_id"]: r for r in f["rules"]}
    for r in s["rules"]:
        whole = full_by_id[r["rule_id"]]
        assert r["status"] == whole["status"] and r["reason"] == whole["reason"]
        if whole["status"] == "eligible":
            assert r["detail"] is True
        if r["detail"]:
            # the apply block is written once in `applies` and referenced by key
            assert s["applies"][r["apply"]] == whole["apply"]
            assert r["amount"] == whole["amount"] and "questions" not in r
        else:
            assert whole["status"] != "eligible" and "apply" not in r and "quote" not in r
    assert len(s["applies"]) < sum(1 for r in s["rules"] if r["detail"])
    # the brief entries keep what a client acts on: a near miss's gap in words
    near = [r for r in f["rules"] if r["near_miss"]]
    for r in near:
        brief = next(x for x in s["rules"] if x["rule_id"] == r["rule_id"])
        assert brief["near_miss"] and brief["gap"][0]["text"] == r["gap"][0]["text"]
    asked = client.post("/api/match?questions=true", json={"profile": profile}).json()
    undetermined = [r for r in asked["rules"] if r["detail"] and r["status"] == "undetermined"]
    assert undetermined and all(r["questions"] for r in undetermined)
    spec = client.get("/openapi.json").json()
    ok = spec["paths"]["/api/match"]["post"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/MatchResponse")
    assert {"RuleBrief", "RuleDetail", "ApplyBlock"} <= set(spec["components"]["schemas"])
    bad = client.post("/api/match?detail=everything", json={"profile": profile})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "detail"


def test_match_profile_as_yaml_text(client: TestClient) -> None:
    text = (EXAMPLES / "hightech_enterprise.yaml").read_text(encoding="utf-8")
    body = client.post("/api/match", json={"profile": text}).json()
    assert body["total"] == 852_000


def test_bad_profile_is_422_with_field_paths(client: TestClient) -> None:
    profile = {
        "founding_year": "去年",
        "no_such_fact": 1,
        "certifications": [{"kind": "火星企业"}],
        "applicant": "robot",
    }
    r = client.post("/api/match", json={"profile": profile})
    assert r.status_code == 422
    body = r.json()
    paths = {e["path"] for e in body["errors"]}
    assert {
        "profile.founding_year",
        "profile.no_such_fact",
        "profile.certifications[0].kind",
        "profile.certifications[0].year",
        "profile.applicant",
    } <= paths
    assert all(re.search(r"[\u4e00-\u9fff]", e["reason"]) for e in body["errors"])
    assert "未评估" in body["message"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"not json", "(root)"),
        (b'{"profile": {"a": 1, "a": 2}}', "(root)"),
        (b'{"profile": ' + b"[" * 50 + b"]" * 50 + b"}", "(root)"),
        (b"[1, 2]", "(root)"),
        (b'{"as_of": "2018-01-01"}', "profile"),
        (b'{"profile": {}, "as_of": "2018-02-30"}', "as_of"),
        (b'{"profile": [1]}', "profile"),
        (b'{"profile": "a: [1"}', "profile"),
        (b"\xff\xfe", "(root)"),
    ],
)
def test_bad_match_bodies(client: TestClient, body: bytes, path: str) -> None:
    r = client.post("/api/match", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["path"] == path.replace("(root)", "(根)")


def test_body_too_large_is_413(client: TestClient) -> None:
    big = b'{"profile": {"label": "' + b"x" * 1_100_000 + b'"}}'
    r = client.post("/api/match", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["message"] == "请求内容过大（上限 1 MB）"

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(12):
            yield b"x" * 100_000

    r = client.post("/api/match", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_unknown_pack_in_match(client: TestClient) -> None:
    r = client.post("/api/match?pack=atlantis", json={"profile": {}})
    assert r.status_code == 404 and "可用" in r.json()["message"]


def test_summary_keeps_ranges_and_tax_apart(client: TestClient) -> None:
    pack = service.load_pack()
    team = service.summary(service.match(example("leading_talent_team.yaml"), None, pack))
    # examples/leading_talent_team.yaml, hand-computed in policies/jiaozuo/tests/talent_leaders.yaml
    # (千人计划团队): 200000 + 100000 + 15000 + 20000 + 1600 = 336600 certain; the 150000 loan
    # interest subsidy is “经评审认定” (评审裁量) and goes with the ranges
    assert team["ranges"] and team["cash_total"] == 336_600
    assert team["range_max"] > 0
    tax = service.summary(service.match(example("tax_sme_2018.yaml"), None, pack))
    assert tax["tax_total"] == 190_000 and tax["cash_total"] == 0
    assert all(r.rule.id.startswith("tax.") for r in tax["tax"])


# --- errors, headers, garbage -----------------------------------------------------------


def test_crash_is_a_chinese_500_without_trace(client: TestClient, monkeypatch) -> None:
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(service, "packs", boom)
    r = client.get("/api/packs")
    assert r.status_code == 500
    assert r.json()["message"] == "服务器内部错误，请稍后再试"
    assert "secret" not in r.text and "Traceback" not in r.text
    r = client.get("/")
    assert r.status_code == 500 and "secret" not in r.text and "服务器内部错误" in r.text


@pytest.mark.parametrize(
    "url", ["/", "/api/packs", "/check", "/api/documents/nope", "/static/site.css"]
)
def test_security_headers(client: TestClient, url: str) -> None:
    h = client.get(url).headers
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert h["x-content-type-options"] == "nosniff"


SAFE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    q=SAFE_TEXT,
    level=SAFE_TEXT,
    date=SAFE_TEXT,
    path=st.sampled_from(
        ["/api/search", "/api/documents", "/api/rules", "/search", "/documents", "/rules"]
    ),
)
def test_garbage_queries_never_5xx(
    client: TestClient, q: str, level: str, date: str, path: str
) -> None:
    params = {"q": q, "level": level, "in_force_on": date, "entity": q, "kind": level, "year": date}
    r = client.get(path, params=params)
    assert r.status_code < 500, (path, params, r.text[:300])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seg=st.text(alphabet="abc%./\\<>\"'中文0_-", min_size=1, max_size=40))
def test_garbage_paths_never_5xx(client: TestClient, seg: str) -> None:
    for url in (f"/api/documents/{seg}", f"/api/rules/{seg}", f"/documents/{seg}"):
        assert client.get(url).status_code < 500


# --- pages ----------------------------------------------------------------------------

TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S)


def visible(html: str) -> str:
    return TAGS.sub(" ", html)


@pytest.mark.parametrize(
    "url", ["/", "/check", "/documents", "/rules?pack=jiaozuo", "/search?q=人才"]
)
def test_pages_are_chinese_without_internal_ids(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="zh-CN">' in html and 'name="viewport"' in html
    text = visible(html)
    assert not re.search(r"\bjz\.|\btax\.", text)  # rule ids only in URLs and data-*
    if url in ("/", "/check"):
        words = re.findall(r"[A-Za-z]{2,}", text)
        assert words == [], words


def test_search_page_highlights_and_links(client: TestClient) -> None:
    html = client.get("/search", params={"q": "技术交易额"}).text
    assert "<mark>" in html
    assert re.search(r'href="/documents/d[0-9a-f]+#c-[\w.]+"', html)
    r = client.get("/search", params={"q": "补" * 501})
    assert r.status_code == 422 and "查询内容过长" in r.text


def test_document_page_shows_rules_beside_clauses(client: TestClient) -> None:
    html = client.get(f"/documents/{kdjl_id(client)}").text
    assert 'id="c-a8.p4"' in html
    block = html[html.index('id="c-a8.p4"') :][:2000]
    assert "科技成果转移转化承接单位奖励" in block  # the rule next to its clause
    assert client.get("/documents/nope").status_code == 404


def test_escaping_of_policy_text(client: TestClient, monkeypatch) -> None:
    evil = "<script>alert('x')</script>"
    doc = Document(title=f"恶意标题{evil}", source="x.txt", line_start=1, line_end=2, id="devil")
    doc.clauses = [Clause(kind="article", number=1, label="第一条", path="a1", text=f"正文{evil}")]
    monkeypatch.setattr(service, "document", lambda ref: doc)
    r = client.get("/documents/devil")
    assert r.status_code == 200
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(" in r.text


def test_check_form_and_result(client: TestClient) -> None:
    form = client.get("/check").text
    assert 'name="registered_place"' in form and "<option>焦作市</option>" in form
    assert 'name="tech_absorb_volume_last_year"' in form
    r = client.post(
        "/check",
        data={
            "registered_place": "焦作市",
            "applicant": "enterprise",
            "as_of": "2018-02-01",
            "independent_legal_person": "true",
            # 第八条（四）“按上年度技术交易额的10%，给予最高不超过100万元的奖励”: 280万 × 10%
            "tech_absorb_volume_last_year": "280万",
        },
    )
    assert r.status_code == 200
    html = r.text
    total = html.index("可确定的资金奖励补贴合计")
    assert "28万元" in html[total : total + 200]
    assert total < html.index("科技成果转移转化承接单位奖励")  # the total comes first
    assert "按上年度技术交易额的10%" in html  # the clause quoted
    ours = re.sub(r"<blockquote>.*?</blockquote>", "", html, flags=re.S)
    assert re.findall(r"[A-Za-z]{2,}", visible(ours)) == []
    assert 'href="/documents/' in html and "#c-a8.p4" in html


def test_check_form_errors_name_the_field(client: TestClient) -> None:
    r = client.post("/check", data={"registered_place": "火星", "founding_year": "去年"})
    assert r.status_code == 422
    assert "fielderror" in r.text and "应为整数" in r.text
    assert client.post("/check", data={"as_of": "2018-02-30"}).status_code == 422


def test_result_page_non_monetary_collapsed_and_tax_apart(client: TestClient) -> None:
    r = client.post(
        "/check",
        data={
            "registered_place": "焦作市",
            "applicant": "enterprise",
            "as_of": "2018-12-31",
            "meets_hte_criteria": "true",
            "eit_taxable_income": "60万",
        },
    )
    assert r.status_code == 200
    assert "<details" in r.text or "暂未找到" in r.text


def test_serve_command_is_registered() -> None:
    from typer.testing import CliRunner

    from huiqi.cli import app as cli

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--workers" in result.output


def test_templates_and_static_ship_with_the_package() -> None:
    import huiqi.web

    root = Path(huiqi.web.__file__).parent
    assert (root / "templates" / "base.html").is_file()
    assert (root / "static" / "site.css").is_file()


def test_check_form_event_ticks(client: TestClient) -> None:
    """Ticked certifications become events. 《焦作市科技创新奖励资金管理暂行办法》第六条
    “新认定（备案）的…省科技型中小企业，分别奖励…2万元” and 第八条（四）280万 × 10% = 28万:
    30万元 certain; the high-tech award waits for “是否首次认定”, which the form does not ask."""
    r = client.post(
        "/check",
        data={
            "registered_place": "焦作市",
            "applicant": "enterprise",
            "as_of": "2018-02-01",
            "independent_legal_person": "true",
            "certifications": ["国家高新技术企业", "省科技型中小企业"],
            "certifications__year": "2017",
            "tech_absorb_volume_last_year": "280万",
        },
    )
    assert r.status_code == 200
    total = r.text.index("可确定的资金奖励补贴合计")
    assert "30万元" in r.text[total : total + 200]
    bad = client.post(
        "/check", data={"certifications": ["国家高新技术企业"], "certifications__year": "去年"}
    )
    assert bad.status_code == 422 and "checked" in bad.text


def test_match_xlsx(client: TestClient) -> None:
    import io

    from openpyxl import load_workbook

    profile = {**example("hightech_enterprise.yaml"), "label": '=HYPERLINK("http://x")'}
    r = client.post("/api/match.xlsx", json={"profile": profile})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = {row[0]: row[1] for row in ws.iter_rows(max_col=2, values_only=True) if row[0]}
    assert rows["可确定的资金奖励补贴合计（元）"] == 852_000  # as in the JSON test above
    assert ws["B1"].value.startswith("=HYPERLINK") and ws["B1"].data_type == "s"  # text
    titles = [row[0] for row in ws.iter_rows(min_row=10, max_col=1, values_only=True)]
    assert "科技成果转移转化承接单位奖励（技术交易额10%）" in titles
    bad = client.post("/api/match.xlsx", json={"profile": {"founding_year": "去年"}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "profile.founding_year"


def test_result_page_downloads_the_same_answers(client: TestClient) -> None:
    import io

    from openpyxl import load_workbook

    data = {
        "registered_place": "焦作市",
        "applicant": "enterprise",
        "as_of": "2018-02-01",
        "independent_legal_person": "true",
        "certifications": ["省科技型中小企业"],
        "certifications__year": "2017",
        "tech_absorb_volume_last_year": "280万",
    }
    html = client.post("/check", data=data).text
    assert 'action="/check.xlsx"' in html and 'value="省科技型中小企业"' in html
    r = client.post("/check.xlsx", data=data)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = {row[0]: row[1] for row in ws.iter_rows(max_col=2, values_only=True) if row[0]}
    assert rows["可确定的资金奖励补贴合计（元）"] == 300_000


# --- questionnaire API (stateless) ----------------------------------------------------------


def test_questionnaire_api_start_answer_dont_know_back_result(client: TestClient) -> None:
    r = client.post("/api/questionnaire/start", json={"as_of": "2018-02-01"})
    assert r.status_code == 200
    body = r.json()
    assert body["question"]["name"] == "applicant" and body["progress"]["number"] == 1
    assert body["state"] == {"answers": {}, "unknown": [], "history": []}
    step = {"as_of": "2018-02-01", "state": body["state"]}
    body = client.post(
        "/api/questionnaire/answer", json={**step, "name": "applicant", "value": "enterprise"}
    ).json()
    assert body["question"]["name"] == "registered_place"
    step["state"] = body["state"]
    # 不知道: recorded, never asked again, counted apart
    unknown = client.post(
        "/api/questionnaire/answer", json={**step, "name": "registered_place", "dont_know": True}
    ).json()
    assert unknown["state"]["unknown"] == ["registered_place"]
    assert unknown["question"]["name"] != "registered_place"
    assert unknown["progress"] == {"number": 3, "answered": 1, "unknown": 1}
    # back: the same question again, the 不知道 undone
    again = client.post(
        "/api/questionnaire/back", json={"as_of": "2018-02-01", "state": unknown["state"]}
    ).json()
    assert again["question"]["name"] == "registered_place" and again["state"] == step["state"]
    # answers so far → the result model: 第六条 “…省科技型中小企业，分别奖励…2万元”
    state = {
        "answers": {
            "applicant": "enterprise",
            "registered_place": "焦作市",
            "independent_legal_person": True,
            "certifications": [{"kind": "省科技型中小企业", "year": 2017}],
        },
        "unknown": [],
        "history": ["applicant", "registered_place", "independent_legal_person", "certifications"],
    }
    result = client.post("/api/questionnaire/result", json={"as_of": "2018-02-01", "state": state})
    assert result.status_code == 200
    cash = {b["rule_id"]: b["amount"] for b in result.json()["cash"]}
    assert cash["jz.kjjl.prov_tech_sme"] == 20_000
    assert result.json()["cash_total"] >= 20_000


@pytest.mark.parametrize(
    ("url", "body", "path"),
    [
        ("/api/questionnaire/start", {"as_of": "2018-13-01"}, "as_of"),
        ("/api/questionnaire/answer", {"name": "no_such_question", "value": 1}, "name"),
        ("/api/questionnaire/answer", {"name": "registered_place", "value": "火星"}, "value"),
        ("/api/questionnaire/answer", {"name": "registered_place"}, "value"),
        ("/api/questionnaire/answer", {"value": 1}, "name"),
        ("/api/questionnaire/back", {"state": {"answers": []}}, "state.answers"),
        ("/api/questionnaire/back", {"state": {"history": ["a"] * 501}}, "state.history"),
        (
            "/api/questionnaire/result",
            {"state": {"answers": {"founding_year": "去年"}}},
            "state.answers.founding_year",
        ),
    ],
)
def test_questionnaire_api_bad_input_is_422_naming_the_field(
    client: TestClient, url: str, body: dict, path: str
) -> None:
    r = client.post(url, json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert errors[0]["path"] == path
    assert all(re.search(r"[\u4e00-\u9fff]", e["reason"]) for e in errors)


def test_guided_check_download_uses_its_state(client: TestClient) -> None:
    """The result page of /check/ask downloads the workbook of the same answers: 第六条
    “…省科技型中小企业…2万元” and 第八条（四）280万 × 10% = 28万 → 30万."""
    import json
    from io import BytesIO

    from openpyxl import load_workbook

    state = {
        "answers": {
            "applicant": "enterprise",
            "registered_place": "焦作市",
            "independent_legal_person": True,
            "certifications": [{"kind": "省科技型中小企业", "year": 2017}],
            "tech_absorb_volume_last_year": 2_800_000,
        },
        "unknown": [],
        "history": [],
        "as_of": "2018-02-01",
    }
    page = client.post(
        "/check/ask", data={"state": json.dumps(state), "name": "", "action": "stop"}
    ).text
    assert "30万元" in page and 'name="state"' in page
    r = client.post("/check.xlsx", data={"state": json.dumps(state)})
    assert r.status_code == 200
    ws = load_workbook(BytesIO(r.content)).active
    head = {row[0].value: row[1].value for row in ws.iter_rows(max_row=7)}
    assert head["可确定的资金奖励补贴合计（元）"] == 300_000
    bad = client.post("/check.xlsx", data={"state": "{not json"})
    assert bad.status_code == 422 and "重新开始" in bad.text


def test_rules_by_department_and_jurisdictions(client: TestClient) -> None:
    rules = client.get("/api/rules", params={"department": "科技"}).json()
    assert rules and all("科技" in r["apply"]["department"] for r in rules)
    everything = client.get("/api/rules").json()
    assert len(rules) < len(everything)
    assert client.get("/api/rules", params={"department": "没有这个部门"}).json() == []
    places = {p["place"]: p for p in client.get("/api/jurisdictions").json()}
    # 孟州市 is a county-level city of 焦作市 in 河南省: its own pack, then each above it
    assert places["孟州市"]["chain"] == ["cn", "henan", "jiaozuo", "mengzhou"]
    assert places["焦作市"]["pack"] == "jiaozuo"
    assert places["郑州市"]["chain"] == ["cn", "henan"]  # no pack of its own: the province's


def test_rules_page_filters_by_department(client: TestClient) -> None:
    page = client.get("/rules", params={"department": "科技局"}).text
    everything = client.get("/rules").text
    assert 'name="department" value="科技局"' in page
    assert 0 < page.count('class="benefit"') < everything.count('class="benefit"')
    assert "受理部门：" in page
