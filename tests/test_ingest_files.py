"""Files as they arrive: encodings, empty and binary files, re-ingesting."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TRUTH, truth_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from huiqi.ingest.decode import (
    CONTROL_RE,
    IngestError,
    decode_bytes,
    has_controls,
    utf8_has_controls,
    without_controls,
)
from huiqi.ingest.pipeline import ingest_paths
from huiqi.library.store import Library
from huiqi.resources import bundled_corpus

# 焦政办〔2017〕63号; its one no-break space has no GBK code, as in real GBK files.
SAMPLE = (
    next(p for p in bundled_corpus() if p.name.startswith("002_"))
    .read_text(encoding="utf-8")
    .replace("\xa0", " ")
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings_are_detected(tmp_path: Path, encoding):
    path = tmp_path / f"doc-{encoding}.txt"
    path.write_bytes(SAMPLE.encode(encoding))
    result = ingest_paths([path])
    assert not result.errors
    (doc,) = result.documents
    assert doc.doc_number == "焦政办〔2017〕63号"
    assert not doc.title.startswith("\ufeff")


def test_gb18030_only_characters_survive():
    text = "关于𠀀字的通知\n一、第一项。\n"  # 𠀀 needs GB18030's four-byte form, not in GBK
    decoded, encoding = decode_bytes(text.encode("gb18030"), "x.txt")
    assert decoded == text and encoding == "gb18030"


def test_bad_files_are_reported_by_name_and_the_rest_ingested(tmp_path: Path):
    (tmp_path / "a_empty.txt").write_bytes(b"")
    (tmp_path / "b_binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "c_latin1.txt").write_bytes("caf\xe9 na\xefve".encode("latin-1"))
    (tmp_path / "d_good.txt").write_text(SAMPLE, encoding="utf-8")
    result = ingest_paths([tmp_path])
    assert [d.doc_number for d in result.documents] == ["焦政办〔2017〕63号"]
    assert len(result.errors) == 3
    for name, reason in [
        ("a_empty.txt", "为空"),
        ("b_binary.txt", "二进制"),
        ("c_latin1.txt", "编码"),
    ]:
        assert any(name in e and reason in e for e in result.errors), result.errors


def test_decode_error_names_the_file():
    with pytest.raises(IngestError, match=r"some/file\.txt"):
        decode_bytes(b"\xff\xfe\xfa\xfb" * 10, "some/file.txt")


def test_ingesting_twice_keeps_one_copy(tmp_path: Path):
    library = Library(tmp_path / "lib.db")
    first = ingest_paths(truth_corpus())
    library.save(first.documents)
    library.save(ingest_paths(truth_corpus()).documents)
    rows = library.list_documents()
    assert len(rows) == len(first.documents) == len(TRUTH)
    assert len({r["id"] for r in rows}) == len(TRUTH)
    clauses = library.iter_clauses()
    assert len(clauses) == sum(sum(1 for _ in d.walk()) for d in first.documents)


def test_ids_are_stable_across_runs():
    a = [d.id for d in ingest_paths(bundled_corpus()).documents]
    b = [d.id for d in ingest_paths(bundled_corpus()).documents]
    assert a == b and len(set(a)) == len(a)


def test_unreadable_number_field_is_a_warning_not_a_crash(tmp_path: Path):
    path = tmp_path / "odd.txt"
    path.write_text(
        "关于测试的通知\n 文　　号 \n焦政办〔2017〕1290001号\n一、给予奖励。\n", encoding="utf-8"
    )
    result = ingest_paths([path])
    (doc,) = result.documents
    assert doc.doc_number is None
    assert any("文号字段无法识别" in w for w in result.warnings)


def test_the_same_document_in_two_files_is_kept_once(tmp_path: Path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(SAMPLE, encoding="utf-8")
    result = ingest_paths([tmp_path])
    assert len(result.documents) == 1
    # a duplicate is a rejection (shown even with -q), its lines counted as reported
    assert any("重复" in str(r) and "a.txt" in str(r) for r in result.rejections)
    assert result.balanced and result.lines_reported > 0
    Library(tmp_path / "lib.db").save(result.documents + result.documents)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=6),
            st.sampled_from(["\x1b[31m", "\x1b]0;标题\x07", "\x1b]8;;x\x1b\\", "\x1b", "\x85"]),
            st.sampled_from(["焦作", "\t", "\n", "\r\n", "\x0c", "\x00", "\x7f", "\x9f", "\xa0"]),
        ),
        max_size=12,
    )
)
def test_without_controls_removes_what_the_control_pattern_removes(parts):
    """The reader's per-line shortcut (look for a control character first, substitute only
    then) gives exactly what substituting CONTROL_RE everywhere gives."""
    text = "".join(parts)
    assert without_controls(text) == CONTROL_RE.sub("", text)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=6),
            st.sampled_from(["焦作", "·", "°", "\u0080", "\u0085", "\u009f", "\u00a0", "\u00c2"]),
            st.sampled_from(["\t", "\n", "\r", "\x0c", "\x00", "\x0b", "\x1f", "\x7f", "\x1b"]),
        ),
        max_size=12,
    ),
    st.integers(min_value=0, max_value=40),
)
def test_utf8_controls_found_in_the_bytes_as_in_the_text(parts, cut):
    """A UTF-8 registry is searched for control characters in its bytes, block by block: the
    same answer as searching the decoded text, wherever a block ends (a C1 control such as
    U+0085 is two bytes, \\xc2\\x85, that a block's end may split)."""
    text = "".join(parts)
    data = text.encode("utf-8")
    assert utf8_has_controls(data) == has_controls(text)
    before, after = data[:cut], data[cut:]
    assert (utf8_has_controls(before) or utf8_has_controls(after, before)) == has_controls(text)


def test_a_c1_control_across_the_registry_scan_s_blocks_is_found(tmp_path):
    """`_csv_scan` reads 1 MB at a time: U+0085 split over the seam is still found."""
    from huiqi.batch.read import _BLOCK, _csv_scan

    head = b"id,name\n" + b"a" * (_BLOCK - 9) + b"\xc2"  # the first block ends on \xc2
    path = tmp_path / "r.csv"
    path.write_bytes(head + b"\x85,x\n")
    assert _csv_scan(path) == ("utf-8", True)
    path.write_bytes(head + b"\xb7,x\n")  # U+00B7 (·), no control
    assert _csv_scan(path) == ("utf-8", False)
