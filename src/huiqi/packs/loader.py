"""Load a jurisdiction pack (variables, parameters, rules) and compile it for evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path
from typing import Any

from ..errors import ExprError, PackError, PackErrors
from ..jurisdictions import FILENAME, Jurisdiction, Registry, bundled_registry, load_registry
from ..lang.expr import PARSED, Node, Scope, names_read, resolve
from ..lang.scalar import (
    Atom,
    Ctx,
    Fn,
    Program,
    compile_condition,
    compile_expr,
    compile_quick,
)
from ..lang.typecheck import infer
from ..library.catalogue import documents_in
from ..resources import bundled_corpus, policies_dir
from .cache import Memo, open_memo
from .documents import FILENAME as DOCUMENTS_FILE
from .documents import apply_entries, load_documents_file
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
    key_node: Node | None = None  # resolved stacking key (for the SQL back end)
    exclusion_nodes: list[Node] = field(default_factory=list)  # resolved, as `exclusions`
    # the condition untraced, short-circuiting (fn(ctx, ())): its value and missing inputs
    quick: Fn | None = None
    # whether a failure needs every atom's value at once: a numeric threshold to report a gap
    # on, or a time limit (逾期) to tell apart; otherwise they are traced only when asked for
    trace_failure: bool = True


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
    # The jurisdictions composed, national first; the last is the pack itself. A pack folder
    # without jurisdiction.yaml is a single layer with no jurisdiction.
    layers: list[Jurisdiction] = field(default_factory=list)
    rule_pack: dict[str, str] = field(default_factory=dict)  # rule id -> pack that defines it
    corpus_files: tuple = ()  # every layer's corpus/ texts: the pack's library
    _documents: tuple | None = field(default=None, repr=False)
    document_entries: list = field(default_factory=list)  # documents.yaml of every layer
    registry: Registry | None = None  # the jurisdiction tree the layers come from
    # Per-pack memo of values a match would otherwise rebuild per request (shared reasons,
    # question entries; engine/match.py owns the keys; batch/compile.py keeps its last
    # compiled batches under "compiled_batches"). Never copied by `replace`.
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def documents(self) -> tuple:
        """The library documents of the pack's corpus, parsed on first use (a match needs only
        what the cache already took from them)."""
        if self._documents is None:
            docs, problems = apply_entries(documents_in(self.corpus_files), self.document_entries)
            self._documents = docs
            self.library_problems.extend(problems)
        return self._documents

    @property
    def pack_names(self) -> list[str]:
        return [j.pack for j in self.layers] or [self.name]

    def own(self, rule_id: str) -> bool:
        """Whether a rule is defined by this pack itself, not by a pack it extends."""
        return self.rule_pack.get(rule_id, self.name) == self.name

    @property
    def provisions(self) -> list[Provision]:
        return [p for f in self.files for p in f.provisions]

    def new_ctx(self, facts: dict[str, Any], as_of) -> Ctx:
        return Ctx(self.program, facts, as_of)


def pack_dirs() -> list[Path]:
    """The bundled packs, parents before children."""
    registry = bundled_registry()
    return [policies_dir() / name for name in registry.packs]


class UnknownPack(KeyError):
    """A pack name that is not a folder with jurisdiction.yaml under policies/."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name, self.known = name, known

    def __str__(self) -> str:
        return f"没有名为 {self.name} 的规则包（可用：{'、'.join(self.known)}）"


def pack_root(name: str, policies: Path | None = None) -> Path:
    """The folder of a bundled pack by name; names are folder names, never paths."""
    policies = policies or policies_dir()
    registry = bundled_registry() if policies == policies_dir() else load_registry(policies)
    if name not in registry:
        raise UnknownPack(name, registry.packs)
    return policies / name


def bundled_pack(name: str | None = None) -> Pack:
    """A bundled pack with every pack it extends; None: every bundled pack together."""
    # One cache entry per pack: `bundled_pack()` and `bundled_pack(None)` are different keys
    # to functools.cache, and each would load (and keep) the whole set of packs again.
    return _bundled_pack(name)


@cache
def _bundled_pack(name: str | None) -> Pack:
    if name is None:
        return load_layers([policies_dir() / n for n in bundled_registry().packs], pack_name="*")
    return load_pack(pack_root(name))


def _label(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root.parent.parent))
    except ValueError:
        return str(path)


def _pack_files(root: Path, name: str) -> list[Path]:
    single = root / f"{name}.yaml"
    return ([single] if single.is_file() else []) + sorted((root / name).glob("*.yaml"))


def _load_file(root: Path, path: Path, loader, errors: list[PackError], memo: Memo):
    """One variables or parameters file; its problems go to `errors` (None when unusable)."""
    label = _label(root, path)
    try:
        return memo.read(loader.__name__, label, lambda: loader(load_yaml(path, label), label))
    except PackError as exc:
        errors.append(exc)
    except PackErrors as exc:
        errors.extend(exc.errors)
    return None


def _read_rules(path: Path, label: str) -> tuple[RuleFile | None, list[PackError]]:
    rfile, problems = load_rule_file(load_yaml(path, label), label)
    if problems:  # not cached: a file with problems is read again, and reported again
        raise _Uncached(rfile, problems)
    return rfile, problems


class _Uncached(Exception):
    def __init__(self, rfile: RuleFile | None, problems: list[PackError]) -> None:
        self.result = (rfile, problems)


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
    """Load a pack folder with every pack it extends (its siblings under the same parent
    folder); raise PackErrors listing every problem found."""
    root = Path(root)
    if (root / FILENAME).is_file():
        registry = load_registry(root.parent)
        layers = [j.root for j in registry.chain(root.name)]
    else:
        layers = [root]
    return load_layers(layers, pack_name=root.name, library=library)


def load_layers(roots: list[Path], pack_name: str, library: bool = True) -> Pack:
    """Compose pack folders, parents first, into one pack."""
    errors: list[PackError] = []
    registry = load_registry(roots[0].parent) if (roots[-1] / FILENAME).is_file() else None
    juris = [registry.by_pack[r.name] for r in roots] if registry else []
    places = tuple(registry.places()) if registry else ()
    memo = open_memo(source_files(roots))
    PARSED.update(memo.exprs)
    layer_of: dict[str, str] = {}  # variable or rules file label -> pack name
    entities: dict[str, str] = {}
    variables: dict[str, Variable] = {}
    parameters: dict[str, Parameter] = {}
    # variables.yaml, then variables/*.yaml (one file per theme or document), merged over
    # every layer; the same for parameters. A name defined twice is an error naming both files.
    for root in roots:
        for vfile in _pack_files(root, "variables"):
            loaded = _load_file(
                root, vfile, lambda d, lbl: load_variables(d, lbl, places), errors, memo
            )
            if loaded is not None:
                entities = {**entities, **loaded[0]}
                _merge(variables, loaded[1], "变量", errors)
                for vname in loaded[1]:
                    layer_of.setdefault(f"var:{vname}", root.name)
        for pf in _pack_files(root, "parameters"):
            loaded_p = _load_file(root, pf, load_parameters, errors, memo)
            if loaded_p is not None:
                _merge(parameters, loaded_p, "参数", errors)

    for vname in set(variables) & set(parameters):
        errors.append(PackError(f"{vname} 既是变量又是参数", file=parameters[vname].file))

    base_scope = Scope(
        variables={n: v.type for n, v in variables.items()},
        parameters={n: p.type for n, p in parameters.items()},
        event_fields={
            n: {f: s.type for f, s in v.fields.items()}
            for n, v in variables.items()
            if v.type == "events"
        },
        places_within=registry.places_within if registry else None,
    )
    scopes = {
        j.pack: replace(base_scope, local_places=tuple(registry.places_within(j.name)))
        for j in juris
    }
    scope = base_scope
    param_types = {
        n: expr_type(p.type) if p.type != "events" else "num" for n, p in parameters.items()
    }

    def resolved(expr: Expr, rule: str | None, want: str | None) -> Node | None:
        # The same files give the same scopes, so a resolved, type-checked tree is cached
        # with them (keyed by the pack layer whose `local()` it may expand).
        key = (scope.local_places[:1], expr.text, want)
        hit = memo.resolved.get(key)
        if hit is not None:
            return hit
        try:
            node = resolve(expr.node, scope)
            got = infer(node, variables, param_types)
            if want and got != want:
                raise ExprError(
                    f"应为{'是/否条件' if want == 'bool' else '数值'}",
                    node.pos.line,
                    node.pos.column,
                )
            memo.resolved[key] = node
            memo.dirty = True
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
            node = resolve(parse(var.formula), scopes.get(layer_of[f"var:{name}"], scope))
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
    rule_pack: dict[str, str] = {}
    rule_files = [(root, p) for root in roots for p in sorted((root / "rules").glob("*.yaml"))]
    for root, path in rule_files:
        label = _label(root, path)
        scope = scopes.get(root.name, base_scope)
        try:
            rfile, problems = memo.read("rules", label, partial(_read_rules, path, label))
        except _Uncached as exc:
            rfile, problems = exc.result
        except PackError as exc:
            errors.append(exc)
            continue
        errors.extend(problems)
        if rfile is None:
            continue
        files.append(rfile)
        excl = []
        excl_nodes: list[Node] = []
        for ex in rfile.exclusions:
            node = resolved(ex.when, ex.id, "bool")
            if node is not None:
                excl.append((ex, compile_expr(node, derived_set)))
                excl_nodes.append(node)
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
            rule_pack[rule.id] = root.name
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
            key_node = None
            if rule.stacking and rule.stacking.key:
                node = resolved(rule.stacking.key, rule.id, None)
                ok = ok and node is not None
                if node is not None:
                    key = compile_expr(node, derived_set)
                    key_node = node
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
                    key_node=key_node,
                    exclusion_nodes=list(excl_nodes),
                    quick=compile_quick(parts, derived_set),
                    trace_failure=any(a.gap_sides for a in atoms)
                    or bool(rule.apply.late_refused and any(p.deadline for p in rule.when)),
                )
            )
    entries = []
    for root in roots:
        found, problems = load_documents_file(root, _label(root, root / DOCUMENTS_FILE))
        entries += found
        errors += problems
    if errors:
        raise PackErrors(errors)
    pack = Pack(
        name=pack_name,
        root=roots[-1],
        entities=entities,
        variables=variables,
        parameters=parameters,
        files=files,
        rules=rules,
        compiled=compiled,
        program=program,
        by_id={c.rule.id: c for c in compiled},
        layers=juris,
        registry=registry,
        rule_pack=rule_pack,
    )
    pack.document_entries = entries
    # A folder without jurisdiction.yaml (an ad-hoc pack) reads the bundled library.
    pack.corpus_files = tuple(_corpus_files(roots) if juris else bundled_corpus())
    if library:
        if memo.library is None:
            memo.library = _library_facts(pack)
            memo.dirty = True
        _attach_library(pack, memo.library)
    if len(memo.exprs) != len(PARSED):
        memo.exprs, memo.dirty = dict(PARSED), True
    memo.save()
    return pack


def source_files(roots: list[Path]) -> list[Path]:
    """Every file a pack set is built from, in a stable order (the cache key)."""
    out: list[Path] = []
    for root in roots:
        out += [root / FILENAME] if (root / FILENAME).is_file() else []
        out += _pack_files(root, "variables") + _pack_files(root, "parameters")
        out += sorted((root / "rules").glob("*.yaml")) + _corpus_files([root])
        out += [root / DOCUMENTS_FILE] if (root / DOCUMENTS_FILE).is_file() else []
    return out


def _corpus_files(roots: list[Path]) -> list[Path]:
    return [p for root in roots for p in sorted((root / "corpus").glob("*.txt"))]


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


def _library_facts(pack: Pack) -> dict[str, Any]:
    """What each rule takes from the library (document, citations, validity), by rule id; a
    missing document is recorded as its problem. Cached with the pack's files."""
    from ..library.catalogue import find_clause, find_document

    out: dict[str, Any] = {}
    docs: dict[str, Any] = {}
    for c in pack.compiled:
        rule = c.rule
        if rule.doc not in docs:
            docs[rule.doc] = find_document(rule.doc, pack.documents)
        doc = docs[rule.doc]
        if doc is None:
            out[rule.id] = None
            continue
        clause = find_clause(doc, rule.clause)
        repealed = next((r for r in doc.relations if r.kind == "repealed_by"), None)
        parts = []
        for part in rule.when:
            pdoc = doc
            if part.document:
                if part.document not in docs:
                    docs[part.document] = find_document(part.document, pack.documents)
                pdoc = docs[part.document] or doc
            pc = find_clause(pdoc, part.clause)
            parts.append(pc.citation if pc else f"{pdoc.citation_prefix}{part.clause}")
        out[rule.id] = {
            "doc_id": doc.id,
            "doc_title": doc.title,
            "citation": clause.citation if clause else f"{doc.citation_prefix}{rule.clause}",
            "valid_from": rule.valid_from or doc.effective_from or doc.issued_on,
            "valid_to": rule.valid_to or doc.effective_to,
            "repealed_by": (repealed.target_title or repealed.target_number or "（废止文件）")
            if repealed
            else None,
            "parts": parts,
        }
    return out


def _reads_last_year(c: CompiledRule, variables: dict[str, Any]) -> bool:
    """Does the rule judge last year's facts (上年度), directly or through derived variables?"""
    from ..lang.expr import Builtin, Var, walk

    todo = [node for node, _ in c.parts] + list(c.amount_nodes.values())
    seen: set[str] = set()
    while todo:
        for n in walk(todo.pop()):
            if isinstance(n, Builtin) and n.name == "last_year":
                return True
            if isinstance(n, Var) and n.name not in seen:
                seen.add(n.name)
                var = variables.get(n.name)
                if var is not None and var.node is not None:
                    todo.append(var.node)
    return False


def _attach_library(pack: Pack, facts: dict[str, Any]) -> None:
    """Fill each rule's document id, citation and validity from the policy library."""
    out: list[Rule] = []
    for c in pack.compiled:
        rule = c.rule
        got = facts.get(rule.id)
        if got is None:
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
        fields = {k: v for k, v in got.items() if k != "parts"}
        fields["period"] = "last_year" if _reads_last_year(c, pack.variables) else "as_of"
        rule = replace(rule, **fields)
        c.rule = rule
        c.part_citations = list(got["parts"])
        out.append(rule)
    pack.rules = out
