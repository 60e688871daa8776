"""Load a jurisdiction pack (variables, parameters, rules) and compile it for evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import ExprError, PackError, PackErrors
from ..lang.expr import Node, Scope, names_read, resolve
from ..lang.scalar import Atom, Ctx, Fn, Program, compile_condition, compile_expr
from ..lang.typecheck import infer
from ..resources import policies_dir
from .parameters import Parameter, load_parameters
from .rules import Exclusion, Expr, Provision, Rule, RuleFile, load_rule_file
from .variables import Variable, expr_type, load_variables
from .yamlio import load_yaml


@dataclass
class CompiledRule:
    rule: Rule
    index: int
    condition: Any  # Callable[[Ctx], value]
    atoms: list[Atom]
    parts: list[tuple[Node, str]]  # resolved tree and source text of each part
    amount: dict[str, Fn]
    amount_nodes: dict[str, Node]
    key: Fn | None
    exclusions: list[tuple[Exclusion, Fn]]
    part_citations: list[str] = field(default_factory=list)


@dataclass
class Pack:
    name: str
    root: Path
    entities: dict[str, str]
    variables: dict[str, Variable]
    parameters: dict[str, Parameter]
    files: list[RuleFile]
    rules: list[Rule]
    compiled: list[CompiledRule]
    program: Program
    by_id: dict[str, CompiledRule] = field(default_factory=dict)
    library_problems: list[PackError] = field(default_factory=list)

    @property
    def provisions(self) -> list[Provision]:
        return [p for f in self.files for p in f.provisions]

    def new_ctx(self, facts: dict[str, Any], as_of) -> Ctx:
        return Ctx(self.program, facts, as_of)


def pack_dirs() -> list[Path]:
    return sorted(p for p in policies_dir().iterdir() if (p / "variables.yaml").is_file())


@cache
def bundled_pack(name: str = "jiaozuo") -> Pack:
    return load_pack(policies_dir() / name)


def _label(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root.parent.parent))
    except ValueError:
        return str(path)


def _pack_files(root: Path, name: str) -> list[Path]:
    single = root / f"{name}.yaml"
    return ([single] if single.is_file() else []) + sorted((root / name).glob("*.yaml"))


def _load_file(root: Path, path: Path, loader, errors: list[PackError]):
    """One variables or parameters file; its problems go to `errors` (None when unusable)."""
    label = _label(root, path)
    try:
        return loader(load_yaml(path, label), label)
    except PackError as exc:
        errors.append(exc)
    except PackErrors as exc:
        errors.extend(exc.errors)
    return None


def _merge(into: dict, more: dict, what: str, errors: list[PackError]) -> None:
    for name, item in more.items():
        if name in into:
            errors.append(
                PackError(
                    f"{what} {name} 重复定义（另见 {into[name].file}）", file=item.file, field=name
                )
            )
            continue
        into[name] = item


def load_pack(root: Path | str, library: bool = True) -> Pack:
    """Load and compile a pack directory; raise PackErrors listing every problem found."""
    root = Path(root)
    errors: list[PackError] = []
    pfile = root / "parameters.yaml"
    entities: dict[str, str] = {}
    variables: dict[str, Variable] = {}
    parameters: dict[str, Parameter] = {}
    # variables.yaml, then variables/*.yaml (one file per theme or document), merged;
    # the same for parameters. A name defined twice is an error naming both files.
    for vfile in _pack_files(root, "variables"):
        loaded = _load_file(root, vfile, load_variables, errors)
        if loaded is not None:
            entities = entities or loaded[0]
            _merge(variables, loaded[1], "变量", errors)
    for pf in _pack_files(root, "parameters"):
        loaded_p = _load_file(root, pf, load_parameters, errors)
        if loaded_p is not None:
            _merge(parameters, loaded_p, "参数", errors)

    for name in set(variables) & set(parameters):
        errors.append(PackError(f"{name} 既是变量又是参数", file=_label(root, pfile)))

    scope = Scope(
        variables={n: v.type for n, v in variables.items()},
        parameters={n: p.type for n, p in parameters.items()},
        event_fields={
            n: {f: s.type for f, s in v.fields.items()}
            for n, v in variables.items()
            if v.type == "events"
        },
    )
    param_types = {
        n: expr_type(p.type) if p.type != "events" else "num" for n, p in parameters.items()
    }

    def resolved(expr: Expr, rule: str | None, want: str | None) -> Node | None:
        try:
            node = resolve(expr.node, scope)
            got = infer(node, variables, param_types)
            if want and got != want:
                raise ExprError(
                    f"应为{'是/否条件' if want == 'bool' else '数值'}",
                    node.pos.line,
                    node.pos.column,
                )
            return node
        except ExprError as exc:
            errors.append(expr.error(exc, rule))
            return None

    # Derived variables: resolve formulas, reject cycles.
    derived_nodes: dict[str, Node] = {}
    for name, var in variables.items():
        if var.formula is None:
            continue
        from ..lang.expr import parse

        try:
            node = resolve(parse(var.formula), scope)
            got = infer(node, variables, param_types)
            if var.type != "events" and got != expr_type(var.type):
                raise ExprError(f"公式的类型与声明的 {var.type} 不符")
            derived_nodes[name] = node
            variables[name] = replace(var, node=node)
        except ExprError as exc:
            errors.append(
                PackError(str(exc), file=var.file, field=f"variables.{name}.formula", line=var.line)
            )
    _check_cycles(derived_nodes, errors)
    derived_set = frozenset(derived_nodes)
    program = Program(
        derived={n: compile_expr(node, derived_set) for n, node in derived_nodes.items()},
        parameters=parameters,
        derived_names=derived_set,
        labels={n: v.label for n, v in variables.items()},
        derived_inputs={n: tuple(names_read(node)) for n, node in derived_nodes.items()},
        types={n: v.type for n, v in variables.items()},
    )

    files: list[RuleFile] = []
    rules: list[Rule] = []
    compiled: list[CompiledRule] = []
    seen: dict[str, str] = {}
    for path in sorted((root / "rules").glob("*.yaml")):
        label = _label(root, path)
        try:
            data = load_yaml(path, label)
        except PackError as exc:
            errors.append(exc)
            continue
        rfile, problems = load_rule_file(data, label)
        errors.extend(problems)
        if rfile is None:
            continue
        files.append(rfile)
        excl = []
        for ex in rfile.exclusions:
            node = resolved(ex.when, ex.id, "bool")
            if node is not None:
                excl.append((ex, compile_expr(node, derived_set)))
        for rule in rfile.rules:
            if rule.id in seen:
                errors.append(
                    PackError(
                        f"规则编号重复（另见 {seen[rule.id]}）",
                        file=label,
                        rule=rule.id,
                        field="id",
                        line=rule.where.line,
                    )
                )
                continue
            seen[rule.id] = f"{label}:{rule.where.line}"
            parts: list[tuple[Node, str]] = []
            ok = True
            for part in rule.when:
                node = resolved(part.expr, rule.id, "bool")
                ok = ok and node is not None
                if node is not None:
                    parts.append((node, part.expr.text))
            amount_nodes: dict[str, Node] = {}
            for name in (
                "fixed",
                "formula",
                "per_item",
                "count",
                "rate",
                "base",
                "cap",
                "min",
                "max",
            ):
                e = getattr(rule.amount, name)
                if e is not None:
                    node = resolved(e, rule.id, "num")
                    ok = ok and node is not None
                    if node is not None:
                        amount_nodes[name] = node
            key = None
            if rule.stacking and rule.stacking.key:
                node = resolved(rule.stacking.key, rule.id, None)
                ok = ok and node is not None
                if node is not None:
                    key = compile_expr(node, derived_set)
            if not ok:
                continue
            cond, atoms = compile_condition(parts, derived_set)
            rules.append(rule)
            compiled.append(
                CompiledRule(
                    rule=rule,
                    index=len(compiled),
                    condition=cond,
                    atoms=atoms,
                    parts=parts,
                    amount={k: compile_expr(v, derived_set) for k, v in amount_nodes.items()},
                    amount_nodes=amount_nodes,
                    key=key,
                    exclusions=excl,
                )
            )
    if errors:
        raise PackErrors(errors)
    pack = Pack(
        name=root.name,
        root=root,
        entities=entities,
        variables=variables,
        parameters=parameters,
        files=files,
        rules=rules,
        compiled=compiled,
        program=program,
        by_id={c.rule.id: c for c in compiled},
    )
    if library:
        _attach_library(pack)
    return pack


def _check_cycles(nodes: dict[str, Node], errors: list[PackError]) -> None:
    from ..lang.expr import names_read

    deps = {n: [d for d in names_read(node) if d in nodes] for n, node in nodes.items()}
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            errors.append(
                PackError(f"派生变量循环引用：{' → '.join([*path, n])}", field=f"variables.{n}")
            )
            return
        state[n] = 1
        for d in deps[n]:
            visit(d, [*path, n])
        state[n] = 2

    for n in deps:
        visit(n, [])


def _attach_library(pack: Pack) -> None:
    """Fill each rule's document id, citation and validity from the policy library."""
    from ..library.catalogue import find_clause, find_document

    out: list[Rule] = []
    for c in pack.compiled:
        rule = c.rule
        doc = find_document(rule.doc)
        if doc is None:
            pack.library_problems.append(
                PackError(
                    f"政策库中找不到文件 {rule.doc}",
                    file=rule.where.file,
                    rule=rule.id,
                    field="document",
                    line=rule.where.line,
                )
            )
            out.append(rule)
            continue
        clause = find_clause(doc, rule.clause)
        repealed = next((r for r in doc.relations if r.kind == "repealed_by"), None)
        rule = replace(
            rule,
            doc_id=doc.id,
            doc_title=doc.title,
            citation=clause.citation if clause else f"{doc.citation_prefix}{rule.clause}",
            valid_from=rule.valid_from or doc.effective_from or doc.issued_on,
            valid_to=rule.valid_to or doc.effective_to,
            repealed_by=(repealed.target_title or repealed.target_number or "（废止文件）")
            if repealed
            else None,
        )
        c.rule = rule
        c.part_citations = []
        for part in rule.when:
            pc = find_clause(doc, part.clause)
            c.part_citations.append(pc.citation if pc else f"{doc.citation_prefix}{part.clause}")
        out.append(rule)
    pack.rules = out
