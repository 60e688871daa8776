"""政策体检 on the web, one question at a time: the engine's questionnaire behind a stateless
page (the answers travel in a hidden field and are validated again on every step)."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from huiqi.web.app import create_app

client = TestClient(create_app())


def _state(page: str) -> str:
    return html.unescape(re.search(r'name="state" value="([^"]*)"', page).group(1))


def _question(page: str) -> str:
    return re.search(r'class="question"><strong>([^<]*)</strong>', page).group(1)


def test_guided_self_check_to_the_result():
    page = client.get("/check/ask?as_of=2018-06-30").text
    assert "身份" in _question(page)
    page = client.post(
        "/check/ask",
        data={
            "state": _state(page),
            "name": "applicant",
            "value": "enterprise",
            "action": "answer",
        },
    ).text
    assert "注册地" in _question(page)
    page = client.post(
        "/check/ask",
        data={
            "state": _state(page),
            "name": "registered_place",
            "value": "孟州市",
            "action": "answer",
        },
    ).text
    assert "勾选" in _question(page)
    # tick nothing: no records of any family offered
    page = client.post(
        "/check/ask", data={"state": _state(page), "name": "families", "action": "answer"}
    ).text
    asked = set()
    for _ in range(120):  # 不知道 to everything ends with the result page
        if 'class="question"' not in page:  # the result page
            break
        q = _question(page)
        assert q not in asked, q  # never the same question twice
        asked.add(q)
        name = re.search(r'name="name" value="([^"]*)"', page).group(1)
        page = client.post(
            "/check/ask", data={"state": _state(page), "name": name, "action": "dont_know"}
        ).text
    assert "政策体检结果" in page and "孟州市" in page


def test_back_and_a_missing_answer():
    page = client.get("/check/ask?as_of=2018-06-30").text
    first = _state(page)
    page = client.post(
        "/check/ask", data={"state": first, "name": "applicant", "value": "enterprise"}
    ).text
    again = client.post("/check/ask", data={"state": _state(page), "action": "back"}).text
    assert "身份" in _question(again)
    empty = client.post("/check/ask", data={"state": first, "name": "applicant", "value": ""}).text
    assert "请先选择或填写" in empty


def test_a_wrong_answer_is_named_and_asked_again():
    page = client.get("/check/ask?as_of=2018-06-30").text
    page = client.post(
        "/check/ask", data={"state": _state(page), "name": "applicant", "value": "enterprise"}
    ).text
    bad = client.post(
        "/check/ask",
        data={"state": _state(page), "name": "registered_place", "value": "<b>火星</b>"},
    )
    assert bad.status_code == 200 and "注册地" in _question(bad.text)
    assert "<b>火星</b>" not in bad.text  # escaped, if echoed at all


def test_a_tampered_state_is_refused():
    for state in ("{bad", "[1, 2]", "x" * 70_000):
        r = client.post("/check/ask", data={"state": state, "action": "answer"})
        assert r.status_code in (413, 422) and "重新开始" in r.text
