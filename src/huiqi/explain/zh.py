"""Render explanations in Chinese: the one place where their sentences are written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .model import Reason, Step

DETERMINATION_LABELS = {"automatic": "自动兑现", "application": "依申请", "discretion": "评审"}


def yuan(value: Any) -> str:
    d = Decimal(str(value))
    return f"{d:,.0f} 元" if d == d.to_integral_value() else f"{d:,.2f} 元"


def pct(value: Any) -> str:
    return f"{Decimal(str(value)) * 100:f}".rstrip("0").rstrip(".") + "%"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return f"{value:f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:f}"
    return str(value)


def _principle(p: dict[str, Any]) -> str:
    return f"：{p['principle']}" if p.get("principle") else ""


def _reason(r: Reason) -> str:
    p = r.params
    match r.code:
        case "repealed":
            return f"已被《{str(p['by']).strip('《》')}》废止"
        case "not_yet_in_force":
            return f"自 {p['valid_from']} 起施行，评估日期 {p['as_of']} 尚未生效"
        case "expired":
            return (
                f"有效期 {p.get('valid_from') or '—'} 至 {p['valid_to']}，"
                f"评估日期 {p['as_of']} 已失效"
            )
        case "excluded":
            return f"{p['title']}（{p['clause']}：“{p['quote']}”）"
        case "not_for_applicant":
            return f"受益主体为{'、'.join(p['beneficiaries'])}，申请人为{p['applicant']}"
        case "amount_inputs_missing":
            return "条件已满足，金额所需信息不全"
        case "overdue":
            return f"条件符合，但已过申报期限（{p['closes']}；原文：“{p['quote']}”）"
        case "stack_lower":
            key = f"（{p['key']}）" if p.get("key") else ""
            return f"同一类奖励{key}已按「{p['winner_title']}」给予较高或相同的金额{_principle(p)}"
        case "stack_once_received":
            return f"已获过同类奖励（{'、'.join(p['received'])}），只能享受一次{_principle(p)}"
        case "stack_received_covers":
            return (
                f"已获同类奖励 {yuan(p['already'])}（{'、'.join(p['received'])}），"
                f"不低于本项{_principle(p)}"
            )
        case "stack_top_up":
            return (
                f"扣除已获同类奖励 {yuan(p['already'])}（{'、'.join(p['received'])}），"
                f"补差 {yuan(p['remaining'])}{_principle(p)}"
            )
    raise ValueError(r.code)  # pragma: no cover - Reason() refuses unknown codes


def _step(s: Step) -> str:
    p = s.params
    match s.code:
        case "fixed":
            return f"定额 {p['text']} = {yuan(p['amount'])}"
        case "formula":
            return f"{p['text']} = {yuan(p['amount'])}"
        case "derived":
            v, t = p["value"], p.get("type")
            shown = yuan(v) if t == "money" else pct(v) if t == "ratio" else _plain(v)
            return f"{p['label'] or p['name']}（{p['name']}）= {shown}"
        case "per_item":
            return f"每项 {yuan(p['rate'])} × {_plain(p['count'])} 项 = {yuan(p['amount'])}"
        case "percent":
            text = f"{p['base_label']} {yuan(p['base'])} × {pct(p['rate'])} = {yuan(p['raw'])}"
            if p.get("cap") is not None:
                if Decimal(str(p["raw"])) > Decimal(str(p["cap"])):
                    text += f"，超过上限 {yuan(p['cap'])}，按上限给予 {yuan(p['cap'])}"
                else:
                    text += f"，未超过上限 {yuan(p['cap'])}"
            return text
        case "range":
            low = f"{yuan(p['min'])} 至 " if p.get("min") is not None else "最高不超过 "
            how = DETERMINATION_LABELS.get(p["determination"], "")
            return f"{how}确定金额：{low}{yuan(p['max'])}"
        case "unstated":
            return p.get("note") or "资金支持，金额未明确"
        case "non_monetary":
            return f"非资金支持：{p['note']}" if p.get("note") else "非资金支持"
    raise ValueError(s.code)  # pragma: no cover


def gap_text(gap: dict[str, Any], pack: Any) -> str:
    """研发投入还差 X 万元达到 3000 万元 — a gap in words."""
    var = pack.variables.get(gap["variable"] or "")
    label = var.label if var else gap["condition"]
    vtype = var.type if var else ""
    spec_unit = var.spec.unit if var and var.spec else ""

    def fmt(v: Any) -> str:
        if vtype == "money":
            return wan(v)
        if vtype == "ratio":
            return f"{Decimal(v) * 100:.2f}".rstrip("0").rstrip(".") + "%"
        return f"{_plain(Decimal(v))}{spec_unit}"

    s = gap["shortfall"]
    now = f"（现为 {fmt(gap['actual'])}）"
    if gap["op"] == ">=":
        return f"{label}还差 {fmt(s)}达到 {fmt(gap['threshold'])}{now}"
    if gap["op"] == ">":
        return f"{label}还差 {fmt(s)}，须超过 {fmt(gap['threshold'])}{now}"
    verb = "低于" if gap["op"] == "<" else "不超过"
    return f"{label}超出 {fmt(s)}，须{verb} {fmt(gap['threshold'])}{now}"


def wan(value: Any) -> str:
    """Money in 万元, for display only."""
    d = Decimal(str(value)) / 10_000
    text = f"{d:,.4f}".rstrip("0").rstrip(".")
    return f"{text}万元"


def render(item: Reason | Step | None) -> str:
    if item is None:
        return ""
    return _reason(item) if isinstance(item, Reason) else _step(item)
