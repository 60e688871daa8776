"""End to end: the real server (uvicorn) and Debian's chromium through Playwright, at phone
width (390 px). `.ci/run` installs chromium when it is missing."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}


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
