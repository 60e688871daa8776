"""Rule test cases written in YAML (policies/<pack>/tests/*.yaml), run by `huiqi test` and pytest.

    cases:
      - name: 首次认定高企
        as_of: 2018-02-01
        profile: {registered_in_jiaozuo: true, ...}   # or a path relative to the pack
        expect:
          jz.kjjl.gaoqi_first_cert: {status: eligible, amount: 200000}
          jz.kjjl.prov_tech_sme: not_eligible            # status only
        total: 200000                                     # optional

Expected values are worked out by hand from the text; `amount`, `amount_min`, `amount_max`
are 元 (written as numbers or money literals such as 20万), `missing` a list of variables,
`set_aside` whether stacking set the rule aside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import yaml

from .expr import literal_value
from .match import STATUS_LABELS, match
from .pack import Pack
from .profile import ProfileError, read_profile_file


@dataclass
class Case:
    file: str
    name: str
    as_of: date
    profile: Any
    expect: dict[str, dict[str, Any]]
    total: Any = None
    index: int = 0

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


@dataclass
class CaseResult:
    case: Case
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def load_cases(pack: Pack) -> list[Case]:
    out: list[Case] = []
    for path in sorted((pack.root / "tests").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for i, raw in enumerate(data.get("cases") or []):
            profile = raw.get("profile")
            if isinstance(profile, str):
                profile = read_profile_file(pack.root / profile)
            expect = {}
            for rid, exp in (raw.get("expect") or {}).items():
                expect[str(rid)] = {"status": exp} if isinstance(exp, str) else dict(exp)
            as_of = raw.get("as_of")
            out.append(
                Case(
                    file=path.name,
                    name=str(raw.get("name") or f"case{i + 1}"),
                    as_of=as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of)),
                    profile=profile,
                    expect=expect,
                    total=raw.get("total"),
                    index=i,
                )
            )
    return out


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    v = literal_value(value)
    return Decimal(v)  # type: ignore[arg-type]


def run_case(pack: Pack, case: Case) -> CaseResult:
    result = CaseResult(case)
    try:
        report = match(case.profile, case.as_of, pack)
    except ProfileError as exc:
        result.failures.append(f"画像无效：{exc}")
        return result
    by_id = {r.rule.id: r for r in report.results}
    for rid, exp in case.expect.items():
        r = by_id.get(rid)
        if r is None:
            result.failures.append(f"{rid}: 没有这条规则")
            continue
        status = exp.get("status")
        if status and status != r.status:
            extra = f"，缺少 {list(r.missing)}" if r.missing else (f"，{r.reason}" if r.reason else "")
            result.failures.append(
                f"{rid}: 状态应为 {status}（{STATUS_LABELS.get(status, '?')}），实为 {r.status}{extra}"
            )
        for key, actual in (("amount", r.amount), ("amount_min", r.amount_min), ("amount_max", r.amount_max)):
            if key in exp:
                want = _money(exp[key])
                if want != (None if actual is None else Decimal(actual)):
                    result.failures.append(f"{rid}: {key} 应为 {want}，实为 {actual}")
        if "missing" in exp and set(exp["missing"]) != {m.split(".")[0] for m in r.missing}:
            result.failures.append(f"{rid}: 缺少项应为 {sorted(exp['missing'])}，实为 {list(r.missing)}")
        if "set_aside" in exp and bool(exp["set_aside"]) != (r.set_aside_by is not None):
            result.failures.append(f"{rid}: set_aside 应为 {exp['set_aside']}，实为 {r.set_aside_by}")
    if case.total is not None:
        want = _money(case.total)
        if want != report.total:
            result.failures.append(f"合计应为 {want}，实为 {report.total}")
    return result
