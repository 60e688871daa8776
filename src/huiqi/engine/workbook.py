"""A self-check result as an Excel workbook: a summary sheet, then one row per benefit.

Amounts are numbers in 元 (so the sheet can add them); the labels are the result model's.
"""

from __future__ import annotations

from pathlib import Path

from .result import Result

PARTS = {"cash": "现金奖补", "tax": "税收减免", "review": "需评审确定", "support": "非资金支持"}
COLUMNS = [
    "类别",
    "待遇",
    "金额（元）",
    "最低（元）",
    "最高（元）",
    "申请截止",
    "是否已过期",
    "受理部门",
    "所需材料",
    "拨付方式",
    "依据",
    "原文",
]


def _safe(text: object) -> object:
    """Text that Excel will not run as a formula (a policy text may start with = + - @)."""
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def write_workbook(result: Result, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    low, high = result.review_range
    rows = [
        ("申请人", result.label or ""),
        ("评估日期", result.as_of.isoformat()),
        ("适用政策", " + ".join(result.jurisdictions)),
        ("现金奖补合计（元）", int(result.cash_total)),
        ("税收减免合计（元）", int(result.tax_total)),
        ("需评审确定（元）", f"{int(low)}–{int(high)}"),
        ("非资金支持（项）", len(result.support)),
        ("未能判定的政策（项）", result.undetermined),
    ]
    for row in rows:
        ws.append([_safe(v) for v in row])
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 40

    detail = wb.create_sheet("待遇明细")
    detail.append(COLUMNS)
    for cell in detail[1]:
        cell.font = Font(bold=True)
    for part, label in PARTS.items():
        for b in getattr(result, part):
            closes = (
                b.deadline.closes.isoformat()
                if b.deadline and b.deadline.closes
                else (b.deadline.text if b.deadline else "")
            )
            detail.append(
                [
                    _safe(v)
                    for v in (
                        label,
                        b.title,
                        int(b.amount) if b.amount is not None else None,
                        int(b.amount_min) if b.amount_min is not None else None,
                        int(b.amount_max) if b.amount_max is not None else None,
                        closes,
                        "是" if b.deadline and b.deadline.missed else "否",
                        b.department,
                        "、".join(b.materials),
                        b.schedule,
                        b.citation,
                        b.quote,
                    )
                ]
            )
    widths = (12, 36, 14, 14, 14, 14, 10, 30, 30, 24, 36, 60)
    for letter, width in zip("ABCDEFGHIJKL", widths, strict=True):
        detail.column_dimensions[letter].width = width
    wb.save(path)
