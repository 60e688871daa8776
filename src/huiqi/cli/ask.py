"""`huiqi ask`: the self-check (政策体检) in the terminal, one question at a time.

The questionnaire is the engine's (engine/questionnaire.py); this module only asks, reads
the answer and renders the result (engine/result.py) — money first.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from .console import console, err, esc

DONT_KNOW = {"?", "？", "不知道", "不清楚", "跳过"}
BACK = {"b", "上一步", "返回"}
STOP = {"q", "结束", "退出"}
YES = {"是", "y", "yes", "有", "1"}
NO = {"否", "n", "no", "没有", "无", "0"}


class _Stop(Exception):
    pass


def _read(prompt: str) -> str:
    try:
        return console.input(prompt).strip()
    except EOFError:  # input closed: stop as if the user typed 结束
        raise _Stop from None


def _choose(text: str, choices: list[tuple[str, str]], many: bool = False) -> Any:
    picked = []
    for token in text.replace("，", ",").replace("、", ",").replace(" ", ",").split(","):
        if not token:
            continue
        if token.isdigit() and 1 <= int(token) <= len(choices):
            picked.append(choices[int(token) - 1][0])
            continue
        hit = next((v for v, label in choices if token in (v, label)), None)
        if hit is None:
            raise ValueError(f"没有这个选项：{token}")
        picked.append(hit)
    if many:
        return picked
    if len(picked) != 1:
        raise ValueError("请选择一项（输入编号）")
    return picked[0]


def _scalar(kind: str, text: str, choices: list[tuple[str, str]]) -> Any:
    if kind == "bool":
        if text in YES:
            return True
        if text in NO:
            return False
        raise ValueError("请回答 是 或 否")
    if kind == "enum":
        return _choose(text, choices)
    if kind in ("integer", "year"):
        try:
            return int(text)
        except ValueError:
            raise ValueError("请输入整数") from None
    if kind == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError("请按 年-月-日 输入，如 2018-03-31") from None
    return text  # money and ratio: the profile reader accepts 300万, 15%


def _show_choices(choices: list[tuple[str, str]]) -> None:
    for i, (_, label) in enumerate(choices, 1):
        console.print(f"  {i}. {esc(label)}")


def _event_form(q) -> list[dict[str, Any]]:
    """An event list as one small form: records until the user says there are no more."""
    records: list[dict[str, Any]] = []
    while True:
        more = _read(f"  添加第 {len(records) + 1} 条记录吗？（是/否）：")
        if more in STOP:
            raise _Stop
        if more in NO or (more == "" and records):
            return records
        if more not in YES:
            console.print("  请回答 是 或 否")
            continue
        rec: dict[str, Any] = {}
        for f in q.fields:
            choices = [(c, c) for c in f["choices"]]
            while True:
                label = f["label"] + ("（可不填，直接回车）" if f["optional"] else "")
                if choices:
                    console.print(f"  {esc(label)}：")
                    _show_choices(choices)
                text = _read(f"  {esc(f['label'])}：" if choices else f"  {esc(label)}：")
                if text == "" and f["optional"]:
                    break
                try:
                    rec[f["name"]] = _scalar(f["type"], text, choices)
                    break
                except ValueError as exc:
                    console.print(f"  [yellow]{esc(str(exc))}[/yellow]")
        records.append(rec)


def _money(v) -> str:
    from ..explain.zh import wan

    return wan(v) if v >= 10_000 else f"{int(v):,}元"


def print_money(result) -> None:
    """The money of a result model, its parts kept apart (one wording for `ask` and `match`)."""
    console.print(f"[bold green]现金奖补（申请即可获得）：{_money(result.cash_total)}[/bold green]")
    if result.tax:
        console.print(
            f"[bold]税收减免（少缴的税款，非拨付资金）：{_money(result.tax_total)}[/bold]"
        )
    if result.review:
        low, high = result.review_range
        span = _money(high) if low == high else f"{_money(low)}至{_money(high)}"
        console.print(f"[bold]需评审确定的资金：{span}[/bold]（经评审确定，不计入确定金额）")
    if result.overdue:
        console.print(
            f"[red]逾期未申请：{len(result.overdue)} 项[/red]（条件符合，但已过申报期限）"
        )


def render_result(result) -> None:
    """Money first: certain cash, tax saved apart, review-dependent ranges, then support."""
    console.rule("[bold]体检结果[/bold]")
    where = " + ".join(result.jurisdictions)
    console.print(f"评估日期 {result.as_of}；适用政策：{esc(where)}")
    print_money(result)
    for title, items in (
        ("现金奖补", result.cash),
        ("税收减免", result.tax),
        ("需评审", result.review),
    ):
        for b in items:
            amount = (
                _money(b.amount)
                if b.amount is not None
                else f"{_money(b.amount_min or 0)}至{_money(b.amount_max or 0)}"
            )
            console.print(f"\n· [bold]{esc(b.title)}[/bold]  {amount}（{title}）")
            if b.deadline and b.deadline.closes:
                state = "[red]已过申请期[/red]" if b.deadline.missed else "请在此前申请"
                console.print(f"  申请截止：{b.deadline.closes:%Y年%m月%d日}（{state}）")
            elif b.deadline and b.deadline.text:
                console.print(f"  申请时间：{esc(b.deadline.text)}")
            if b.department:
                console.print(f"  受理部门：{esc(b.department)}")
            if b.materials:
                console.print(f"  所需材料：{esc('、'.join(b.materials))}")
            if b.schedule:
                console.print(f"  拨付方式：{esc(b.schedule)}")
            console.print(f"  依据：{esc(b.citation)}：“{esc(b.quote)}”")
    if result.support:
        console.print(
            f"\n另有 {len(result.support)} 项非资金或金额未明确的支持（如优先推荐、辅导服务）："
        )
        for b in result.support:
            console.print(f"  · {esc(b.title)}")
    for n in result.near_misses:
        console.print(f"\n[yellow]差一点满足[/yellow]：{esc(n.title)}：{esc('；'.join(n.gaps))}")
    for o in result.overdue:
        console.print(
            f"\n[red]逾期未申请[/red]：{esc(o.title)}：{esc(o.reason)}（{esc(o.citation)}）"
        )
    if result.undetermined:
        console.print(f"\n还有 {result.undetermined} 项政策因信息不全未能判定。")


def register(app: typer.Typer) -> None:
    @app.command()
    def ask(
        profile: Annotated[Path | None, typer.Argument(help="从已保存的画像继续（可省略）")] = None,
        as_of: Annotated[str | None, typer.Option("--as-of", help="评估日期 YYYY-MM-DD")] = None,
        save: Annotated[Path | None, typer.Option("--save", help="把回答保存为画像文件")] = None,
        pack: Annotated[str | None, typer.Option("--pack", help="规则包（默认：全部）")] = None,
    ) -> None:
        """政策体检：逐题回答，随时可输入“不知道”“上一步”“结束”，最后给出可享受的待遇。"""
        from ..engine.profile import ProfileError, read_profile_file
        from ..engine.questionnaire import Questionnaire, State
        from ..engine.result import build_result
        from ..lang.scalar import plain
        from ..safeyaml import InputError
        from .rules import _load

        when = date.today()
        state = State()
        if profile is not None:
            try:
                data = read_profile_file(profile)
            except (InputError, FileNotFoundError) as exc:
                err.print(f"[red]画像文件无法读取[/red]：{esc(str(exc))}")
                raise typer.Exit(2) from None
            if not isinstance(data, dict):
                err.print("[red]画像应为键值映射[/red]")
                raise typer.Exit(2)
            saved_as_of = data.pop("as_of", None)
            if saved_as_of:
                when = (
                    saved_as_of
                    if isinstance(saved_as_of, date)
                    else date.fromisoformat(str(saved_as_of))
                )
            unknown = list(data.pop("_unknown", []) or [])
            state = State(dict(data), unknown, [*data, *unknown])
        if as_of:
            try:
                when = date.fromisoformat(as_of)
            except ValueError:
                err.print(f"[red]日期格式应为 YYYY-MM-DD[/red]：{esc(as_of)}")
                raise typer.Exit(2) from None
        qn = Questionnaire(_load(pack), when)
        console.print(
            "[bold]政策体检[/bold]：回答几个问题，看看贵单位可以享受哪些政策。"
            "随时可输入“不知道”跳过、“上一步”返回、“结束”停止。"
        )
        asked = 0
        try:
            while True:
                q = qn.next_question(state)
                if q is None:
                    break
                asked += 1
                console.print(f"\n[dim]第 {asked} 题[/dim]  [bold]{esc(q.question)}[/bold]")
                if q.help:
                    console.print(f"[dim]{esc(q.help)}[/dim]")
                if q.rules:
                    console.print(f"[dim]（与 {len(q.rules)} 项政策有关）[/dim]")
                if q.choices:
                    _show_choices(q.choices)
                if q.kind == "events":
                    console.print("[dim]请逐条填写；没有就回答“否”。[/dim]")
                while True:
                    if q.kind == "events":
                        text = _read("有这类记录吗？（是/否/不知道）：")
                        if text in YES:
                            value: Any = _event_form(q)
                            text = ""
                        elif text in NO:
                            value, text = [], ""
                    else:
                        hint = (
                            "（可多选，用空格分隔编号；都没有直接回车）"
                            if q.kind == "families"
                            else ""
                        )
                        text = _read(f"您的回答{hint}：")
                    if text in STOP:
                        raise _Stop
                    if text in BACK:
                        state = qn.back(state)
                        asked = max(0, asked - 2)
                        break
                    if text in DONT_KNOW:
                        state = qn.dont_know(state, q.name)
                        break
                    try:
                        if q.kind == "events":
                            pass  # value from the form
                        elif q.kind == "families":
                            value = _choose(text, q.choices, many=True) if text else []
                        elif q.kind == "applicant":
                            value = _choose(text, q.choices)
                        else:
                            value = _scalar(q.kind, text, q.choices)
                        state = qn.answer(state, q.name, value)
                        break
                    except (ValueError, ProfileError) as exc:
                        msg = (
                            "；".join(p.reason for p in exc.problems)
                            if isinstance(exc, ProfileError)
                            else str(exc)
                        )
                        console.print(f"[yellow]{esc(msg)}，请重新回答[/yellow]")
        except _Stop:
            console.print("\n已停止提问，按目前的回答给出结果。")
        if save is not None:
            out = dict(state.answers)
            out["as_of"] = when.isoformat()
            if state.unknown:
                out["_unknown"] = state.unknown
            save.write_text(
                yaml.safe_dump(plain(out), allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
            console.print(f"回答已保存到 {esc(str(save))}，可用 huiqi ask {esc(str(save))} 继续。")
        render_result(build_result(qn.report(state)))
