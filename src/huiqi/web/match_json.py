"""POST /api/match as JSON: the slim default document, its OpenAPI models, and a fast encoder.

The full report (`huiqi match --json`: every field of every rule, the `apply` block repeated on
each rule, the questions of each undetermined rule) is 0.6–1.3 MB for the whole pack and costs
far more to build and encode than to evaluate. The default document keeps the full entry only
where a client acts on it — eligible rules and undetermined rules that pay money — and a brief
entry (status, reason, citation, what is missing or short) for the rest; each distinct `apply`
block is written once in `applies` and referenced by key; per-rule questions only when asked.
`?detail=full` (or `?trace=true`) returns the full report.

The models describe the documents in OpenAPI; the endpoint returns pre-encoded bytes, so
pydantic never re-validates a response.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from ..engine.match import (
    ELIGIBLE,
    NOT_ELIGIBLE,
    UNDETERMINED,
    MatchReport,
    RuleResult,
    rule_fields,
)
from ..explain import render
from ..explain.zh import gap_text
from ..lang.scalar import plain
from ..output import json_default

# --- encoding ---------------------------------------------------------------------------


def _default(value: Any) -> Any:
    return json_default(value, plain)


def dumps(content: Any) -> bytes:
    """Compact UTF-8 JSON (orjson); dates as ISO text, exact amounts as numbers."""
    try:
        return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        # orjson refuses integers beyond 64 bits (an absurd turnover times a rate): the
        # standard encoder writes them exactly.
        return json.dumps(
            content, ensure_ascii=False, separators=(",", ":"), default=_default
        ).encode("utf-8")


# --- the slim document ------------------------------------------------------------------


class _Fixed:
    """What the slim document takes from a rule alone, built once per pack: the fields of a
    detailed entry that do not depend on the applicant, the apply block and its identity."""

    __slots__ = ("apply", "by_kept", "encoded", "fields", "key", "pays", "sig")

    def __init__(self, rule: Any, sigs: dict[tuple, int]) -> None:
        self.fields = rule_fields(rule)
        self.apply = self.fields["apply"]
        a = self.apply
        sig = (
            a["department"],
            a["window"],
            a["deadline"],
            tuple(a["materials"]),
            tuple(a["steps"]),
        )
        self.sig = sigs.setdefault(sig, len(sigs))  # equal blocks share one number
        self.key = f"a{self.sig + 1}"  # its key in `applies`: the same in every document
        self.pays = rule.amount.type not in ("none", "unstated")
        # (status, missing inputs[, date]) -> the entry encoded, for entries that depend on
        # nothing else (see `slim_report`)
        self.encoded: dict[tuple, orjson.Fragment] = {}
        # id(what Recall kept of a result) -> (it, the entry encoded, detailed?)
        self.by_kept: dict[int, tuple[Any, orjson.Fragment, bool]] = {}


#: id(pack) -> (pack, rule id -> _Fixed); the pack is held so that its id stays its own.
#: Packs do not change while the server runs; a few packs at most are ever loaded.
_FIXED: dict[int, tuple[Any, dict[str, _Fixed]]] = {}
_MAX_PACKS = 16


def _fixed(pack: Any) -> dict[str, _Fixed]:
    held = _FIXED.get(id(pack))
    if held is None or held[0] is not pack:
        if len(_FIXED) >= _MAX_PACKS:
            _FIXED.pop(next(iter(_FIXED)))
        sigs: dict[tuple, int] = {}
        held = _FIXED[id(pack)] = (
            pack,
            {cr.rule.id: _Fixed(cr.rule, sigs) for cr in pack.compiled},
        )
    return held[1]


#: How many next questions the slim document gives unless asked for more: a client asks one
#: or a few at a time (the result page shows 5); the full list is up to a hundred entries,
#: each with the rules it decides, a fifth of the document.
NEXT_QUESTIONS = 10


def encode_slim(
    report: MatchReport, questions: bool = False, next_questions: int | None = NEXT_QUESTIONS
) -> bytes:
    """The slim document as JSON bytes (`dumps(slim_report(...))`, with the entries that
    repeat from one match to the next spliced in already encoded)."""
    try:
        return orjson.dumps(
            slim_report(report, questions, fragments=True, next_questions=next_questions),
            default=_default,
            option=orjson.OPT_NON_STR_KEYS,
        )
    except TypeError:  # beyond orjson (integers over 64 bits): the plain path
        return dumps(slim_report(report, questions, next_questions=next_questions))


def slim_report(
    report: MatchReport,
    questions: bool = False,
    fragments: bool = False,
    next_questions: int | None = NEXT_QUESTIONS,
) -> dict[str, Any]:
    """The default /api/match document (see the module docstring). `fragments`: entries that
    depend on the rule and little else come as `orjson.Fragment`s kept per rule: a brief entry
    under a shared reason (out of force, for another kind of applicant), a brief entry under
    its status and missing inputs, a detailed undetermined entry under its missing inputs and
    date (tests/test_match_slim.py: equal to building them afresh). `next_questions`: how many
    of the best next questions (None: all)."""
    pack = report.pack
    fixed = _fixed(pack)
    applies: dict[str, dict[str, Any]] = {}
    rules: list[Any] = []
    append = rules.append
    for r in report.results:
        f = fixed.get(r.rule.id)
        if f is None:  # a rule outside the pack's compiled list: no shared fields
            f = _Fixed(r.rule, {})
        kept = r._kept
        if (
            fragments
            and kept is not None
            and not questions
            and r.set_aside_by is None
            and r.stacking_note is None
        ):
            # evaluated under the same date and facts as an earlier result, and left as
            # evaluated by stacking: its entry is the earlier one's
            held = f.by_kept.get(id(kept))
            if held is None or held[0] is not kept:
                entry, detailed = _entry(r, f, report, fragments, questions)
                held = _keep_entry(f, kept, entry, detailed)
            if held[2] and f.key not in applies:
                applies[f.key] = f.apply
            append(held[1])
            continue
        entry, detailed = _entry(r, f, report, fragments, questions)
        if detailed and f.key not in applies:
            applies[f.key] = f.apply
        append(entry)
    total, low, high = report.sums()
    return {
        "as_of": report.as_of.isoformat(),
        "label": report.label,
        "total": plain(total),
        "total_min": plain(total + low),
        "total_max": plain(total + high),
        "packs": report.packs,
        "next_questions": report.next_questions(next_questions),
        "rules": rules,
        "applies": applies,
    }


def _entry(
    r: RuleResult, f: _Fixed, report: MatchReport, fragments: bool, questions: bool
) -> tuple[Any, bool]:
    """One rule's entry of the slim document (a dict, or an `orjson.Fragment` kept per
    rule), and whether it is a detailed entry (its apply block goes in `applies`)."""
    pack = report.pack
    status = r.status
    if not (status == ELIGIBLE or (status == UNDETERMINED and f.pays)):
        if fragments and r.reason is None and (status == UNDETERMINED or _no_gaps(r)):
            # a failed condition without a threshold, or unknown inputs: the rule's own
            # fields and what is missing (a result with a reason, such as out of force, is
            # kept by what it carries in `_kept`: see `slim_report`)
            key = (status, r.missing)
            hit = f.encoded.get(key)
            if hit is None:
                hit = _remember(f, key, _brief(r, pack))
            return hit, False
        return _brief(r, pack), False
    if (
        fragments
        and not questions
        and status == UNDETERMINED
        and r.reason is None
        and r.amount is None
        and r.amount_min is None
        and r.amount_max is None
        and r.gross is None
        and not r.steps
        and r.key is None
        and r.set_aside_by is None
        and r.stacking_note is None
    ):
        # an undetermined rule that pays: the rule's fields, the period and what is missing
        key = (status, r.missing, report.as_of)
        hit = f.encoded.get(key)
        if hit is None:
            hit = _remember(f, key, _detail(r, f, None))
        return hit, True
    return _detail(r, f, pack if questions else None), True


def _keep_entry(f: _Fixed, kept: Any, entry: Any, detailed: bool) -> tuple[Any, Any, bool]:
    """An entry kept encoded under what `Recall` kept of its result (held, so that its id
    stays its own)."""
    if len(f.by_kept) >= _MAX_BY_KEPT:
        f.by_kept.pop(next(iter(f.by_kept)))  # the oldest
    fragment = entry if isinstance(entry, orjson.Fragment) else orjson.Fragment(dumps(entry))
    held = f.by_kept[id(kept)] = (kept, fragment, detailed)
    return held


def _detail(r: RuleResult, f: _Fixed, pack: Any) -> dict[str, Any]:
    """A detailed entry: every field, the apply block by its key (`pack`: with questions)."""
    entry = r.to_dict(pack, trace=False, fixed=f.fields)
    if pack is None:
        del entry["questions"]
    del entry["apply"]
    entry["apply"] = f.key
    entry["detail"] = True
    return entry


_MAX_ENCODED = 32  # per rule: the combinations of unknown inputs seen most recently
_MAX_BY_KEPT = 64  # per rule: as many as `Recall` keeps


def _remember(f: _Fixed, key: tuple, entry: dict[str, Any]) -> orjson.Fragment:
    """An entry encoded and kept for the next document with the same key."""
    if len(f.encoded) >= _MAX_ENCODED:
        f.encoded.pop(next(iter(f.encoded)))  # the oldest
    hit = f.encoded[key] = orjson.Fragment(dumps(entry))
    return hit


def _no_gaps(r: RuleResult) -> bool:
    """A not-eligible rule without a threshold condition: no gap, never a near miss."""
    return r._cr is None or not r._cr.trace_failure


def _brief(r: RuleResult, pack: Any) -> dict[str, Any]:
    rule = r.rule
    gaps = r.gaps if r.status == NOT_ELIGIBLE else []
    return {
        "rule_id": rule.id,
        "title": rule.title,
        "status": r.status,
        "reason": render(r.reason),
        "citation": rule.citation,
        "missing": list(r.missing),
        "near_miss": bool(gaps) and r.near_miss,
        "gap": [{**plain(g), "text": gap_text(g, pack)} for g in gaps] if gaps else [],
        "detail": False,
    }


# --- OpenAPI models (documentation only: responses are not re-validated) ------------------

Status = Literal["eligible", "not_eligible", "undetermined", "not_in_force"]
Number = int | float | None


class Question(BaseModel):
    variable: str = Field(description="变量名")
    label: str = Field(description="名称")
    question: str = Field(description="问题")
    help: str = Field(description="说明")


class NextQuestion(Question):
    decides: int = Field(description="回答后可判定的规则数")
    rules: list[str] = Field(description="可判定的规则")


class Gap(BaseModel):
    text: str = Field(description="差距说明（中文）")
    threshold: Number = Field(default=None, description="门槛")
    shortfall: Number = Field(default=None, description="差额")


class ApplyBlock(BaseModel):
    department: str = Field(description="受理部门")
    window: str = Field(description="申报时间")
    deadline: str = Field(description="截止时间")
    materials: list[str] = Field(description="申报材料")
    steps: list[str] = Field(description="办理步骤")


class Stacking(BaseModel):
    group: str
    policy: str
    key: Any = None
    set_aside_by: str | None = None
    note: str = ""
    note_code: dict[str, Any] | None = None


class RuleBrief(BaseModel):
    """A rule that is not eligible, not in force, or undetermined without money."""

    detail: Literal[False]
    rule_id: str
    title: str
    status: Status
    reason: str = Field(description="原因（中文）")
    citation: str = Field(description="依据条款")
    missing: list[str] = Field(description="尚未回答的变量")
    near_miss: bool = Field(description="仅因数额未达门槛而不符合")
    gap: list[Gap]


class RuleDetail(BaseModel):
    """An eligible rule, or an undetermined rule that pays money: every field."""

    detail: Literal[True]
    rule_id: str
    title: str
    status: Status
    status_label: str
    amount: Number = Field(description="确定金额（元）")
    amount_min: Number = Field(description="需评审金额的下限（元）")
    amount_max: Number = Field(description="需评审金额的上限（元）")
    amount_gross: Number = Field(description="叠加规则前的金额（元）")
    arithmetic: list[str] = Field(description="算式（中文）")
    steps: list[dict[str, Any]]
    citation: str
    quote: str = Field(description="条款原文摘录")
    determination: str
    determination_label: str
    kind: str
    missing: list[str]
    questions: list[Question] | None = Field(
        default=None, description="待回答的问题（仅 ?questions=true 时给出）"
    )
    gap: list[Gap]
    near_miss: bool
    reason: str
    reason_code: dict[str, Any] | None
    stacking: Stacking | None
    schedule: str = Field(description="兑现方式与时间")
    note: str
    apply: str = Field(description="申报信息：applies 中的键")


class MatchResponse(BaseModel):
    """The default (slim) match document."""

    as_of: str = Field(description="评估日期")
    label: str
    total: Number = Field(description="确定可得的现金合计（元）")
    total_min: Number
    total_max: Number
    packs: list[str] = Field(description="参与评估的规则包")
    next_questions: list[NextQuestion] = Field(description="最能帮助判定的下一个问题")
    rules: list[RuleDetail | RuleBrief]
    applies: dict[str, ApplyBlock] = Field(description="申报信息，每种只写一次")


class MatchError(BaseModel):
    message: str
    errors: list[dict[str, str]]
