"""The REST API under /api: the same functions as the CLI, as JSON."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from ..engine.profile import Problem
from . import ask_api, service
from .match_json import NEXT_QUESTIONS, MatchError, MatchResponse, dumps, encode_slim
from .service import ApiError

router = APIRouter(prefix="/api")

MAX_QUERY_CHARS = 500  # as `huiqi search`
MAX_FILTER_CHARS = 200
MAX_NEXT_QUESTIONS = 1000  # more than any pack has variables: "all of them"

Filter = Annotated[str | None, Query(max_length=MAX_FILTER_CHARS)]


class FastJSON(JSONResponse):
    """Compact UTF-8 JSON; dates and exact amounts as `huiqi ... --json` writes them."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


class MatchRequest(BaseModel):
    """A profile (a mapping of variable → value, as in examples/*.yaml, or its YAML text)
    and the evaluation date (default: the profile's as_of, or today)."""

    profile: dict[str, Any] | str = Field(description="申请人画像")
    as_of: date | None = Field(default=None, description="评估日期 YYYY-MM-DD")


@router.get("/documents", response_class=FastJSON)
def list_documents(
    level: Filter = None, issuer: Filter = None, year: Filter = None, in_force_on: Filter = None
) -> Any:
    """政策库中的文件（可按层级、发文机关、成文年份、某日有效筛选）。"""
    docs = service.documents(level=level, issuer=issuer, year=year, in_force_on=in_force_on)
    return FastJSON([service.document_summary(d) for d in docs])


@router.get("/documents/{doc_id}", response_class=FastJSON)
def get_document(doc_id: Annotated[str, Path(max_length=MAX_FILTER_CHARS)]) -> Any:
    """一份文件：元数据与条款树。"""
    return FastJSON(service.document_detail(service.document(doc_id)))


@router.get("/documents/{doc_id}/clauses/{path}", response_class=FastJSON)
def get_clause(
    doc_id: Annotated[str, Path(max_length=MAX_FILTER_CHARS)],
    path: Annotated[str, Path(max_length=MAX_FILTER_CHARS)],
) -> Any:
    """一个条款及其下级条款。"""
    return FastJSON(service.clause(service.document(doc_id), path).to_dict())


@router.get("/search", response_class=FastJSON)
def search(
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="查询内容")],
    issuer: Filter = None,
    from_year: Filter = None,
    to_year: Filter = None,
    type: Filter = None,
    level: Filter = None,
    in_force_on: Filter = None,
    entity: Filter = None,
    amount_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
    pack: Filter = None,
) -> Any:
    """全文检索条款，按文件分组，命中词以【】标出。"""
    from ..engine.lookup import bundled_rule_lookup
    from ..search.api import search as run_search

    service.load_pack(pack)  # 404 for an unknown pack
    f = service.filters(
        issuer=issuer,
        from_year=from_year,
        to_year=to_year,
        doc_type=type,
        level=level,
        in_force_on=in_force_on,
        entity=entity,
        amount_only=amount_only,
    )
    results = run_search(q, filters=f, limit=limit, rule_lookup=bundled_rule_lookup(pack or None))
    return FastJSON(results.to_dict())


@router.get("/rules", response_class=FastJSON)
def list_rules(
    pack: Filter = None,
    document: Filter = None,
    beneficiary: Filter = None,
    kind: Filter = None,
    determination: Filter = None,
    in_force_on: Filter = None,
    department: Filter = None,
) -> Any:
    """政策待遇目录（可按规则包、文件、受益主体、兑现方式、认定方式、某日有效、受理部门筛选）。"""
    p = service.load_pack(pack)
    selected = service.rules(p, document, beneficiary, kind, determination, in_force_on, department)
    return FastJSON([service.catalogue_entry(p, r) for r in selected])


@router.get("/rules/{rule_id}", response_class=FastJSON)
def get_rule(rule_id: Annotated[str, Path(max_length=MAX_FILTER_CHARS)]) -> Any:
    """一条规则及其所依据的条款原文。"""
    p = service.load_pack()
    r = service.rule(p, rule_id)
    return FastJSON({**service.catalogue_entry(p, r), "clause_text": service.rule_clause(p, r)})


@router.post(
    "/match",
    response_model=MatchResponse,
    responses={404: {"model": MatchError}, 413: {"model": MatchError}, 422: {"model": MatchError}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": MatchRequest.model_json_schema()}},
        }
    },
)
async def post_match(
    request: Request,
    trace: Annotated[bool, Query(description="附上逐条件的判定过程（完整结果）")] = False,
    detail: Annotated[
        Literal["slim", "full"], Query(description="slim：精简结果（默认）；full：完整结果")
    ] = "slim",
    questions: Annotated[bool, Query(description="精简结果中附上每条规则待回答的问题")] = False,
    next_questions: Annotated[
        int,
        Query(ge=0, le=MAX_NEXT_QUESTIONS, description="精简结果给出的下一个问题数（默认 10）"),
    ] = NEXT_QUESTIONS,
    pack: Filter = None,
) -> Response:
    """按画像评估全部规则：符合的奖励与金额、算式、待确定事项与下一个问题。

    默认为精简结果：符合的规则和待确定且涉及金额的规则给出全部字段，其余规则只给出状态、
    原因与依据；申报信息（applies）每种只写一次，由各规则的 apply 引用；下一个问题默认给出
    最能帮助判定的前 10 个（?next_questions=N 调整）。
    ?detail=full 或 ?trace=true 返回与 huiqi match --json 相同的完整结果（另附 packs）。"""
    report = await _match_report(request, pack)
    if trace or detail == "full":
        body = dumps({**report.to_dict(trace=trace), "packs": report.packs})
    else:
        body = encode_slim(report, questions=questions, next_questions=next_questions)
    return Response(body, media_type="application/json")


async def _match_report(request: Request, pack: str | None) -> Any:
    """The body of a match request, validated and evaluated (one path for JSON and Excel)."""
    return match_report(await request.body(), pack)


def match_report(raw: bytes, pack: str | None = None) -> Any:
    """A match request's body, validated and evaluated (raises ApiError)."""
    data = service.parse_body(raw)
    try:
        body = MatchRequest.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "请求内容不对", validation_problems(exc.errors())) from None
    return service.match(body.profile, body.as_of, service.load_pack(pack))


@router.post(
    "/match.xlsx",
    response_class=Response,
    responses={
        200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": MatchRequest.model_json_schema()}},
        }
    },
)
async def post_match_xlsx(request: Request, pack: Filter = None) -> Response:
    """同 POST /api/match，结果为 Excel 表格：合计、税收减免、需评审的范围，以及每项待遇。"""
    from ..engine.result import build_result
    from ..engine.workbook import XLSX, workbook_bytes

    report = await _match_report(request, pack)
    return Response(
        workbook_bytes(build_result(report)),
        media_type=XLSX,
        headers={"content-disposition": 'attachment; filename="match.xlsx"'},
    )


@router.get("/variables", response_class=FastJSON)
def list_variables(pack: Filter = None) -> Any:
    """问题目录：画像可以填写的每个变量（名称、问题、说明、类型、选项、主体）。"""
    return FastJSON(service.variables(service.load_pack(pack)))


@router.get("/packs", response_class=FastJSON)
def list_packs() -> Any:
    """规则包（辖区）：名称、层级、上级。"""
    return FastJSON(service.packs())


@router.get("/jurisdictions", response_class=FastJSON)
def list_jurisdictions() -> Any:
    """可选的注册地：每个地名适用的规则包及其上级链（国家 → 省 → 市 → 县）。"""
    return FastJSON(service.jurisdictions())


router.include_router(ask_api.router)  # /api/questionnaire/...


# --- validation errors in Chinese ---------------------------------------------------------

_REASONS = {
    "missing": "缺少必填项",
    "string_too_long": "内容过长（上限 {max_length} 个字符）",
    "string_type": "应为文字",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "greater_than_equal": "应不小于 {ge}",
    "less_than_equal": "应不大于 {le}",
    "date_from_datetime_parsing": "应为日期 YYYY-MM-DD",
    "date_parsing": "应为日期 YYYY-MM-DD",
    "date_type": "应为日期 YYYY-MM-DD",
    "dict_type": "应为键值映射（JSON 对象）",
    "model_type": "应为 JSON 对象",
    "extra_forbidden": "未知字段",
    "json_invalid": "JSON 格式错误",
    "literal_error": "应为以下之一：{expected}",
}


def validation_problems(errors: list[Any]) -> list[Problem]:
    """Pydantic's errors as [{path, reason}] in Chinese (one per field)."""
    out: dict[str, Problem] = {}
    for e in errors:
        loc = [str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body")]
        # a union (mapping or text) reports each arm: name the field once
        loc = [x for x in loc if x not in ("dict[str,any]", "str")]
        path = ".".join(loc) or "(根)"
        template = _REASONS.get(e.get("type", ""), "取值不对")
        try:
            reason = template.format(**(e.get("ctx") or {}))
        except (KeyError, IndexError):
            reason = template
        if path not in out:
            out[path] = Problem(path, reason)
    return list(out.values())


def error_response(exc: ApiError) -> Response:
    return FastJSON(exc.to_dict(), status_code=exc.status)
