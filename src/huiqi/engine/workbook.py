"""A self-check result as an Excel workbook: the one writer behind `huiqi match --xlsx`, the
API's `/api/match.xlsx` and the web page's download.

One sheet: the totals first (certain cash, tax saved apart, the review range never added),
then one row per benefit with its amount, arithmetic, application window and clause. Amounts
are numbers in 元 so the sheet can add them; text is stored as text, never as a formula (a
profile label or a policy sentence may start with `=`).
"""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from typing import Any

from ..packs.rules import DETERMINATIONS
from .result import Result

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARTS = {"cash": "资金", "tax": "税收减免", "review": "需评审", "support": "非资金"}
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


def workbook_bytes(result: Result) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "政策体检"

    def put(row: int, col: int, value: Any) -> None:
        cell = ws.cell(row=row, column=col, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # text from a profile or a policy is never a formula
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    low, high = result.review_range
    head = [
        ("申请人", result.label or "—"),
        ("评估日期", result.as_of.isoformat()),
        ("适用政策", "、".join(result.jurisdictions)),
        ("可确定的资金奖励补贴合计（元）", _number(result.cash_total)),
        ("税收减免（元，另计）", _number(result.tax_total)),
        ("需评审确定的金额，最低（元，未计入合计）", _number(low)),
        ("需评审确定的金额，最高（元，未计入合计）", _number(high)),
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
    row = start
    for part, label in PARTS.items():
        for b in getattr(result, part):
            row += 1
            closes = b.deadline.closes.isoformat() if b.deadline and b.deadline.closes else ""
            missed = "（已过申报期）" if b.deadline and b.deadline.missed else ""
            values = [
                b.title,
                label,
                _number(b.amount),
                _number(b.amount_min),
                _number(b.amount_max),
                "；".join(b.arithmetic),
                DETERMINATIONS.get(b.determination, ""),
                b.schedule,
                b.department,
                b.window,
                (closes + missed) or (b.deadline.text if b.deadline else ""),
                "、".join(b.materials),
                b.citation,
                b.quote,
            ]
            for col, value in enumerate(values, 1):
                put(row, col, value if value != "" else None)
    ws.freeze_panes = ws.cell(row=start + 1, column=2)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
