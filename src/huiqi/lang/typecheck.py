"""A small static type check of resolved expressions (num, bool, str, date, events)."""

from __future__ import annotations

from datetime import date

from ..errors import ExprError
from ..packs.variables import FieldSpec, Variable, expr_type
from .expr import (
    Aggregate,
    Binary,
    Bool,
    BoolOp,
    Builtin,
    Call,
    Compare,
    Field,
    If,
    In,
    Neg,
    Node,
    Not,
    Num,
    Param,
    Str,
    Var,
)

TYPE_LABELS = {"num": "数值", "bool": "是/否", "str": "文字", "date": "日期", "events": "事件列表"}


def _err(node: Node, message: str) -> ExprError:
    return ExprError(message, node.pos.line, node.pos.column)


def infer(node: Node, variables: dict[str, Variable], param_types: dict[str, str]) -> str:
    """The type of `node`; raises ExprError at the first misuse."""

    def spec_of(n: Node) -> FieldSpec | None:
        if isinstance(n, Var):
            return variables[n.name].spec
        if isinstance(n, Field):
            return variables[n.source].fields[n.name]
        return None

    def enum_check(slot: Node, literals: list[Node]) -> None:
        spec = spec_of(slot)
        if spec is None or spec.type != "enum":
            return
        for lit in literals:
            if isinstance(lit, Str) and lit.value not in spec.values:
                raise _err(
                    lit, f"“{lit.value}”不是 {spec.label} 的选项（{'、'.join(spec.values)}）"
                )

    def need(n: Node, want: str, what: str) -> None:
        got = go(n)
        if got != want:
            raise _err(n, f"{what}应为{TYPE_LABELS[want]}，此处是{TYPE_LABELS.get(got, got)}")

    def go(n: Node) -> str:
        if isinstance(n, Num):
            return "num"
        if isinstance(n, Str):
            return "str"
        if isinstance(n, Bool):
            return "bool"
        if isinstance(n, Var):
            return expr_type(variables[n.name].type)
        if isinstance(n, Field):
            return expr_type(variables[n.source].fields[n.name].type)
        if isinstance(n, Param):
            return param_types[n.name]
        if isinstance(n, Builtin):
            return "date" if n.name == "as_of" else "num"
        if isinstance(n, Neg):
            need(n.operand, "num", "取负的对象")
            return "num"
        if isinstance(n, Not):
            need(n.operand, "bool", "not 的对象")
            return "bool"
        if isinstance(n, Binary):
            need(n.left, "num", f"“{n.op}”左边")
            need(n.right, "num", f"“{n.op}”右边")
            return "num"
        if isinstance(n, Compare):
            left, right = go(n.left), go(n.right)
            if left != right:
                raise _err(
                    n, f"不能比较{TYPE_LABELS.get(left, left)}与{TYPE_LABELS.get(right, right)}"
                )
            if n.op not in ("==", "!=") and left not in ("num", "date"):
                raise _err(n, f"{TYPE_LABELS.get(left, left)}只能用 == 或 != 比较")
            if left == "events":
                raise _err(n, "事件列表不能直接比较，请用 count/any/sum")
            enum_check(n.left, [n.right])
            enum_check(n.right, [n.left])
            return "bool"
        if isinstance(n, BoolOp):
            for item in n.items:
                need(item, "bool", f"{n.op} 的每一项")
            return "bool"
        if isinstance(n, If):
            need(n.cond, "bool", "if 的条件")
            then, orelse = go(n.then), go(n.orelse)
            if then != orelse:
                raise _err(n, "if 两个分支的类型不同")
            return then
        if isinstance(n, In):
            item = go(n.item)
            for opt in n.options:
                if go(opt) != item:
                    raise _err(opt, "in 列表中各项应与左边类型相同")
            enum_check(n.item, list(n.options))
            return "bool"
        if isinstance(n, Call):
            if n.func in ("min", "max", "abs", "floor"):
                for a in n.args:
                    need(a, "num", f"{n.func} 的参数")
                return "num"
            if n.func in ("year", "month"):
                need(n.args[0], "date", f"{n.func} 的参数")
                return "num"
            if n.func == "date":
                arg = n.args[0]
                if not isinstance(arg, Str):
                    raise _err(n, 'date(…) 的参数应是日期文字，如 date("2016-01-01")')
                try:
                    date.fromisoformat(arg.value)
                except ValueError:
                    raise _err(arg, f"无法识别的日期 {arg.value}") from None
                return "date"
        if isinstance(n, Aggregate):
            if n.where is not None:
                need(n.where, "bool", "where 条件")
            if n.value is not None:
                need(n.value, "num", f"{n.func} 的取值")
            return "bool" if n.func in ("any", "all") else "num"
        raise _err(n, f"无法识别的表达式 {type(n).__name__}")  # pragma: no cover

    return go(node)
