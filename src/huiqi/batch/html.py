"""The batch run's HTML report: the budget forecast per department and per document, and the
distribution of the amounts per enterprise, as bar charts in inline SVG drawn here — one file
that opens offline (no script, no external style or font), every text escaped by Jinja."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import duckdb
from jinja2 import Environment
from markupsafe import Markup

from .report import summary_sql
from .runner import FORECAST, RESULT, forecast, has_table

TOP = 15
# per-enterprise certain total, in 元: bins for the distribution
BINS = (0, 10_000, 50_000, 100_000, 500_000, 1_000_000, 5_000_000)
BAR_W = 420
ROW_H = 22
LABEL_W = 260


@dataclass
class Bar:
    label: str
    certain: Decimal
    upper: Decimal  # the top of the review-dependent range
    eligible: int
    undetermined: int
    missing: str


def wan(v: Decimal | int) -> str:
    """元 as 万元 for display (two decimals)."""
    return f"{Decimal(v) / 10_000:,.2f}"


def _bars(con: duckdb.DuckDBPyConnection, by: str) -> list[Bar]:
    rows = con.execute(summary_sql(by)).fetchall()
    nkeys = {"documents": 1, "departments": 1, "counties": 1, "rules": 3}[by]
    out = []
    for r in rows:
        key = r[nkeys - 1] if by != "rules" else r[1]
        eligible, undetermined, _, _, _, certain, _, upper, missing = r[nkeys:]
        out.append(
            Bar(str(key), Decimal(certain), Decimal(upper), eligible, undetermined, missing or "")
        )
    return out


def _chart(bars: list[Bar]) -> dict:
    """Geometry of a horizontal bar chart: certain total (dark) and range top (light)."""
    shown = bars[:TOP]
    top = max((max(b.certain, b.upper) for b in shown), default=Decimal(0)) or Decimal(1)
    items = []
    for i, b in enumerate(shown):
        items.append(
            {
                "y": i * ROW_H,
                "label": b.label if len(b.label) <= 20 else b.label[:19] + "…",
                "full": b.label,
                "w_certain": float(b.certain / top) * BAR_W,
                "w_upper": float(b.upper / top) * BAR_W,
                "text": f"{wan(b.certain)}" + (f"（至 {wan(b.upper)}）" if b.upper else ""),
            }
        )
    return {
        "items": items,
        "height": max(1, len(items)) * ROW_H + 10,
        "width": LABEL_W + BAR_W + 190,
        "bar_x": LABEL_W,
    }


def _distribution(con: duckdb.DuckDBPyConnection) -> dict:
    """How many enterprises get how much for certain (sum over their eligible rules)."""
    edges = list(BINS)
    cases = " ".join(f"WHEN total < {hi} THEN {k}" for k, hi in enumerate(edges[1:], start=0))
    rows = con.execute(
        f"""SELECT bin, count(*) FROM (
              SELECT CASE {cases} ELSE {len(edges) - 1} END AS bin FROM (
                SELECT _rid, sum(amount) AS total FROM {RESULT}
                WHERE status = 'eligible' AND amount > 0 GROUP BY _rid))
            GROUP BY bin"""
    ).fetchall()
    counts = dict(rows)
    labels = []
    for k, lo in enumerate(edges):
        hi = edges[k + 1] if k + 1 < len(edges) else None
        labels.append(f"{wan(lo)}–{wan(hi)}" if hi else f"{wan(lo)} 以上")
    top = max(counts.values(), default=0) or 1
    items = [
        {
            "y": k * ROW_H,
            "label": label,
            "full": label,
            "w_certain": counts.get(k, 0) / top * BAR_W,
            "w_upper": 0,
            "text": f"{counts.get(k, 0):,} 家",
        }
        for k, label in enumerate(labels)
    ]
    return {
        "items": items,
        "height": len(items) * ROW_H + 10,
        "width": LABEL_W + BAR_W + 190,
        "bar_x": LABEL_W,
    }


def report_data(con: duckdb.DuckDBPyConnection) -> dict:
    """The report's figures: totals, the sections (per department, document, county) with
    their charts, and — when the long result was computed — the distribution of amounts per
    enterprise (a forecast-only run has no per-enterprise rows)."""
    forecast(con)
    (enterprises,) = con.execute("SELECT count(*) FROM ids").fetchall()
    totals = con.execute(
        f"""SELECT coalesce(sum(amount), 0), coalesce(sum(amount_max), 0),
              coalesce(sum(n) FILTER (WHERE status = 'undetermined'), 0)
            FROM {FORECAST} WHERE fact IS NULL"""
    ).fetchall()[0]
    certain, upper, undetermined = totals
    per_enterprise = has_table(con, RESULT)
    with_benefit = None
    if per_enterprise:
        with_benefit = con.execute(
            f"SELECT count(DISTINCT _rid) FROM {RESULT} WHERE status = 'eligible'"
        ).fetchall()[0][0]
    sections = []
    for by, heading in (
        ("departments", "按受理部门"),
        ("documents", "按政策文件"),
        ("counties", "按注册地"),
    ):
        bars = _bars(con, by)
        sections.append({"heading": heading, "chart": _chart(bars), "rows": bars})
    return {
        "enterprises": enterprises[0],
        "with_benefit": with_benefit,
        "certain": wan(certain),
        "upper": wan(upper),
        "undetermined": undetermined,
        "sections": sections,
        "distribution": _distribution(con) if per_enterprise else None,
        "top": TOP,
    }


def chart_svg(chart: dict, label: str) -> Markup:
    """One chart as inline SVG (colours from the classes certain/upper: the page's style)."""
    return Markup(_CHART.render(c=chart, label=label))


def render_report(con: duckdb.DuckDBPyConnection, title: str = "") -> str:
    return _TEMPLATE.render(
        title=title or "政策找企业：测算报告",
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
        chart=chart_svg,
        wan=wan,
        **report_data(con),
    )


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_CHART = _ENV.from_string("""
<svg class="chart" role="img" aria-label="{{ label }}" width="{{ c.width }}" height="{{ c.height }}"
     viewBox="0 0 {{ c.width }} {{ c.height }}" xmlns="http://www.w3.org/2000/svg">
{% for it in c['items'] %}
  <g transform="translate(0,{{ it.y }})">
    <title>{{ it.full }}：{{ it.text }}</title>
    <text x="{{ c.bar_x - 6 }}" y="15" text-anchor="end">{{ it.label }}</text>
    {% if it.w_upper %}<rect class="upper" x="{{ c.bar_x }}" y="3" width="{{ '%.1f' % it.w_upper }}" height="16"/>{% endif %}
    <rect class="certain" x="{{ c.bar_x }}" y="3" width="{{ '%.1f' % it.w_certain }}" height="16"/>
    <text x="{{ c.bar_x + [it.w_certain, it.w_upper]|max + 6 }}" y="15">{{ it.text }}</text>
  </g>
{% endfor %}
</svg>
""")

_TEMPLATE = _ENV.from_string(
    """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
.chart text { font-size: 12px; fill: #333; }
.chart rect.certain { fill: #1f5f9f; } .chart rect.upper { fill: #a9c6e3; }
table { border-collapse: collapse; margin-top: .8em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; } td.n { text-align: right; }
.key span { display: inline-block; width: 1em; height: .8em; margin: 0 .3em 0 1em; }
.note { color: #555; font-size: 13px; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="note">生成时间：{{ generated }}。金额单位：万元。“确定金额”为符合条件且金额可算定的奖补之和；
“评审区间上限”为须经评审确定金额的奖补的上限之和。</p>
<ul>
  <li>评估企业 {{ "{:,}".format(enterprises) }} 家{% if with_benefit is not none %}，其中 {{ "{:,}".format(with_benefit) }} 家至少符合一项政策{% endif %}；</li>
  <li>确定金额合计 {{ certain }} 万元，评审区间上限合计 {{ upper }} 万元；</li>
  <li>待确定（缺少信息）{{ "{:,}".format(undetermined) }} 家次。</li>
</ul>
<p class="key"><span style="background:#1f5f9f"></span>确定金额<span style="background:#a9c6e3"></span>评审区间上限</p>
{% for s in sections %}
<h2>{{ s.heading }}（金额前 {{ top }} 位）</h2>
{{ chart(s.chart, s.heading) }}
<table><thead><tr><th>{{ s.heading[1:] }}</th><th>符合（家次）</th><th>待确定（家次）</th>
<th>确定金额（万元）</th><th>评审区间上限（万元）</th><th>最常缺少的信息（次数）</th></tr></thead><tbody>
{% for b in s.rows %}
<tr><td>{{ b.label }}</td><td class="n">{{ "{:,}".format(b.eligible) }}</td>
<td class="n">{{ "{:,}".format(b.undetermined) }}</td><td class="n">{{ wan(b.certain) }}</td>
<td class="n">{{ wan(b.upper) }}</td><td>{{ b.missing }}</td></tr>
{% endfor %}
</tbody></table>
{% endfor %}
{% if distribution %}
<h2>每家企业确定金额的分布（万元）</h2>
{{ chart(distribution, "每家企业确定金额的分布") }}
{% else %}
<p class="note">本次只做了预算测算，未逐户输出结果，因此没有每家企业确定金额的分布。</p>
{% endif %}
</body></html>
"""
)
