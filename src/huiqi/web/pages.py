"""The web UI (zh-CN): server-rendered pages over the same service functions as the API."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ..engine.profile import Problem
from ..explain import render
from ..explain.zh import wan, yuan
from ..packs.rules import DETERMINATIONS, KINDS
from ..search.filters import LEVELS
from . import service
from .service import ApiError

HERE = Path(__file__).resolve().parent
MAX_QUERY_CHARS = 500

#: The facts the 政策体检 form asks, in order (variables of the bundled packs). The form is
#: generated from the variables catalogue: label, question, type and options come from there.
FORM_VARIABLES = [
    "certifications",  # events: a checkbox per kind, one year for the ticked ones
    "independent_legal_person",
    "enterprise_size",
    "founding_year",
    "industry",
    "meets_hte_criteria",
    "tech_absorb_volume_last_year",
    "tech_export_volume_last_year",
    "eit_taxable_income",
    "vat_taxpayer_type",
    "sound_financial_management",
    "credit_blacklisted",
    "major_violation",
]
PLACE_VARIABLE = "registered_place"


def money(value: Any) -> str:
    """万元 from 1万 up, 元 below."""
    if value is None:
        return ""
    d = Decimal(str(value))
    return wan(d) if abs(d) >= 10_000 else yuan(d)


_RULE_REF = re.compile(r"[，、,]?\s*\b[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+\b")


_NAME = re.compile(r"\b[a-z][a-z0-9_]*\b")


@cache
def _labels() -> dict[str, str]:
    pack = service.load_pack()
    out = {n: p.label for n, p in pack.parameters.items() if p.label}
    out.update({n: v.label for n, v in pack.variables.items() if v.label})
    return out


def no_ids(text: Any) -> str:
    """Amounts as written in a pack read variables by name (`eit_taxable_income * 15%`), and
    authors' notes may cite another rule by id: readers see labels and words only."""
    text = _RULE_REF.sub("", "" if text is None else str(text))
    labels = _labels()
    text = _NAME.sub(lambda m: labels.get(m.group(0), m.group(0)), text)
    # What is left is a formula over events (sum, if/then): the quote beside it says it in words.
    return "按原文规定计算" if _CODE.search(text) else text


_CODE = re.compile(r"[a-z_]{2,}")


_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["money"] = money
_env.filters["no_ids"] = no_ids
_env.globals.update(
    render=render,
    LEVELS=LEVELS,
    KINDS=KINDS,
    DETERMINATIONS=DETERMINATIONS,
)
templates = Jinja2Templates(env=_env)
router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def error_page(
    request: Request, status: int, message: str, problems: list[Problem] | None = None
) -> Response:
    return _page(request, "error.html", status, message=message, problems=problems or [])


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    pack = service.load_pack()
    return _page(
        request,
        "home.html",
        documents=len(service.documents()),
        rules=len(pack.rules),
        packs=service.packs(),
    )


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: str = "",
    level: str = "",
    in_force_on: str = "",
    entity: str = "",
    amount_only: bool = False,
) -> Response:
    from ..engine.lookup import bundled_rule_lookup
    from ..search.api import search

    form = {
        "q": q,
        "level": level,
        "in_force_on": in_force_on,
        "entity": entity,
        "amount_only": amount_only,
    }
    if len(q) > MAX_QUERY_CHARS or any(len(v) > 200 for v in (level, in_force_on, entity)):
        raise ApiError(422, f"查询内容过长（上限 {MAX_QUERY_CHARS} 个字符）")
    results = None
    if q.strip():
        f = service.filters(
            level=level or None,
            in_force_on=in_force_on or None,
            entity=entity or None,
            amount_only=amount_only,
        )
        results = search(q, filters=f, limit=30, rule_lookup=bundled_rule_lookup(None))
    pack = service.load_pack()
    return _page(request, "search.html", form=form, results=results, entities=pack.entities)


@router.get("/documents", response_class=HTMLResponse)
def documents_page(request: Request, level: str = "") -> Response:
    docs = service.documents(level=level[:50] or None)
    rows = [service.document_summary(d) for d in docs]
    return _page(request, "documents.html", documents=rows, level=level)


@router.get("/documents/{doc_id}", response_class=HTMLResponse)
def document_page(request: Request, doc_id: str) -> Response:
    from ..engine.lookup import bundled_rule_lookup

    d = service.document(doc_id[:200])
    lookup = bundled_rule_lookup(None)
    beside = {c.path: lookup(d.id, c.path) for c in d.walk()}
    return _page(
        request,
        "document.html",
        doc=service.document_summary(d),
        relations=[r.to_dict() for r in d.relations],
        clauses=d.clauses,
        beside=beside,
    )


@router.get("/rules", response_class=HTMLResponse)
def rules_page(
    request: Request,
    pack: str = "",
    beneficiary: str = "",
    kind: str = "",
    determination: str = "",
    document: str = "",
    department: str = "",
) -> Response:
    form = {
        "pack": pack,
        "beneficiary": beneficiary,
        "kind": kind,
        "determination": determination,
        "document": document,
        "department": department,
    }
    if any(len(v) > 200 for v in form.values()):
        raise ApiError(422, "筛选条件过长")
    p = service.load_pack(pack or None)
    selected = service.rules(
        p,
        document or None,
        beneficiary or None,
        kind or None,
        determination or None,
        department=department.strip() or None,
    )
    items = rule_items(p)
    return _page(
        request,
        "rules.html",
        form=form,
        items=[items[r.id] for r in selected],
        packs=service.packs(),
        entities=p.entities,
    )


#: id(pack) -> (pack, rule id -> the rendered <li> of the catalogue). Rules do not change
#: while the server runs, so each benefit is rendered (escaped) once, not on every /rules.
_ITEMS: dict[int, tuple[Any, dict[str, Markup]]] = {}


def warm() -> None:
    """Compile every template and render the whole catalogue (at start-up)."""
    for name in _env.list_templates():
        _env.get_template(name)
    rule_items(service.load_pack())


def rule_items(pack: Any) -> dict[str, Markup]:
    """The catalogue entry of every rule of a pack as HTML, rendered once per pack."""
    held = _ITEMS.get(id(pack))
    if held is None or held[0] is not pack:
        template = _env.get_template("rule_item.html")
        items = {
            r.id: Markup(template.render(r=service.catalogue_entry(pack, r))) for r in pack.rules
        }
        held = _ITEMS[id(pack)] = (pack, items)
    return held[1]


# --- 政策体检 ----------------------------------------------------------------------------


def _event_fields(var: Any) -> tuple[str, str] | None:
    """An event list the form can ask as ticks: its first option field and its first year
    field (the other fields must be optional: left out, they stay unknown)."""
    choice = next((f.name for f in var.fields.values() if f.type == "enum"), None)
    year = next((f.name for f in var.fields.values() if f.type == "year"), None)
    return (choice, year) if choice and year else None


def _fields(pack: Any) -> list[dict[str, Any]]:
    catalogue = {v["name"]: v for v in service.variables(pack)}
    out = []
    for name in FORM_VARIABLES:
        item = catalogue.get(name)
        if item is None:
            continue
        if item["type"] == "events":
            pair = _event_fields(pack.variables[name])
            if pair is None:
                continue
            spec = pack.variables[name].fields
            item = {
                **item,
                "choices": list(spec[pair[0]].values),
                "choice_label": spec[pair[0]].label,
                "year_label": spec[pair[1]].label,
            }
        out.append(item)
    return out


def _check_form(
    request: Request,
    values: dict[str, str] | None = None,
    problems: list[Problem] | None = None,
    status: int = 200,
) -> Response:
    pack = service.load_pack()
    errors: dict[str, str] = {}
    for p in problems or []:
        errors.setdefault(p.path.removeprefix("profile.").split("[")[0].split(".")[0], p.reason)
    return _page(
        request,
        "check.html",
        status,
        fields=_fields(pack),
        places=service.places(),
        entities=pack.entities,
        values=values or {"applicant": "enterprise", "as_of": date.today().isoformat()},
        errors=errors,
        problems=problems or [],
    )


@router.get("/check", response_class=HTMLResponse)
def check_page(request: Request) -> Response:
    return _check_form(request)


def profile_from_form(
    form: dict[str, str], pack: Any, ticks: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """Form strings to a profile: empty answers are left out (unknown), yes/no to booleans,
    whole numbers to integers; everything else goes to the profile's own validation."""
    profile: dict[str, Any] = {}
    applicant = form.get("applicant", "").strip()
    if applicant:
        profile["applicant"] = applicant
    place = form.get(PLACE_VARIABLE, "").strip()
    if place:
        profile[PLACE_VARIABLE] = place
    for name in FORM_VARIABLES:
        raw = form.get(name, "").strip()
        var = pack.variables.get(name)
        if var is not None and var.type == "events":
            pair = _event_fields(var)
            chosen = (ticks or {}).get(name, [])
            if pair and chosen:
                year = form.get(f"{name}__year", "").strip()
                when: Any = int(year) if year.isdigit() and len(year) < 6 else year or None
                profile[name] = [{pair[0]: c, pair[1]: when} for c in chosen]
            continue
        if not raw or var is None:
            continue
        if var.type == "bool":
            profile[name] = {"true": True, "false": False}.get(raw, raw)
        elif var.type in ("integer", "year"):
            profile[name] = int(raw) if raw.lstrip("-").isdigit() and len(raw) < 12 else raw
        else:
            profile[name] = raw
    return profile


async def _submitted(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The form's single values and its ticked lists, each value cut to 200 characters."""
    form_data = await request.form()
    form = {k: str(v)[:200] for k, v in form_data.items() if isinstance(v, str)}
    ticks = {
        name: [str(v)[:200] for v in form_data.getlist(name) if isinstance(v, str)][:50]
        for name in FORM_VARIABLES
    }
    return form, ticks


def _evaluate(form: dict[str, str], ticks: dict[str, list[str]], pack: Any) -> Any:
    """The report for a submitted form; ApiError naming the fields at fault."""
    as_of: date | None = None
    if form.get("as_of"):
        try:
            as_of = date.fromisoformat(form["as_of"])
        except ValueError:
            raise ApiError(422, "日期不对", [Problem("as_of", "应为日期（年-月-日）")]) from None
    return service.match(profile_from_form(form, pack, ticks), as_of, pack)


@router.post("/check", response_class=HTMLResponse)
async def check_submit(request: Request) -> Response:
    form, ticks = await _submitted(request)
    pack = service.load_pack()
    try:
        report = _evaluate(form, ticks, pack)
    except ApiError as exc:
        return _check_form(request, {**form, **ticks}, exc.problems, 422)
    return _result_page(request, report, pack, form, ticks)


def _result_page(
    request: Request, report: Any, pack: Any, form: dict, ticks: dict, state: str = ""
) -> Response:
    summary = service.summary(report)
    links = {r.rule.id: service.clause_path(pack, r.rule) for r in report.eligible}
    questions = report.next_questions()[:5]
    # the same answers again, for the spreadsheet download (the guided check's whole state)
    if state:
        resend = [("state", state)]
    else:
        resend = [(k, v) for k, v in form.items() if k not in ticks]
        resend += [(k, v) for k, values in ticks.items() for v in values]
    return _page(
        request,
        "result.html",
        report=report,
        s=summary,
        links=links,
        questions=questions,
        places=summary["result"].jurisdictions,
        place=form.get(PLACE_VARIABLE, ""),
        applicant=pack.entities.get(form.get("applicant", ""), ""),
        resend=resend,
    )


# --- 政策体检, one question at a time -----------------------------------------------------
# Stateless: the answers so far travel in a hidden field and are checked again on every step
# (the same reader and validation as any profile), so any worker can serve any step.

EVENT_ROWS = 3  # rows of an event list's form; more can be added over several visits
MAX_STATE_CHARS = 60_000


def _questionnaire(as_of: date):
    from ..engine.questionnaire import Questionnaire

    return Questionnaire(service.load_pack(), as_of)


def _state_from(text: str):
    import json

    from ..engine.questionnaire import State
    from ..safeyaml import PROFILE_LIMITS, InputError, load_json_text

    if not text:
        return State()
    if len(text) > MAX_STATE_CHARS:
        raise ApiError(413, "回答过多，请重新开始")
    try:
        data = load_json_text(text, "state", PROFILE_LIMITS)
    except InputError:
        raise ApiError(422, "页面数据已损坏，请重新开始") from None
    if not isinstance(data, dict):
        raise ApiError(422, "页面数据已损坏，请重新开始")
    _ = json  # the state is JSON written by this page
    return State.from_dict(data)


def _ask_page(request: Request, qn: Any, state: Any, problem: str = "") -> Response:
    import json

    from ..engine.profile import ProfileError

    try:
        report = qn.report(state)
    except ProfileError as exc:
        raise ApiError(422, "页面数据已损坏，请重新开始", exc.problems) from None
    q = qn.next_question(state, report)
    if q is None:
        return _finish(request, qn, state, report)
    payload = {**state.to_dict(), "as_of": qn.as_of.isoformat()}
    return _page(
        request,
        "ask.html",
        q=q,
        state=json.dumps(payload, ensure_ascii=False, default=str),
        number=len(state.history) + 1,
        answered=len(state.history) - len(state.unknown),
        unknown=len(state.unknown),
        rows=EVENT_ROWS,
        problem=problem,
    )


@router.get("/check/ask", response_class=HTMLResponse)
def ask_start(request: Request, as_of: str = "") -> Response:
    try:
        when = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        return error_page(request, 422, "评估日期应为 年-月-日")
    from ..engine.questionnaire import State

    return _ask_page(request, _questionnaire(when), State())


@router.post("/check/ask", response_class=HTMLResponse)
async def ask_step(request: Request) -> Response:
    from ..engine.profile import ProfileError
    from ..engine.questionnaire import FAMILIES

    raw = await request.form()
    form = {k: str(v) for k, v in raw.items()}
    values = [str(v) for v in raw.getlist("values")]
    try:
        state = _state_from(form.get("state", ""))
        when = date.fromisoformat(
            str(_state_as_of(form.get("state", "")) or date.today().isoformat())
        )
    except ApiError as exc:
        return error_page(request, exc.status, exc.message)
    except ValueError:
        return error_page(request, 422, "页面数据已损坏，请重新开始")
    qn = _questionnaire(when)
    name, action = form.get("name", ""), form.get("action", "answer")
    if action == "stop":
        return _finish(request, qn, state, qn.report(state))
    if action == "back":
        return _ask_page(request, qn, qn.back(state))
    if action == "dont_know" and name:
        return _ask_page(request, qn, qn.dont_know(state, name))
    try:
        if name == FAMILIES:
            value: Any = values
        elif name in qn.inputs and qn.inputs[name].type == "events":
            value = _event_rows(form, qn.inputs[name])
        else:
            value = form.get("value", "").strip()
            if value == "":
                return _ask_page(request, qn, state, "请先选择或填写，或点“不知道”。")
            var = qn.inputs.get(name)
            if var is not None and var.type == "bool":
                value = value == "true"
            elif var is not None and var.type in ("integer", "year"):
                value = int(value) if value.lstrip("-").isdigit() else value
        return _ask_page(request, qn, qn.answer(state, name, value))
    except ProfileError as exc:
        return _ask_page(request, qn, state, "；".join(p.reason for p in exc.problems))


def _finish(request: Request, qn: Any, state: Any, report: Any) -> Response:
    """The result page for the answers so far (the same page as the one-page form's)."""
    import json

    form = {"as_of": qn.as_of.isoformat()}
    form.update(
        {k: v for k, v in state.answers.items() if isinstance(v, str) and not k.startswith("_")}
    )
    payload = json.dumps(
        {**state.to_dict(), "as_of": qn.as_of.isoformat()}, ensure_ascii=False, default=str
    )
    return _result_page(request, report, qn.pack, form, {}, state=payload)


def _state_as_of(text: str) -> str | None:
    import json

    try:
        data = json.loads(text) if text and len(text) <= MAX_STATE_CHARS else {}
    except ValueError:
        return None
    return data.get("as_of") if isinstance(data, dict) else None


def _event_rows(form: dict[str, str], var: Any) -> list[dict[str, Any]]:
    rows = []
    for i in range(EVENT_ROWS):
        row: dict[str, Any] = {}
        for fname, spec in var.fields.items():
            text = form.get(f"e{i}__{fname}", "").strip()
            if not text:
                continue
            if spec.type == "bool":
                row[fname] = text == "true"
            elif spec.type in ("integer", "year") and text.lstrip("-").isdigit():
                row[fname] = int(text)
            else:
                row[fname] = text
        if row:
            rows.append(row)
    return rows


@router.post("/check.xlsx")
async def check_xlsx(request: Request) -> Response:
    from ..engine.result import build_result
    from ..engine.workbook import XLSX, workbook_bytes

    raw = (await request.form()).get("state")
    if isinstance(raw, str) and raw:  # from the guided check: its answers, checked again
        from ..engine.profile import ProfileError

        state = _state_from(raw)
        when = _state_as_of(raw)
        try:
            qn = _questionnaire(date.fromisoformat(when) if when else date.today())
            report = qn.report(state)
        except (ValueError, TypeError, ProfileError):
            raise ApiError(422, "页面数据已损坏，请重新开始") from None
    else:
        form, ticks = await _submitted(request)
        report = _evaluate(form, ticks, service.load_pack())  # an error shows the error page
    return Response(
        workbook_bytes(build_result(report)),
        media_type=XLSX,
        headers={"content-disposition": 'attachment; filename="check.xlsx"'},
    )
