"""Compiled batches are kept per pack: the same arguments give the same (read-only) batch
without compiling again; the memo holds at most COMPILED_KEPT of them."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

import huiqi.batch.compile as compile_module
from huiqi.batch.compile import COMPILED_KEPT, compile_rules
from huiqi.packs.loader import bundled_pack


def test_the_same_arguments_give_the_kept_batch(monkeypatch):
    pack = bundled_pack("jiaozuo")
    rules = [cr for cr in pack.compiled if cr.rule.doc_title == "焦作市科技创新券实施管理暂行办法"]
    calls = []
    real = compile_module._compile
    monkeypatch.setattr(compile_module, "_compile", lambda *a: calls.append(a) or real(*a))
    pack.memo.pop("compiled_batches", None)
    first = compile_rules(pack, date(2019, 3, 1), "duckdb", rules)
    assert compile_rules(pack, date(2019, 3, 1), "duckdb", list(rules)) is first
    assert len(calls) == 1
    # another date, dialect, rule set or received table is compiled anew
    other = [
        compile_rules(pack, date(2020, 3, 1), "duckdb", rules),
        compile_rules(pack, date(2019, 3, 1), "spark", rules),
        compile_rules(pack, date(2019, 3, 1), "duckdb", rules[:1]),
        compile_rules(pack, date(2019, 3, 1), "duckdb", rules, received=True),
    ]
    assert len(calls) == 5 and all(b is not first for b in other)
    assert other[0].sql != first.sql  # 上年度 follows the date
    assert len(pack.memo["compiled_batches"]) == COMPILED_KEPT  # the oldest was dropped
    assert compile_rules(pack, date(2019, 3, 1), "duckdb", rules) is not first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.sqls = []  # type: ignore[misc]
