"""A match result as an Excel workbook (openpyxl): the same figures as the result page."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from typing import Any

from ..engine.match import MatchReport
from ..explain import render
from ..packs.rules import DETERMINATIONS
from .service import summary

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = [
    ("政策待遇", 36),
    ("类别", 10),
    ("金额（元）", 14),
    ("最低（元）", 14),
    ("最高（元）", 14),
    ("计算过程", 40),
    ("认定方式", 10),
    ("拨付", 20),
    ("受理部门", 30),
    ("申报时间", 20),
    ("截止", 20),
    ("申报材料", 30),
    ("依据", 36),
    ("原文", 60),
]


def _number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def workbook(report: MatchReport, places: list[str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    s = summary(report)
    wb = Workbook()
    ws = wb.active
    ws.title = "政策体检"

    def put(row: int, col: int, value: Any) -> None:
        cell = ws.cell(row=row, column=col, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # text from a profile or a policy is never a formula
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    head = [
        ("申请人", report.label or "—"),
        ("评估日期", report.as_of.isoformat()),
        ("适用政策", "、".join(places)),
        ("可确定的资金奖励补贴合计（元）", _number(s["cash_total"])),
        ("税收减免（元，另计）", _number(s["tax_total"])),
        ("需评审确定的金额，最低（元，未计入合计）", _number(s["range_min"])),
        ("需评审确定的金额，最高（元，未计入合计）", _number(s["range_max"])),
    ]
    for i, (label, value) in enumerate(head, 1):
        put(i, 1, label)
        put(i, 2, value)
        ws.cell(row=i, column=1).font = Font(bold=True)
    start = len(head) + 2
    for col, (name, width) in enumerate(COLUMNS, 1):
        put(start, col, name)
        ws.cell(row=start, column=col).font = Font(bold=True)
        ws.column_dimensions[ws.cell(row=start, column=col).column_letter].width = width
    groups = [("资金", s["cash"]), ("税收减免", s["tax"]), ("需评审", s["ranges"])]
    groups.append(("非资金", s["other"]))
    row = start
    for label, items in groups:
        for r in items:
            row += 1
            rule = r.rule
            values = [
                rule.title,
                label,
                _number(r.amount),
                _number(r.amount_min),
                _number(r.amount_max),
                "；".join(render(step) for step in r.steps),
                DETERMINATIONS[rule.determination],
                rule.schedule,
                rule.apply.department,
                rule.apply.window,
                rule.apply.deadline,
                "、".join(rule.apply.materials),
                rule.citation,
                rule.quote,
            ]
            for col, value in enumerate(values, 1):
                put(row, col, value if value != "" else None)
    ws.freeze_panes = ws.cell(row=start + 1, column=2)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
