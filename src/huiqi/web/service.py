"""What the API and the pages share: the embedded catalogue and packs, read through the same
functions as the CLI (`huiqi docs/show/rules/match/search`), and errors for the client.

Nothing here matches rules or words a reason: the engine decides, `huiqi.explain` renders.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from ..engine.match import MatchReport, evaluate_profile
from ..engine.profile import Problem, ProfileError, read_profile_text, validate_profile
from ..ingest.model import Clause, Document
from ..library.catalogue import corpus_documents, find_clause, find_document
from ..packs.loader import Pack, UnknownPack, bundled_pack
from ..packs.rules import DETERMINATIONS, KINDS
from ..safeyaml import PROFILE_LIMITS, InputError, load_json_text
from ..search.filters import LEVELS, FilterError, Filters

#: A request body holds a profile one level down ({"profile": {...}}).
BODY_LIMITS = replace(PROFILE_LIMITS, max_depth=PROFILE_LIMITS.max_depth + 1)
MAX_BODY_BYTES = PROFILE_LIMITS.max_bytes  # 1 MB


class ApiError(Exception):
    """An error for the client: HTTP status, a Chinese message, and the fields at fault."""

    def __init__(self, status: int, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems or []

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "errors": [p.to_dict() for p in self.problems]}


# --- packs ------------------------------------------------------------------------------


def load_pack(name: str | None = None) -> Pack:
    """A bundled pack (None: every pack); an unknown name is a 404 listing the packs."""
    try:
        return bundled_pack(name or None)
    except UnknownPack as exc:
        raise ApiError(404, str(exc), [Problem("pack", str(exc))]) from None


def packs() -> list[dict[str, Any]]:
    """The jurisdictions: name, level, parent."""
    registry = bundled_pack().registry
    assert registry is not None
    out = []
    for name in registry.packs:
        j = registry.by_pack[name]
        out.append(
            {
                "pack": j.pack,
                "name": j.name,
                "level": j.level,
                "level_label": j.level_label,
                "parent": j.extends,
                "places": [p for names in j.places.values() for p in names],
            }
        )
    return out


def jurisdictions() -> list[dict[str, Any]]:
    """Every place an applicant can be registered in, with the pack whose policies apply
    there and that pack's chain (national → … → the place's own)."""
    registry = bundled_pack().registry
    if registry is None:
        return []
    out = []
    for place in registry.places():
        home = registry.pack_for_place(place)
        out.append(
            {
                "place": place,
                "pack": home,
                "chain": [j.pack for j in registry.chain(home)] if home else [],
            }
        )
    return out


def places() -> list[str]:
    """Every place an applicant can be registered in (from the packs), in tree order."""
    registry = bundled_pack().registry
    return registry.places() if registry else []


def variables(pack: Pack) -> list[dict[str, Any]]:
    """The question catalogue: every variable an applicant can answer (derived ones are
    computed, never asked)."""
    out = []
    for v in pack.variables.values():
        if v.derived:
            continue
        item: dict[str, Any] = {
            "name": v.name,
            "label": v.label,
            "question": v.question,
            "help": v.help,
            "type": v.type,
            "entity": v.entity,
            "entity_label": pack.entities.get(v.entity, v.entity),
            "values": list(v.spec.values) if v.spec else [],
        }
        if v.fields:
            item["fields"] = [
                {"name": f.name, "label": f.label, "type": f.type, "values": list(f.values)}
                for f in v.fields.values()
            ]
        out.append(item)
    return out


# --- documents --------------------------------------------------------------------------


def document_summary(d: Document, today: date | None = None) -> dict[str, Any]:
    today = today or date.today()
    return {
        "id": d.id,
        "title": d.title,
        "doc_number": d.doc_number,
        "issuers": list(d.issuers),
        "issued_on": d.issued_on.isoformat() if d.issued_on else None,
        "effective_from": d.effective_from.isoformat() if d.effective_from else None,
        "effective_to": d.effective_to.isoformat() if d.effective_to else None,
        "doc_type": d.doc_type,
        "level": d.level,
        "level_label": LEVELS.get(d.level or ""),
        "in_force": d.in_force(today),
        "clause_count": sum(1 for _ in d.walk()),
        "parent_title": d.parent_title,
        "parent_number": d.parent_number,
    }


def document_detail(d: Document) -> dict[str, Any]:
    return {
        **document_summary(d),
        "source": d.source,
        "relations": [r.to_dict() for r in d.relations],
        "clauses": [c.to_dict() for c in d.clauses],
    }


def filters(**values: Any) -> Filters:
    """Filter values as the search command validates them (422 naming the field)."""
    try:
        return Filters.of(**values)
    except FilterError as exc:
        raise ApiError(422, str(exc), [Problem(_filter_field(str(exc)), str(exc))]) from None


def _filter_field(message: str) -> str:
    for word, name in (
        ("年份", "year"),
        ("层级", "level"),
        ("日期", "in_force_on"),
        ("主体", "entity"),
    ):
        if word in message:
            return name
    return "query"


def documents(
    level: str | None = None,
    issuer: str | None = None,
    year: str | None = None,
    in_force_on: str | None = None,
) -> list[Document]:
    f = filters(level=level, issuer=issuer, from_year=year, in_force_on=in_force_on)
    out = []
    for d in corpus_documents():
        if f.level and d.level != f.level:
            continue
        if f.issuer and not any(f.issuer in i for i in d.issuers):
            continue
        if f.from_year is not None and (d.issued_on is None or d.issued_on.year != f.from_year):
            continue
        if f.in_force_on is not None and d.in_force(f.in_force_on) is False:
            continue
        out.append(d)
    return out


def document(ref: str) -> Document:
    d = find_document(ref)
    if d is None:
        raise ApiError(404, f"找不到文件：{_short(ref)}", [Problem("id", "政策库中没有这份文件")])
    return d


def clause(d: Document, path: str) -> Clause:
    c = find_clause(d, path)
    if c is None:
        raise ApiError(
            404,
            f"找不到条款：{_short(path)}（文件《{d.title}》）",
            [Problem("path", "这份文件中没有这个条款")],
        )
    return c


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# --- rules ------------------------------------------------------------------------------


#: The catalogue entries of each loaded pack (they depend on the pack alone; the pages and
#: /api/rules list hundreds at a time). Keyed by id(pack), holding the pack so it stays alive.
_ENTRIES: dict[int, tuple[Pack, dict[str, dict[str, Any]]]] = {}


def catalogue_entry(pack: Pack, rule: Any) -> dict[str, Any]:
    """One benefit as `huiqi rules --json` lists it (shared: callers must not change it)."""
    held = _ENTRIES.get(id(pack))
    if held is None or held[0] is not pack:
        held = _ENTRIES[id(pack)] = (pack, {})
    entry = held[1].get(rule.id)
    if entry is None:
        entry = held[1][rule.id] = _build_entry(pack, rule)
    return entry


def _build_entry(pack: Pack, rule: Any) -> dict[str, Any]:
    from ..cli.rules import _catalogue_entry

    entry = _catalogue_entry(pack, rule)
    entry["doc_id"] = rule.doc_id
    entry["clause"] = clause_path(pack, rule)
    entry["beneficiary_labels"] = [pack.entities.get(b, b) for b in rule.beneficiary]
    return entry


def clause_path(pack: Pack, rule: Any) -> str | None:
    d = find_document(rule.doc_id or rule.doc, pack.documents)
    c = find_clause(d, rule.clause) if d else None
    return c.path if c else None


def rules(
    pack: Pack,
    document_ref: str | None = None,
    beneficiary: str | None = None,
    kind: str | None = None,
    determination: str | None = None,
    in_force_on: str | None = None,
    department: str | None = None,
) -> list[Any]:
    selected = list(pack.rules)
    if department:  # a part of the department's name (科技局 finds 市科技局)
        selected = [r for r in selected if department in r.apply.department]
    if document_ref:
        d = find_document(document_ref, pack.documents)
        if d is None:
            raise ApiError(
                404,
                f"找不到文件：{_short(document_ref)}",
                [Problem("document", "政策库中没有这份文件")],
            )
        selected = [r for r in selected if r.doc_id == d.id]
    if beneficiary:
        key = next((k for k, v in pack.entities.items() if beneficiary in (k, v)), None)
        if key is None:
            choices = "、".join(pack.entities.values())
            raise ApiError(
                422,
                "受益主体不对",
                [Problem("beneficiary", f"应为以下之一：{choices}")],
            )
        selected = [r for r in selected if key in r.beneficiary]
    if kind:
        key = next((k for k, v in KINDS.items() if kind in (k, v)), None)
        if key is None:
            raise ApiError(
                422, "兑现方式不对", [Problem("kind", f"应为以下之一：{'、'.join(KINDS.values())}")]
            )
        selected = [r for r in selected if r.kind == key]
    if determination:
        key = next((k for k, v in DETERMINATIONS.items() if determination in (k, v)), None)
        if key is None:
            raise ApiError(
                422,
                "认定方式不对",
                [Problem("determination", f"应为以下之一：{'、'.join(DETERMINATIONS.values())}")],
            )
        selected = [r for r in selected if r.determination == key]
    if in_force_on:
        on = filters(in_force_on=in_force_on).in_force_on
        assert on is not None
        selected = [
            r
            for r in selected
            if not r.repealed_by
            and (r.valid_from is None or r.valid_from <= on)
            and (r.valid_to is None or on <= r.valid_to)
        ]
    return selected


def rule(pack: Pack, rule_id: str) -> Any:
    cr = pack.by_id.get(rule_id)
    if cr is None:
        raise ApiError(404, f"找不到规则：{_short(rule_id)}", [Problem("id", "没有这条规则")])
    return cr.rule


def rule_clause(pack: Pack, r: Any) -> dict[str, Any] | None:
    d = find_document(r.doc_id or r.doc, pack.documents)
    c = find_clause(d, r.clause) if d else None
    if d is None or c is None:
        return None
    return {
        "doc_id": d.id,
        "doc_title": d.title,
        "path": c.path,
        "label": c.label,
        "citation": c.citation,
        "text": c.text,
    }


# --- match ------------------------------------------------------------------------------


def parse_body(raw: bytes) -> Any:
    """A JSON request body, under the profile limits (size, depth, duplicate keys)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(
            422, "请求内容应为 UTF-8 编码的 JSON", [Problem("(根)", "无法解码")]
        ) from None
    try:
        return load_json_text(text, "请求", BODY_LIMITS)
    except InputError as exc:
        raise ApiError(422, "请求内容无法读取", [Problem("(根)", exc.message)]) from None


def match(profile_data: Any, as_of: date | None, pack: Pack) -> MatchReport:
    """Validate a profile (a mapping, or YAML/JSON text) and evaluate it, as `huiqi match`."""
    if isinstance(profile_data, str):
        try:
            profile_data = read_profile_text(profile_data, "画像")
        except InputError as exc:
            raise ApiError(422, "画像无法读取", [Problem("profile", exc.message)]) from None
    try:
        prof = validate_profile(profile_data, pack.variables, set(pack.by_id), pack.entities)
    except ProfileError as exc:
        problems = [
            Problem("profile" if p.path == "(根)" else f"profile.{p.path}", p.reason)
            for p in exc.problems
        ]
        raise ApiError(422, f"画像有 {len(problems)} 处问题，未评估", problems) from None
    when = as_of or prof.as_of or date.today()
    return evaluate_profile(pack, prof, when, remember=True)


def summary(report: MatchReport) -> dict[str, Any]:
    """The result page's figures, from the one result model (engine/result.py): certain cash,
    tax savings apart, review-dependent ranges (never added), non-monetary items."""
    from ..engine.result import build_result

    result = build_result(report)
    by_id = {r.rule.id: r for r in report.eligible}

    def pick(items) -> list:
        return [by_id[b.rule_id] for b in items]

    cash, tax, ranges = pick(result.cash), pick(result.tax), pick(result.review)
    low, high = result.review_range
    return {
        "cash_total": result.cash_total,
        "tax_total": result.tax_total,
        "range_min": low,
        "range_max": high,
        "cash": cash,
        "tax": tax,
        "ranges": ranges,
        "money": cash + tax + ranges,
        "other": pick(result.support),
        "result": result,
        # what to do for each benefit (deadline as dates, steps), by rule
        "benefits": {
            b.rule_id: b
            for part in (result.cash, result.tax, result.review, result.support)
            for b in part
        },
        "near": result.near_misses,
        "overdue": result.overdue,
    }


def _zero():
    from decimal import Decimal

    return Decimal(0)
