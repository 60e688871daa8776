"""Layering of the Jiaozuo pack: the national vocabulary (variables/national.yaml, variables/tax.yaml)
and the national tax rules (rules/tax_*.yaml) will become a pack of their own, so they may read only
national variables and the tax parameters — never a city variable. City variables may read national
ones. Every fact is asked once: no two input variables of the pack share a label."""

from __future__ import annotations

from pathlib import Path

import pytest

from huiqi.lang.expr import Param, names_read, walk
from huiqi.packs.loader import bundled_pack

PACK = bundled_pack("jiaozuo")
NATIONAL_FILES = {"national.yaml", "tax.yaml"}


def _file(path: str) -> str:
    return Path(path).name


NATIONAL = {n for n, v in PACK.variables.items() if _file(v.file) in NATIONAL_FILES}


def _foreign(node) -> list[str]:
    bad = [n for n in names_read(node) if n not in NATIONAL]
    bad += [
        f"param:{n.name}"
        for n in walk(node)
        if isinstance(n, Param) and _file(PACK.parameters[n.name].file) != "tax.yaml"
    ]
    return bad


def test_there_is_a_national_vocabulary():
    assert {
        "annual_results",
        "certifications",
        "industry",
        "enterprise_size",
        "hte_valid",
    } <= NATIONAL


@pytest.mark.parametrize("name", sorted(n for n in NATIONAL if PACK.variables[n].derived))
def test_national_variables_read_only_national_variables(name):
    assert not _foreign(PACK.variables[name].node), name


def test_tax_rules_read_only_national_variables():
    tax_rules = [c for c in PACK.compiled if _file(c.rule.where.file).startswith("tax_")]
    assert tax_rules
    problems = {
        c.rule.id: bad
        for c in tax_rules
        for node in [*(n for n, _text in c.parts), *c.amount_nodes.values()]
        if (bad := _foreign(node))
    }
    assert not problems, problems


def test_a_city_rule_is_seen_reading_a_city_variable():
    """The check above can fail: the resolved conditions of a city rule name city variables."""
    city = PACK.by_id["jz.kjjl.gaoqi_first_cert"]
    assert "local_legal_entity" in [b for n, _ in city.parts for b in _foreign(n)]


def test_no_two_inputs_ask_for_the_same_fact():
    seen: dict[str, str] = {}
    twice = []
    for name, v in PACK.variables.items():
        if v.derived:
            continue
        if v.label in seen:
            twice.append((seen[v.label], name, v.label))
        seen[v.label] = name
    assert not twice, twice
