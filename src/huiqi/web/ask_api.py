"""政策体检 as an API, one question at a time (`/api/questionnaire/...`).

Stateless like the page /check/ask: the client keeps the state ({answers, unknown, history})
and sends it back with every step; each step validates it again through the engine's
questionnaire (engine/questionnaire.py), so any worker can serve any step.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from ..engine.profile import Problem, ProfileError
from ..engine.questionnaire import APPLICANT, FAMILIES, Questionnaire, State
from . import service
from .match_json import MatchError, dumps
from .service import ApiError

router = APIRouter(prefix="/questionnaire", tags=["questionnaire"])

MAX_HISTORY = 500  # more steps than any pack has questions


class StateModel(BaseModel):
    answers: dict[str, Any] = Field(default_factory=dict, description="已回答的画像字段")
    unknown: list[str] = Field(default_factory=list, description="回答“不知道”的问题")
    history: list[str] = Field(
        default_factory=list, max_length=MAX_HISTORY, description="回答顺序（用于返回上一题）"
    )


class StartRequest(BaseModel):
    as_of: date | None = Field(default=None, description="评估日期 YYYY-MM-DD（默认今天）")


class StepRequest(BaseModel):
    as_of: date | None = Field(default=None, description="评估日期 YYYY-MM-DD（默认今天）")
    state: StateModel = Field(default_factory=StateModel, description="上一步返回的 state")


class AnswerRequest(StepRequest):
    name: str = Field(max_length=200, description="问题名（question.name）")
    value: Any = Field(default=None, description="回答；dont_know 为 true 时不需要")
    dont_know: bool = Field(default=False, description="回答“不知道”")


class Progress(BaseModel):
    number: int = Field(description="当前是第几题")
    answered: int = Field(description="已回答的题数")
    unknown: int = Field(description="回答“不知道”的题数")


class Totals(BaseModel):
    cash_total: int = Field(description="确定可得的现金合计（元）")
    tax_total: int = Field(description="税收减免合计（元）")
    review_min: int = Field(description="需评审金额下限合计（元）")
    review_max: int = Field(description="需评审金额上限合计（元）")
    undetermined: int = Field(description="尚待确定的规则数")


class StepResponse(BaseModel):
    as_of: str
    state: StateModel
    question: dict[str, Any] | None = Field(
        description="下一个问题（name、kind、label、question、help、choices、fields、unit）；"
        "问完时为 null"
    )
    progress: Progress
    totals: Totals = Field(description="按目前回答的结果合计")


def _body(raw: bytes, model: type[BaseModel]) -> Any:
    from .api import validation_problems

    data = service.parse_body(raw) if raw.strip() else {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "请求内容不对", validation_problems(exc.errors())) from None


def _state(model: StateModel) -> State:
    return State.from_dict(model.model_dump())


def _step(qn: Questionnaire, state: State) -> Response:
    from ..engine.result import build_result

    try:
        report = qn.report(state)
    except ProfileError as exc:
        problems = [Problem(f"state.answers.{p.path}", p.reason) for p in exc.problems]
        raise ApiError(422, "已有的回答有误", problems) from None
    q = qn.next_question(state, report)
    result = build_result(report)
    low, high = result.review_range
    body = {
        "as_of": qn.as_of.isoformat(),
        "state": state.to_dict(),
        "question": q.to_dict() if q else None,
        "progress": {
            "number": len(state.history) + 1,
            "answered": len(state.history) - len(state.unknown),
            "unknown": len(state.unknown),
        },
        "totals": {
            "cash_total": int(result.cash_total),
            "tax_total": int(result.tax_total),
            "review_min": int(low),
            "review_max": int(high),
            "undetermined": result.undetermined,
        },
    }
    return Response(dumps(body), media_type="application/json")


def _questionnaire(as_of: date | None) -> Questionnaire:
    return Questionnaire(service.load_pack(), as_of or date.today())


_ERRORS: dict[int | str, dict[str, Any]] = {413: {"model": MatchError}, 422: {"model": MatchError}}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


@router.post(
    "/start", response_model=StepResponse, responses=_ERRORS, openapi_extra=_schema(StartRequest)
)
async def start(request: Request) -> Response:
    """开始政策体检：返回第一个问题和空的 state。"""
    body = _body(await request.body(), StartRequest)
    return _step(_questionnaire(body.as_of), State())


@router.post(
    "/answer", response_model=StepResponse, responses=_ERRORS, openapi_extra=_schema(AnswerRequest)
)
async def answer(request: Request) -> Response:
    """回答一个问题（或 dont_know=true 表示“不知道”），返回新的 state 和下一个问题。"""
    body = _body(await request.body(), AnswerRequest)
    qn = _questionnaire(body.as_of)
    state = _state(body.state)
    known = body.name in (APPLICANT, FAMILIES) or body.name in qn.inputs
    if not known:
        raise ApiError(422, "没有这个问题", [Problem("name", "没有这个问题")])
    if body.dont_know:
        return _step(qn, qn.dont_know(state, body.name))
    if body.value is None:
        raise ApiError(422, "缺少回答", [Problem("value", "请给出回答，或 dont_know=true")])
    try:
        state = qn.answer(state, body.name, body.value)
    except ProfileError as exc:
        problems = [Problem("value", p.reason) for p in exc.problems]
        raise ApiError(422, "回答不对", problems) from None
    return _step(qn, state)


@router.post(
    "/back", response_model=StepResponse, responses=_ERRORS, openapi_extra=_schema(StepRequest)
)
async def back(request: Request) -> Response:
    """返回上一题：撤销最后一个回答（或“不知道”）。"""
    body = _body(await request.body(), StepRequest)
    qn = _questionnaire(body.as_of)
    return _step(qn, qn.back(_state(body.state)))


@router.post("/result", responses=_ERRORS, openapi_extra=_schema(StepRequest))
async def result(request: Request) -> Response:
    """按目前的回答给出结果（随时可停）：现金奖补、税收减免、需评审的范围、非资金支持、
    差一点符合的待遇，每项附申报部门、截止日期、材料、步骤与条款。"""
    from ..engine.result import build_result

    body = _body(await request.body(), StepRequest)
    qn = _questionnaire(body.as_of)
    try:
        report = qn.report(_state(body.state))
    except ProfileError as exc:
        problems = [Problem(f"state.answers.{p.path}", p.reason) for p in exc.problems]
        raise ApiError(422, "已有的回答有误", problems) from None
    return Response(dumps(build_result(report).to_dict()), media_type="application/json")
