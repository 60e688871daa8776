"""Rule test cases written in YAML (policies/<pack>/tests/*.yaml), run by `huiqi test` and pytest.

    cases:
      - name: 首次认定高企
        as_of: 2018-02-01
        profile: {registered_place: 某市, ...}   # or a path relative to the pack
        expect:
          jz.kjjl.gaoqi_first_cert: {status: eligible, amount: 200000}
          jz.kjjl.prov_tech_sme: {status: not_eligible, because: 在我市注册、具有独立法人资格}
        total: 200000            # optional: certain money (评审裁量 never in it)
        review_total: [0, 50万]   # optional: the review-dependent amounts, a number or [min, max]

Expected values are worked out by hand from the text; `amount`, `amount_min`, `amount_max`
are 元 (written as numbers or money literals such as 20万), `missing` a list of variables,
`set_aside` whether stacking set the rule aside.

A not-eligible expectation names its one reason (`because`): the label, clause or condition
text of the one `when` part that is false, the title (or id) of the one exclusion that
applies, or `not_for_applicant`. The case fails unless exactly one reason fails and it is
the one named — every part is evaluated for this, so a case failing on two conditions at
once (which would still pass with one of them encoded wrongly) is reported. The name must
single the reason out among the rule's reasons (a clause shared by two parts does not).
A `not_in_force` expectation may name `expired`, `not_yet_in_force` or `repealed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..engine.match import (
    NOT_ELIGIBLE,
    NOT_IN_FORCE,
    STATUS_LABELS,
    _in_force,
    evaluate_profile,
    is_review,
    review_bounds,
)
from ..engine.profile import Profile, ProfileError, read_profile_file, validate_profile
from ..errors import PackError
from ..explain import render
from ..lang.expr import literal_value
from ..lang.scalar import compile_expr
from ..packs.loader import CompiledRule, Pack
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


# A bare `not_eligible` (without `because`) is an error; False only while migrating.
REQUIRE_BECAUSE = True


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
                if (
                    REQUIRE_BECAUSE
                    and expect[str(rid)].get("status") == NOT_ELIGIBLE
                    and not expect[str(rid)].get("because")
                ):
                    raise PackError(
                        f"用例 {raw.get('name') or i + 1} 的 {rid}：不合格用例须写明唯一未满足的条件"
                        "（because：条件的 label、clause 或条件文字，排除情形的标题，或 not_for_applicant）",
                        file=f"{pack.root.name}/tests/{path.name}",
                    )
            if not expect and raw.get("total") is None:
                raise PackError(
                    f"用例 {raw.get('name') or i + 1} 没有任何断言（expect 或 total）",
                    file=f"{pack.root.name}/tests/{path.name}",
                )
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


@dataclass(frozen=True)
class Failed:
    """One reason a rule can fail on: a `when` part, an exclusion, or the applicant gate /
    validity (a code). `names` are what a case's `because` may call it."""

    kind: str  # part, exclusion, code
    index: int
    names: tuple[str, ...]

    def __str__(self) -> str:
        if self.kind == "part":
            return f"条件{self.index + 1}「{' / '.join(self.names)}」"
        if self.kind == "exclusion":
            return f"排除情形「{' / '.join(self.names)}」"
        return self.names[0]


_PART_FNS: dict[int, tuple[CompiledRule, list[Any]]] = {}


def _part_fns(pack: Pack, cr: CompiledRule) -> list[Any]:
    got = _PART_FNS.get(id(cr))
    if got is None or got[0] is not cr:
        got = _PART_FNS[id(cr)] = (
            cr,
            [compile_expr(node, pack.program.derived_names) for node, _text in cr.parts],
        )
    return got[1]


def reasons(cr: CompiledRule) -> list[Failed]:
    """Every reason the rule can fail on, with the names a case may give it."""
    out = []
    for i, (part, (_node, text)) in enumerate(zip(cr.rule.when, cr.parts, strict=True)):
        names = tuple(dict.fromkeys(n for n in (part.label, part.clause, text) if n))
        out.append(Failed("part", i, names))
    for i, (ex, _fn) in enumerate(cr.exclusions):
        out.append(Failed("exclusion", i, tuple(n for n in (ex.title, ex.id, ex.clause) if n)))
    for code in ("not_for_applicant", "repealed", "expired", "not_yet_in_force"):
        out.append(Failed("code", 0, (code,)))
    return out


def failed_reasons(pack: Pack, cr: CompiledRule, profile: Profile, as_of: date) -> list[Failed]:
    """The reasons the rule fails on for this applicant: validity, the applicant gate, every
    exclusion that applies and every `when` part that is false — each evaluated on its own,
    so one failure never hides another."""
    rule = cr.rule
    stale = _in_force(rule, as_of)
    if stale:
        return [Failed("code", 0, (stale.code,))]
    out = []
    if profile.applicant is not None and profile.applicant not in rule.beneficiary:
        out.append(Failed("code", 0, ("not_for_applicant",)))
    ctx = pack.new_ctx(profile.facts, as_of)
    all_reasons = reasons(cr)
    for i, (_ex, fn) in enumerate(cr.exclusions):
        ctx.missing = []
        if fn(ctx, ()) is True:
            out.append(next(r for r in all_reasons if r.kind == "exclusion" and r.index == i))
    for i, fn in enumerate(_part_fns(pack, cr)):
        ctx.missing = []
        if fn(ctx, ()) is False:
            out.append(all_reasons[i])
    return out


def check_because(cr: CompiledRule, because: str, failed: list[Failed]) -> str | None:
    """None when `because` names the one reason that fails, else what is wrong (in Chinese)."""
    found = "、".join(str(f) for f in failed) or "无"
    if len(failed) != 1:
        return (
            f"应只因「{because}」不符合，实际未满足 {len(failed)} 项：{found}"
            "（每个不合格用例只能有一项条件不满足，其余条件须满足）"
        )
    named = [r for r in reasons(cr) if because in r.names]
    if not named:
        return f"because「{because}」不是这条规则的条件、排除情形或代码；实际未满足：{found}"
    if len(named) > 1:
        return f"because「{because}」指向多项（{'、'.join(str(r) for r in named)}），请写 label 或条件文字"
    if named[0] != failed[0]:
        return f"应因「{because}」不符合，实际未满足：{found}"
    return None


def run_case(pack: Pack, case: Case) -> CaseResult:
    result = CaseResult(case)
    try:
        profile = validate_profile(case.profile, pack.variables, set(pack.by_id), pack.entities)
    except ProfileError as exc:
        result.failures.append(f"画像无效：{exc}")
        return result
    report = evaluate_profile(pack, profile, case.as_of)
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
        if "because" in exp and status in (NOT_ELIGIBLE, NOT_IN_FORCE):
            problem = check_because(
                pack.by_id[rid],
                str(exp["because"]),
                failed_reasons(pack, pack.by_id[rid], profile, case.as_of),
            )
            if problem:
                result.failures.append(f"{rid}: {problem}")
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
        reviewed = [review_bounds(r) for r in in_scope if is_review(r)]
        low = sum((b[0] for b in reviewed), Decimal(0))
        high = sum((b[1] for b in reviewed), Decimal(0))
        if (want_low, want_high) != (low, high):
            result.failures.append(
                f"评审裁量合计（{where}）应为 {want_low}–{want_high}，实为 {low}–{high}"
            )
    return result
