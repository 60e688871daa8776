"""Lint a pack's vocabulary: one input per fact, every input used, bundles named, no places.

Part of `huiqi check`. A user answering questions should be asked each fact once; these
checks keep a pack from drifting back into per-document dialects:

- two inputs whose labels, or whose questions, say the same thing;
- an input that no rule, exclusion, amount, stacking key or derived variable reads;
- a condition bundle (a part of `when:` joining two or more conditions) written inline in
  three or more rules: it should be a named test (`meets_…`, `is_…`) with its label;
- a variable named after a place (a pack's folder name): jurisdictions are pack data, and
  `local(registered_place)` says "registered here" for any pack.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..errors import PackError
from ..lang.expr import Aggregate, Name, Node, Var, walk
from ..packs.loader import Pack

BUNDLE_LIMIT = 3  # inline repetitions of one bundle before it must be named
_FILLER = re.compile(
    r"[\s，。、；：:？?！!（）()“”\"'《》]|本单位|贵单位|本企业|您|是否|请|填写|选择"
)


def _norm(text: str) -> str:
    return _FILLER.sub("", text)


def _names(node: Node | None) -> set[str]:
    """Every name an expression reads, resolved or not (exclusions keep the raw tree)."""
    if node is None:
        return set()
    out: set[str] = set()
    for n in walk(node):
        if isinstance(n, (Var, Name)):
            out.add(n.name)
        elif isinstance(n, Aggregate):
            out.add(n.source)
    return out


def _reads(pack: Pack) -> set[str]:
    used: set[str] = set()
    for cr in pack.compiled:
        for node, _ in cr.parts:
            used |= _names(node)
        for node in cr.amount_nodes.values():
            used |= _names(node)
        if cr.rule.stacking and cr.rule.stacking.key:
            used |= _names(cr.rule.stacking.key.node)
    for f in pack.files:
        for ex in f.exclusions:
            used |= _names(ex.when.node)
    for v in pack.variables.values():
        used |= _names(v.node)
    return used


def _bundle_text(text: str) -> str:
    return " ".join(text.split())


def _is_bundle(node: Node) -> bool:
    from ..lang.expr import BoolOp

    return isinstance(node, BoolOp) and len(node.items) >= 2


def tree_reads(pack: Pack) -> set[str]:
    """Every name read by any pack of the jurisdiction tree the pack comes from."""
    if pack.registry is None or not pack.layers:
        return set()
    from ..packs.cache import content_key
    from ..packs.loader import load_layers, source_files

    root = pack.layers[0].root.parent
    roots = [root / n for n in pack.registry.packs]
    # `huiqi check` asks once per pack; the tree is the same for all of them
    key = content_key(source_files(roots))
    if key not in _TREE_READS:
        from ..errors import PackError, PackErrors

        try:
            tree = load_layers(roots, "*", library=False)
        except (PackError, PackErrors):
            # A pack of the tree that does not load reports its own errors; without the
            # whole tree the lint cannot tell who reads an input, so it claims nothing.
            return set(pack.variables)
        _TREE_READS[key] = frozenset(_reads(tree))
    return set(_TREE_READS[key])


_TREE_READS: dict[str, frozenset[str]] = {}


def lint_vocabulary(
    pack: Pack, own: set[str] | None = None, readers: set[str] | None = None
) -> list[PackError]:
    """Vocabulary problems of a pack; `own`: the pack folders whose files are linted (the
    packs it extends are linted on their own)."""
    errors: list[PackError] = []

    def mine(file: str) -> bool:
        return own is None or any(f"/{p}/" in f"/{file}" for p in own)

    inputs = {n: v for n, v in pack.variables.items() if not v.derived}
    # 1. The same fact asked twice.
    for attr, what in (("label", "名称"), ("question", "提问")):
        seen: dict[tuple[str, str], str] = {}
        for name, v in inputs.items():
            text = _norm(getattr(v, attr))
            if not text:
                continue
            key = (v.entity, text)
            if key in seen:
                other = pack.variables[seen[key]]
                if mine(v.file):
                    errors.append(
                        PackError(
                            f"与 {seen[key]}（{other.file}:{other.line}）的{what}相同："
                            f"同一事实只应有一个输入变量",
                            file=v.file,
                            field=f"variables.{name}.{attr}",
                            line=v.line,
                        )
                    )
            else:
                seen[key] = name
    # 2. An input nobody reads — in this pack or any pack below it (a national fact is read by
    # the cities).
    used = _reads(pack) | (readers or set())
    for name, v in inputs.items():
        if name not in used and mine(v.file):
            errors.append(
                PackError(
                    "没有任何规则、除外情形、金额或派生变量读取这个输入变量",
                    file=v.file,
                    field=f"variables.{name}",
                    line=v.line,
                )
            )
    # 3. A condition bundle written inline three or more times.
    bundles: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for cr in pack.compiled:
        for (node, text), part in zip(cr.parts, cr.rule.when, strict=False):
            if _is_bundle(node):
                bundles[_bundle_text(text)].append(
                    (cr.rule.id, cr.rule.where.file, part.expr.where.line)
                )
    for text, uses in bundles.items():
        rules = {rid for rid, _, _ in uses}
        if len(rules) >= BUNDLE_LIMIT:
            rid, file, line = uses[0]
            if mine(file):
                errors.append(
                    PackError(
                        f"条件组合在 {len(rules)} 条规则中重复书写（{'、'.join(sorted(rules)[:4])}…）："
                        f"应定义为有名称的派生判断（meets_… / is_…）：{text}",
                        file=file,
                        rule=rid,
                        field="when",
                        line=line,
                    )
                )
    # 4. A variable named after a place.
    places = {j.pack for j in pack.layers}
    if pack.registry is not None:
        places |= set(pack.registry.by_pack)
    places.discard("")
    for name, v in pack.variables.items():
        hit = next((p for p in places if p.isascii() and p in name.split("_")), None)
        if hit is None:
            hit = next((p for p in places if p.isascii() and len(p) > 3 and p in name), None)
        if hit and mine(v.file):
            errors.append(
                PackError(
                    f"变量名含地名 {hit}：地名是规则包的数据，"
                    f"“在本地注册”请写 local(registered_place)",
                    file=v.file,
                    field=f"variables.{name}",
                    line=v.line,
                )
            )
    # 5. A pack reads only what it or the packs it extends define (a national rule that
    # read a city's fact would break as soon as the national pack is used alone).
    if pack.layers:
        order = [j.pack for j in pack.layers]
        layer = {n: _layer_of(v.file) for n, v in pack.variables.items()}
        for cr in pack.compiled:
            here = pack.rule_pack.get(cr.rule.id)
            if here not in order:
                continue
            allowed = set(order[: order.index(here) + 1])
            read = set().union(
                *(_names(n) for n, _ in cr.parts), *map(_names, cr.amount_nodes.values())
            )
            for name in sorted(read):
                if layer.get(name) and layer[name] not in allowed and mine(cr.rule.where.file):
                    errors.append(
                        PackError(
                            f"读取了下级规则包 {layer[name]} 的变量 {name}",
                            file=cr.rule.where.file,
                            rule=cr.rule.id,
                            field="when",
                            line=cr.rule.where.line,
                        )
                    )
        for name, v in pack.variables.items():
            here = layer[name]
            if here not in order or v.node is None:
                continue
            allowed = set(order[: order.index(here) + 1])
            for dep in sorted(_names(v.node)):
                if layer.get(dep) and layer[dep] not in allowed:
                    errors.append(
                        PackError(
                            f"读取了下级规则包 {layer[dep]} 的变量 {dep}",
                            file=v.file,
                            field=f"variables.{name}.formula",
                            line=v.line,
                        )
                    )
    return errors


def _layer_of(label: str) -> str:
    """policies/<pack>/variables/x.yaml → <pack>."""
    parts = label.split("/")
    return parts[1] if len(parts) > 2 else ""
