"""Ingest of texts as a city gets them from the web (issue #14): tests/data/web_texts/ holds real
policy pages (other provinces, cities and counties; sources in truth.yaml and in each page's
comment) and bundled corpus documents re-rendered with web noise, with a hand-written truth."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from huiqi.ingest.html import html_to_text, looks_like_html
from huiqi.ingest.pipeline import ingest_paths, parse_text
from huiqi.ingest.segment import _is_noise, _metadata_key, flattened_metadata
from huiqi.ingest.text import find_doc_numbers, halfwidth, is_date_line, squeeze
from huiqi.library.store import Library

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "bench_web_texts", ROOT / "bench" / "bench_web_texts.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

# What the parser still gets wrong, named: a regression or a fix both make this test fail.
KNOWN_MISSES = {
    # 一、自2019年1月1日至2021年12月31日，…均可享受优惠政策: the measure's window is read as the
    # announcement's end (as the corpus truth does for 财税〔2017〕43号); the truth says the
    # announcement itself only 自2019年1月1日起施行.
    ("effective_to", "c07_sat_2019_2.html"),
}


# Held-out pages (truth written before the parser ran on them) that it still gets wrong:
# h05 lists its metadata as unlabeled bullets (issuer, dates) that are read as part of the
# title, and numbers its outline 1 / 1.1 / 2, a numbering family the parser does not read.
KNOWN_HELD_OUT_MISSES = {
    ("title", "h05_xinzheng_2022.html"),
    ("issued_on", "h05_xinzheng_2022.html"),
    ("structure", "h05_xinzheng_2022.html"),
    ("furniture", "h05_xinzheng_2022.html"),
}


def _misses(results) -> set[tuple[str, str]]:
    return {
        (field, text.split(" ")[0].rstrip(":"))
        for field, checks in results.items()
        for ok, text in checks
        if not ok
    }


def test_every_field_against_the_hand_written_truth():
    results = bench.run(held_out=False)
    assert _misses(results) == KNOWN_MISSES, "\n".join(
        t for f, checks in results.items() for ok, t in checks if not ok
    )
    assert len(bench.files()) >= 20


def test_held_out_pages():
    results = bench.run(held_out=True)
    assert _misses(results) == KNOWN_HELD_OUT_MISSES, "\n".join(
        t for f, checks in results.items() for ok, t in checks if not ok
    )


def test_no_text_lost():
    """Every line of every file (after a page's markup is read) ends in a document: its title,
    a clause, its metadata, or the furniture kept out of the body."""
    result = ingest_paths(bench.files())
    lost = []
    for path in bench.files():
        raw = path.read_text(encoding="utf-8")
        text = html_to_text(raw) if looks_like_html(raw) else raw
        docs = [d for d in result.documents if d.source == path.name]
        held = squeeze(halfwidth("".join(
            [d.title for d in docs] + [c.text for d in docs for c in d.walk()]
            + [n for d in docs for n in d.noise]
            + [v or "" for d in docs for v in (d.index_number, d.status, d.rank)]
        )))  # fmt: skip
        numbers = {d.doc_number for d in docs}
        for line in text.split("\n"):
            t = line.strip()
            tag = re.match(r"【[^】]*】", t)  # a site's label, kept as noise, before the title
            if tag and any(tag.group() in d.noise for d in docs):
                t = t[tag.end() :]
            flat = squeeze(halfwidth(t))
            if not flat or flat in held or _is_noise(t) or is_date_line(t):
                continue
            if not re.sub(r"[\d:\s年月日\-./]", "", t):  # a date (and time) value of a field
                continue
            if _metadata_key(t) or flattened_metadata(t):
                continue
            if {n for _, _, n in find_doc_numbers(t)} & numbers:
                continue
            # a heading line whose words the title holds (an issuer line, a title repeated
            # with its 文号, a letterhead)
            short = len(flat) <= 12 and not re.search(r"[，。；,;]", flat)
            if all(squeeze(halfwidth(p)) in held for p in t.split()) or short:
                continue
            lost.append(f"{path.name}: {t!r}")
    assert not lost, "\n".join(lost)


def test_word_html_spans_are_joined_and_markup_never_indexed():
    page = (
        "<html><head><style>p.MsoNormal{mso-style-unhide:no}</style><title>网站</title></head>"
        "<body><p class=MsoNormal><span lang=EN-US style='mso-bidi-font-family:x'>1</span>"
        "<span>.</span><span>重要意义。焦作高新区</span><span>建区十八年来。</span></p>"
        "<p class=MsoNormal><span>2.战略定位。</span></p></body></html>"
    )
    assert looks_like_html(page)
    assert html_to_text(page) == "1.重要意义。焦作高新区建区十八年来。\n2.战略定位。\n"


def test_markup_in_a_javascript_string_is_read():
    page = (
        '<html><body><div class="loading">加载中...</div><script>'
        'var content = "<p>第一条 为了规范管理，制定本办法。<\\/p><p>第二条 本办法自印发之日起施行。<\\/p>";'
        "</script></body></html>"
    )
    assert (
        html_to_text(page) == "第一条 为了规范管理，制定本办法。\n第二条 本办法自印发之日起施行。\n"
    )


def test_page_detected_by_content_not_by_name(tmp_path):
    saved = tmp_path / "saved.txt"
    saved.write_text(
        "<!DOCTYPE html><html><body><div class='share'>分享到：微信</div><div id='zoom'>"
        "<p>某市关于测试的通知</p><p>一、奖励。对企业奖励10万元。</p></div></body></html>",
        encoding="utf-8",
    )
    (doc,) = ingest_paths([saved]).documents
    assert doc.title == "某市关于测试的通知"
    assert [c.label for c in doc.clauses] == ["一"]
    assert "分享" not in "".join(c.text for c in doc.walk())


def test_same_wrong_title_never_collides(tmp_path):
    """Two different texts under one (wrong) title are both kept, under two ids, also in the
    library."""
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    a.write_text("<html><body><p>政策原文</p><p>一、对企业奖励5万元。</p></body></html>", "utf-8")
    b.write_text("<html><body><p>政策原文</p><p>一、对企业补助10万元。</p></body></html>", "utf-8")
    result = ingest_paths([a, b])
    assert [d.title for d in result.documents] == ["政策原文", "政策原文"]
    assert len({d.id for d in result.documents}) == 2
    library = Library(tmp_path / "lib.db")
    library.save(result.documents)
    assert len(library.all_documents()) == 2


def test_addressee_line_never_becomes_the_title():
    (doc,) = parse_text(
        "焦政〔2020〕15号\n各县（市、区）人民政府，市人民政府各部门：\n一、表彰名单。\n", "x.txt"
    )
    assert not doc.title_in_text
    assert "各县" not in doc.title and doc.doc_number == "焦政〔2020〕15号"


def test_validity_phrasings():
    """自…起执行，暂定两年 / 有效期暂定五年 / 执行至… / 有效期至… / 执行期限为…至…"""
    from datetime import date

    def window(sentence: str):
        (doc,) = parse_text(f"某市关于测试的通知\n一、奖励。\n二、{sentence}\n", "x.txt")
        return doc.effective_from, doc.effective_to

    assert window("本通知自2022年5月1日起执行，暂定两年。") == (date(2022, 5, 1), date(2024, 4, 30))
    assert window("本通知自2021年6月1日起施行，有效期暂定五年。") == (
        date(2021, 6, 1),
        date(2026, 5, 31),
    )
    assert window("本通知自2023年3月1日起施行，执行至2025年12月31日。") == (
        date(2023, 3, 1),
        date(2025, 12, 31),
    )
    assert window("本通知有效期至2025年12月31日。")[1] == date(2025, 12, 31)
    assert window("本通知执行期限为2022年1月1日至2024年12月31日。") == (
        date(2022, 1, 1),
        date(2024, 12, 31),
    )


def test_article_numbers_in_any_width_and_spacing():
    (doc,) = parse_text(
        "某市测试办法\n第 1 条 甲。\n第２条 乙。\n第 1 2 条 丙。\n第十三条 丁。\n", "x.txt"
    )
    assert [c.label for c in doc.clauses] == ["第一条", "第二条", "第十二条", "第十三条"]


def test_announcement_numbers():
    found = [
        n
        for _, _, n in find_doc_numbers(
            "见财政部 税务总局公告2022年第10号和国家税务总局公告2019年第2号"
        )
    ]
    assert found == ["财政部税务总局公告2022年第10号", "国家税务总局公告2019年第2号"]
    assert [n for _, _, n in find_doc_numbers("豫政 [2018] 7号")] == ["豫政〔2018〕7号"]
