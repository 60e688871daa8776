"""Rule test cases written in YAML (policies/<pack>/tests/*.yaml), run by `huiqi test` and pytest.

    cases:
      - name: 首次认定高企
        as_of: 2018-02-01
        profile: {registered_place: 某市, ...}   # or a path relative to the pack
        expect:
          jz.kjjl.gaoqi_first_cert: {status: eligible, amount: 200000}
          jz.kjjl.prov_tech_sme: not_eligible            # status only
        total: 200000            # optional: certain money (评审裁量 never in it)
        review_total: [0, 50万]   # optional: the review-dependent amounts, a number or [min, max]

Expected values are worked out by hand from the text; `amount`, `amount_min`, `amount_max`
are 元 (written as numbers or money literals such as 20万), `missing` a list of variables,
`set_aside` whether stacking set the rule aside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..engine.match import STATUS_LABELS, _bounds, is_review, match
from ..engine.profile import ProfileError, read_profile_file
from ..errors import PackError
from ..explain import render
from ..lang.expr import literal_value
from ..packs.loader import Pack
from ..packs.yamlio import load_yaml
from ..safeyaml import InputError


@dataclass
class Case:
    file: str
    name: str
    as_of: date
    profile: Any
    expect: dict[str, dict[str, Any]]
    total: Any = None  # certain money (评审裁量 amounts are never in it)
    review_total: Any = None  # the review-dependent amounts: a number or [min, max]
    index: int = 0
    # Rule files whose eligible amounts `total` adds up: by default the rules file with the
    # test file's name, so a case stays true when other documents' benefits are added to
    # the pack; `total_scope: pack` (per case) or `rule_files: [...]` (per file) widen it.
    scope: tuple[str, ...] | None = None

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
        # The strict reader: a duplicate key or a bad date is an error naming file and line.
        data = load_yaml(path, f"{pack.root.name}/tests/{path.name}") or {}
        if not isinstance(data, dict):
            raise PackError(
                "测试文件应为映射（cases: …）", file=f"{pack.root.name}/tests/{path.name}"
            )
        file_scope = tuple(data.get("rule_files") or [path.name])
        if not any((pack.root / "rules" / f).is_file() for f in file_scope):
            file_scope = ()  # no rules file of that name: the whole pack
        for i, raw in enumerate(data.get("cases") or []):
            profile = raw.get("profile")
            if isinstance(profile, str):
                try:
                    profile = read_profile_file(pack.root / profile)
                except (FileNotFoundError, InputError) as exc:
                    raise PackError(
                        f"用例 {raw.get('name') or i + 1} 的画像文件无法读取：{exc}",
                        file=f"{pack.root.name}/tests/{path.name}",
                    ) from None
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
                    review_total=raw.get("review_total"),
                    index=i,
                    scope=None
                    if raw.get("total_scope") == "pack" or not file_scope
                    else file_scope,
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
            extra = (
                f"，缺少 {list(r.missing)}"
                if r.missing
                else (f"，{render(r.reason)}" if r.reason else "")
            )
            result.failures.append(
                f"{rid}: 状态应为 {status}（{STATUS_LABELS.get(status, '?')}），实为 {r.status}{extra}"
            )
        for key, actual in (
            ("amount", r.amount),
            ("amount_min", r.amount_min),
            ("amount_max", r.amount_max),
        ):
            if key in exp:
                want = _money(exp[key])
                if want != (None if actual is None else Decimal(actual)):
                    result.failures.append(f"{rid}: {key} 应为 {want}，实为 {actual}")
        if "missing" in exp and set(exp["missing"]) != {m.split(".")[0] for m in r.missing}:
            result.failures.append(
                f"{rid}: 缺少项应为 {sorted(exp['missing'])}，实为 {list(r.missing)}"
            )
        if "set_aside" in exp and bool(exp["set_aside"]) != (r.set_aside_by is not None):
            result.failures.append(
                f"{rid}: set_aside 应为 {exp['set_aside']}，实为 {r.set_aside_by}"
            )
    in_scope = [
        r
        for r in report.eligible
        if case.scope is None or Path(r.rule.where.file).name in case.scope
    ]
    where = "、".join(case.scope) if case.scope else "全部规则"
    if case.total is not None:
        want = _money(case.total)
        got = sum(
            (r.amount for r in in_scope if r.amount is not None and not is_review(r)),
            Decimal(0),
        )
        if want != got:
            result.failures.append(f"确定金额合计（{where}）应为 {want}，实为 {got}")
    if case.review_total is not None:
        bounds = (
            case.review_total if isinstance(case.review_total, list) else [case.review_total] * 2
        )
        want_low, want_high = (_money(b) for b in bounds)
        reviewed = [_bounds(r) for r in in_scope if is_review(r)]
        low = sum((b[0] for b in reviewed), Decimal(0))
        high = sum((b[1] for b in reviewed), Decimal(0))
        if (want_low, want_high) != (low, high):
            result.failures.append(
                f"评审裁量合计（{where}）应为 {want_low}–{want_high}，实为 {low}–{high}"
            )
    return result
