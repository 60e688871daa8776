"""Lint: every money rule of a local pack says who is local, or records why it need not.

A city's or county's award is paid to its own enterprises and talents (我市企业, 在焦工作 …).
A money rule of a pack below national level without such a condition pays an applicant
registered anywhere. Each such rule must either test a place variable with `local(…)` or
`within(…, "某市")` in one of its `when` parts (directly, or through a derived variable whose
formula does, such as 在本市注册的独立法人), or carry a `locality:` key (on the rule or in
its file's `defaults`) giving, with the quote, why the text does not restrict the place
(for instance it pays firms from elsewhere that invest in the city).

Part of `huiqi check`.
"""

from __future__ import annotations

from ..errors import ExprError, PackError
from ..lang.expr import Call, Name, Node, parse, walk
from ..packs.loader import Pack

#: Amounts that pay money the engine computes; `unstated` and `none` carry no figure.
MONEY_TYPES = {"fixed", "formula", "per_item", "percent", "range"}
PLACE_FUNCS = {"local", "within"}


def place_variables(pack: Pack) -> set[str]:
    """Variables whose values are the places of the jurisdiction tree (`values: places`)."""
    if pack.registry is None:
        return set()
    places = set(pack.registry.places())
    out = set()
    for name, var in pack.variables.items():
        spec = var.spec
        if spec is not None and spec.values and set(spec.values) == places:
            out.add(name)
    return out


def _tests_place(node: Node, place_vars: set[str], localised: set[str]) -> bool:
    """Whether an expression as written calls local()/within() on a place variable, or reads
    a derived variable that does."""
    for n in walk(node):
        if (
            isinstance(n, Call)
            and n.func in PLACE_FUNCS
            and n.args
            and isinstance(n.args[0], Name)
            and n.args[0].name in place_vars
        ):
            return True
        if isinstance(n, Name) and n.name in localised:
            return True
    return False


def localised_variables(pack: Pack, place_vars: set[str]) -> set[str]:
    """Derived variables whose formula (as written, or through other derived variables) tests
    the place: `local_legal_entity: local(registered_place) and independent_legal_person`."""
    trees: dict[str, Node] = {}
    for name, var in pack.variables.items():
        if var.formula:
            try:
                trees[name] = parse(var.formula)
            except ExprError:  # reported by the loader
                continue
    out: set[str] = set()
    grew = True
    while grew:
        grew = False
        for name, tree in trees.items():
            if name not in out and _tests_place(tree, place_vars, out):
                out.add(name)
                grew = True
    return out


def has_locality_condition(rule, place_vars: set[str], localised: set[str] = frozenset()) -> bool:
    """Whether a `when` part tests the place (the tree as written, before `local` is expanded
    to the pack's places)."""
    return any(_tests_place(p.expr.node, place_vars, localised) for p in rule.when)


def lint_locality(pack: Pack) -> list[PackError]:
    levels = {j.pack: j.level for j in pack.layers}
    if not levels:
        return []
    place_vars = place_variables(pack)
    localised = localised_variables(pack, place_vars)
    errors: list[PackError] = []
    for rule in pack.rules:
        level = levels.get(pack.rule_pack.get(rule.id, pack.name))
        if level in (None, "national") or rule.amount.type not in MONEY_TYPES:
            continue
        if rule.locality.strip() or has_locality_condition(rule, place_vars, localised):
            continue
        errors.append(
            PackError(
                "资金类规则缺少属地条件：请在 when 中用 local(registered_place) 或 "
                'within(registered_place, "某市") 写明受益主体须在本地，'
                "或以 locality: 引用原文说明本条不限属地的理由",
                file=rule.where.file,
                rule=rule.id,
                field="when",
                line=rule.where.line,
            )
        )
    return errors
