"""End to end: the real server (uvicorn) and Debian's chromium through Playwright, at phone
width (390 px) unless said otherwise. `.ci/run` installs chromium when it is missing.

Screenshots of the result page (desktop, phone 390×844, print) go to tests/artifacts/ (not in
git) for a person to look at."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
EXAMPLES = Path(__file__).parent.parent / "examples"
ARTIFACTS = Path(__file__).parent / "artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "huiqi.web.app:app", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # start-up warms the packs and the search index
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    yield pg
    context.close()
    assert problems == []  # a CSP violation or a script error shows here


def fits_phone(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_search_from_home(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    assert fits_phone(page)
    page.fill("#q", "技术交易额")
    page.press("#q", "Enter")
    page.wait_for_url("**/search?q=*")
    assert page.locator("mark").count() > 0
    assert fits_phone(page)
    page.locator("a.cite").first.click()
    page.wait_for_load_state()
    assert page.locator(".clause.target").count() == 1  # site.js ran under the CSP


def test_check_on_a_phone(page: Page, base_url: str) -> None:
    page.goto(base_url + "/check")
    assert fits_phone(page)
    page.select_option("#f-registered_place", "焦作市")
    page.fill("#f-as_of", "2018-02-01")
    page.select_option("#f-independent_legal_person", "true")
    page.check('input[name="certifications"][value="省科技型中小企业"]')
    page.fill("#f-certifications-year", "2017")
    # 第八条（四）: 280万 × 10% = 28万; 第六条 省科技型中小企业 2万
    page.fill("#f-tech_absorb_volume_last_year", "280万")
    page.click("button[type=submit]")
    page.wait_for_url("**/check")
    assert page.locator(".total.main strong").inner_text() == "30万元"
    assert fits_phone(page)
    details = page.locator("details.other")
    if details.count():
        details.locator("summary").click()
        assert details.locator(".benefit").first.is_visible()


def test_document_page_fits(page: Page, base_url: str) -> None:
    page.goto(base_url + "/documents")
    page.locator(".doclist a").first.click()
    page.wait_for_load_state()
    assert page.locator("li.clause").count() > 0
    assert fits_phone(page)


# --- 政策体检 one question at a time, answering from an example profile ----------------------


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _answer_from(page: Page, profile: dict, went_back: list[str]) -> None:
    """Answer the question on the page from `profile`; 不知道 for what the profile does not say
    (the first time: 不知道, then 上一题 and the same question again, then 不知道)."""
    name = page.locator('input[name="name"]').input_value()
    if name == "families":
        for box in page.locator('input[name="values"]').all():
            if profile.get(box.get_attribute("value") or ""):
                box.check()
    elif name in profile:
        value = profile[name]
        if page.locator("fieldset.event").count():
            for i, row in enumerate(value):
                for field, v in row.items():
                    box = page.locator(f'[name="e{i}__{field}"]')
                    if box.evaluate("e => e.tagName") == "SELECT":
                        box.select_option(_as_text(v))
                    else:
                        box.fill(_as_text(v))
        elif page.locator('input[name="value"][type="radio"]').count():
            page.check(f'input[name="value"][value="{_as_text(value)}"]')
        else:
            page.fill('input[name="value"]', _as_text(value))
    else:
        if not went_back:
            progress = page.locator(".progress").inner_text()
            page.click('button[value="dont_know"]')
            page.wait_for_load_state()
            assert "1 题“不知道”" in page.locator(".progress").inner_text()
            page.click('button[value="back"]')  # 上一题: the same question, nothing unknown
            page.wait_for_load_state()
            assert page.locator('input[name="name"]').input_value() == name
            assert page.locator(".progress").inner_text() == progress
            went_back.append(name)
        page.click('button[value="dont_know"]')
        page.wait_for_load_state()
        return
    page.click('button[value="answer"]')
    page.wait_for_load_state()
    assert page.locator(".error").count() == 0, page.locator(".error").inner_text()


def guided_check(page: Page, base_url: str, example: str) -> dict:
    profile = yaml.safe_load((EXAMPLES / example).read_text(encoding="utf-8"))
    page.goto(f"{base_url}/check/ask?as_of={profile['as_of']}")
    went_back: list[str] = []
    for _ in range(200):
        if page.locator('form.check input[name="name"]').count() == 0:
            break
        _answer_from(page, profile, went_back)
    else:
        pytest.fail("the questionnaire did not end")
    assert went_back, "不知道 and 上一题 were not tried"
    assert page.locator("h1").inner_text() == "政策体检结果"
    return profile


def amount_of(page: Page, title: str) -> str:
    item = page.locator("li.benefit").filter(has=page.locator("h3", has_text=title))
    return item.locator(".amount").inner_text()


def test_guided_check_hightech_enterprise(page: Page, base_url: str) -> None:
    """examples/hightech_enterprise.yaml through /check/ask, answered from the profile.

    By hand (as tests/test_api.py::test_match_hightech_enterprise_total_by_hand), from
    《焦作市科技创新奖励资金管理暂行办法》: 第六条 “首次认定的国家高新技术企业奖励20万元” 20万
    + 第六条 省科技型中小企业 “2万元” 2万 + 第六条 省一等奖 “30万元” 30万 (国家三等奖 set aside:
    “按就高不重复原则奖励”) + 第八条（四）“按上年度技术交易额的10%” 280万×10% = 28万
    + 第九条 省专利奖三等奖 “5万元” 5万 + 第九条 “维持7年以上…每件每年给予2000元” 2,000元
    = 852,000 元 = 85.2万元.
    """
    guided_check(page, base_url, "hightech_enterprise.yaml")
    assert page.locator(".total.main strong").inner_text() == "85.2万元"
    assert amount_of(page, "技术交易") == "28万元"  # 280万 × 10%
    assert amount_of(page, "首次认定") == "20万元"
    # each benefit says where, by when (as dates) and how; the clause is quoted
    first = page.locator("li.benefit").first
    assert first.locator("blockquote").inner_text()
    assert "受理部门" in first.locator("dl.facts").inner_text()
    assert page.locator("dd.deadline").count() > 0

    ARTIFACTS.mkdir(exist_ok=True)
    shots = {"result-phone.png": PHONE, "result-desktop.png": DESKTOP}
    for name, size in shots.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=str(ARTIFACTS / "result-print.png"), full_page=True)
    page.emulate_media(media="screen")
    page.set_viewport_size(PHONE)
    assert fits_phone(page)
    print(f"screenshots in {ARTIFACTS}")

    # the Excel download carries the same answers (the questionnaire's state)
    with page.expect_download() as info:
        page.click("text=下载表格")
    path = info.value.path()
    ws = load_workbook(BytesIO(Path(path).read_bytes())).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    head = {r[0]: r[1] for r in rows[:7]}
    assert head["可确定的资金奖励补贴合计（元）"] == 852_000
    assert head["评估日期"] == "2018-02-01"
    amounts = {r[0]: r[2] for r in rows[8:] if r[1] == "资金"}
    assert sorted(amounts.values()) == [2_000, 20_000, 50_000, 200_000, 280_000, 300_000]


def test_guided_check_manufacturer(page: Page, base_url: str) -> None:
    """examples/manufacturer_2020.yaml (焦作, 2021-06-30) through /check/ask.

    By hand, from 《关于促进工业经济平稳健康发展的若干政策措施》（焦发〔2020〕17号）:
    - 一2 “对年度研发投入达到 3000 万元以上的重点企业，按照当年研发费用新增部分，给予 20%
      补助…每年不超过 200 万元”: 2020 研发 3400万 ≥ 3000万, 重点企业; 新增 3400万 − 2600万 =
      800万; × 20% = 160万 (under 200万)                                        1,600,000
    - 一3 “对首次获得中国驰名商标、国内知名品牌的企业，给予 50 万元的一次性奖励” (国内知名品牌,
      2020, first)                                                                500,000
    - 二10 “对于利用 5G 技术创建的智能工厂、智能车间…给予 50 万元的奖励” (5G智能车间)  500,000
                                                                           = 2,600,000 = 260万元
    """
    guided_check(page, base_url, "manufacturer_2020.yaml")
    assert page.locator(".total.main strong").inner_text() == "260万元"
    assert amount_of(page, "研发") == "160万元"
    assert amount_of(page, "5G") == "50万元"


def test_document_page_has_rules_beside_clauses(page: Page, base_url: str) -> None:
    page.goto(base_url + "/documents")
    page.get_by_role("link", name="焦作市科技创新奖励资金管理暂行办法", exact=True).click()
    page.wait_for_load_state()
    # 第八条（四）“按上年度技术交易额的10%…” with its rule beside it
    law = page.locator(".law", has_text="按上年度技术交易额的10%")
    assert law.count() == 1
    clause = page.locator("li.clause", has=law).last
    aside = clause.locator("aside.rules").first
    assert "科技成果转移转化承接单位奖励（技术交易额10%）" in aside.inner_text()
    assert aside.is_visible()
    anchor = clause.get_attribute("id")
    page.goto(f"{page.url.split('#')[0]}#{anchor}")
    target = page.locator(f'li.clause[id="{anchor}"]')
    assert target.is_visible() and "target" in (target.get_attribute("class") or "")
