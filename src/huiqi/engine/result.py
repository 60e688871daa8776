"""The result people act on: money first, in four parts, then what to do for each benefit.

One model for every interface (the terminal renders it now, the web and Excel next):

- 现金奖补 (`cash`): amounts certain to be paid if the application is made;
- 税收减免 (`tax`): tax saved, per tax year — money kept, never added to cash;
- 评审裁量 (`review`): amounts that depend on review or ranking, as ranges, never added to the
  certain total;
- 非资金支持 (`support`): benefits without money, and money whose amount the text leaves open.

Each benefit carries its schedule, the application window as dates computed from the
evaluation date (a window already closed is marked missed), department, materials, steps
and the clause. Near misses are kept only where they are near.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ..explain import render
from ..explain.zh import gap_text
from .match import (
    ELIGIBLE,
    NOT_ELIGIBLE,
    OVERDUE,
    MatchReport,
    RuleResult,
    claim_window,
    is_review,
)

NEAR = Decimal("0.3")  # a shortfall within 30% of the threshold is a near miss


@dataclass
class Deadline:
    opens: date | None
    closes: date | None
    missed: bool
    text: str  # as written in the rule (次年第一季度…)

    def to_dict(self) -> dict[str, Any]:
        return {
            "opens": self.opens.isoformat() if self.opens else None,
            "closes": self.closes.isoformat() if self.closes else None,
            "missed": self.missed,
            "text": self.text,
        }


@dataclass
class Benefit:
    rule_id: str
    title: str
    part: str  # cash | tax | review | support
    amount: Decimal | None
    amount_min: Decimal | None
    amount_max: Decimal | None
    schedule: str
    deadline: Deadline | None
    department: str
    materials: list[str]
    steps: list[str]
    citation: str
    quote: str
    note: str
    arithmetic: list[str]
    determination: str = ""  # automatic | application | discretion
    window: str = ""  # the application window as written (次年第一季度)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "deadline"}
        for k in ("amount", "amount_min", "amount_max"):
            out[k] = (
                None if out[k] is None else int(out[k]) if out[k] == int(out[k]) else str(out[k])
            )
        out["deadline"] = self.deadline.to_dict() if self.deadline else None
        return out


@dataclass
class NearMiss:
    rule_id: str
    title: str
    gaps: list[str]
    citation: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Overdue:
    """Met the conditions but claimed after a binding deadline (逾期未申请)."""

    rule_id: str
    title: str
    reason: str  # the deadline and the sentence that refuses late claims
    citation: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Result:
    as_of: date
    label: str
    jurisdictions: list[str]
    cash: list[Benefit] = field(default_factory=list)
    tax: list[Benefit] = field(default_factory=list)
    review: list[Benefit] = field(default_factory=list)
    support: list[Benefit] = field(default_factory=list)
    near_misses: list[NearMiss] = field(default_factory=list)
    overdue: list[Overdue] = field(default_factory=list)
    undetermined: int = 0

    @property
    def cash_total(self) -> Decimal:
        return sum((b.amount for b in self.cash if b.amount is not None), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((b.amount for b in self.tax if b.amount is not None), Decimal(0))

    @property
    def review_range(self) -> tuple[Decimal, Decimal]:
        # A review benefit with a stated amount (评审后给予100万元) is a range of one point.
        low = sum((_low(b) for b in self.review), Decimal(0))
        high = sum((_high(b) for b in self.review), Decimal(0))
        return low, high

    def to_dict(self) -> dict[str, Any]:
        low, high = self.review_range
        return {
            "as_of": self.as_of.isoformat(),
            "label": self.label,
            "jurisdictions": self.jurisdictions,
            "cash_total": int(self.cash_total),
            "tax_total": int(self.tax_total),
            "review_min": int(low),
            "review_max": int(high),
            "cash": [b.to_dict() for b in self.cash],
            "tax": [b.to_dict() for b in self.tax],
            "review": [b.to_dict() for b in self.review],
            "support": [b.to_dict() for b in self.support],
            "near_misses": [n.to_dict() for n in self.near_misses],
            "overdue": [o.to_dict() for o in self.overdue],
            "undetermined": self.undetermined,
        }


def _low(b: Benefit) -> Decimal:
    return Decimal(b.amount_min if b.amount_min is not None else b.amount or 0)


def _high(b: Benefit) -> Decimal:
    return Decimal(b.amount_max if b.amount_max is not None else b.amount or 0)


def deadline_of(r: RuleResult, as_of: date) -> Deadline | None:
    """The application window as dates (the engine's `claim_window`), marked missed once past."""
    a = r.rule.apply
    text = a.deadline or a.window
    window = claim_window(r.rule, as_of)
    if window:
        opens, closes = window
        return Deadline(opens, closes, as_of > closes, text)
    return Deadline(None, None, False, text) if text else None


def _part(r: RuleResult) -> str:
    rule = r.rule
    if rule.amount.type in ("none", "unstated"):
        return "support"
    if is_review(r):
        return "review"
    if rule.benefit == "tax_relief":
        return "tax"
    return "cash"


def _near(r: RuleResult, pack) -> NearMiss | None:
    gaps = r.gaps
    if not r.near_miss or not gaps:
        return None
    for g in gaps:
        threshold = Decimal(str(g["threshold"]))
        if threshold == 0 or Decimal(str(g["shortfall"])) / abs(threshold) > NEAR:
            return None
    return NearMiss(r.rule.id, r.rule.title, [gap_text(g, pack) for g in gaps], r.rule.citation)


def build_result(report: MatchReport) -> Result:
    jurisdictions = [j.name for j in report.pack.layers if j.pack in report.packs]
    out = Result(report.as_of, report.label, jurisdictions)
    for r in report.results:
        if r.status == ELIGIBLE:
            if r.set_aside_by and (r.amount == 0 or r.amount_max == 0):
                continue  # paid under another rule of the same group: shown there
            rule = r.rule
            part = _part(r)
            benefit = Benefit(
                rule_id=rule.id,
                title=rule.title,
                part=part,
                amount=r.amount,
                amount_min=r.amount_min,
                amount_max=r.amount_max,
                schedule=rule.schedule,
                deadline=deadline_of(r, report.as_of),
                department=rule.apply.department,
                materials=list(rule.apply.materials),
                steps=list(rule.apply.steps),
                citation=rule.citation,
                quote=rule.quote,
                note=render(r.stacking_note) or rule.note,
                arithmetic=[render(s) for s in r.steps],
                determination=rule.determination,
                window=rule.apply.window,
            )
            getattr(out, part).append(benefit)
        elif r.status == NOT_ELIGIBLE:
            near = _near(r, report.pack)
            if near:
                out.near_misses.append(near)
        elif r.status == OVERDUE:
            out.overdue.append(Overdue(r.rule.id, r.rule.title, render(r.reason), r.rule.citation))
        elif r.status == "undetermined":
            out.undetermined += 1
    for part in ("cash", "tax", "review"):
        getattr(out, part).sort(key=lambda b: -(b.amount or b.amount_max or 0))
    return out
