"""政策体检: a guided self-check that finds the money in few questions.

Stateless: the state is the answers so far plus the questions answered "不知道" (never asked
again; the rules they block stay undetermined and say so), so any process can serve the next
step. The order of questions:

1. screening: who is asking (applicant type), then where it is registered (this picks the
   jurisdictions), then one multi-select of the families of records that apply — the event
   lists (certifications, awards, investments, patents …) relevant to the applicant. A family
   not ticked is an empty list, which decides every rule that needs such a record at once;
2. then, among the rules still undetermined, only the inputs of each rule's *first* undecided
   condition are candidates (gates before follow-ups: authors write the gate first);
3. the next question is the candidate with the most money at stake among the rules it can
   still decide (fixed amounts, caps, half of a review range, a nominal sum for computed and
   unstated amounts), ties broken by how many rules it concerns.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ..jurisdictions import PLACE_VARIABLE
from ..lang.expr import Num
from ..lang.scalar import UNKNOWN
from ..packs.loader import CompiledRule, Pack
from .match import UNDETERMINED, MatchReport, evaluate_profile
from .profile import Profile, ProfileError, validate_profile

APPLICANT = "applicant"
FAMILIES = "families"
#: Nominal stakes (元) for amounts that are not a fixed figure, so that they still rank.
COMPUTED_STAKE = Decimal(50_000)
UNSTATED_STAKE = Decimal(10_000)
TAX_STAKE = Decimal(20_000)
NON_MONETARY_STAKE = Decimal(1_000)


@dataclass
class State:
    """What the applicant said so far: a raw profile plus the facts it could not give."""

    answers: dict[str, Any] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # asked names in order, for "back"

    def to_dict(self) -> dict[str, Any]:
        return {"answers": self.answers, "unknown": self.unknown, "history": self.history}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        return cls(
            dict(data.get("answers") or {}),
            list(data.get("unknown") or []),
            list(data.get("history") or []),
        )


@dataclass
class Question:
    name: str  # a variable, or APPLICANT / FAMILIES
    kind: str  # applicant | families | bool | enum | integer | money | ratio | date | year | events
    label: str
    question: str
    help: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    fields: list[dict[str, Any]] = field(default_factory=list)  # events: one small form
    rules: list[str] = field(default_factory=list)  # rules this answer can decide
    stake: Decimal = Decimal(0)
    unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["stake"] = int(self.stake)
        out["decides"] = len(self.rules)
        return out


def rule_stake(cr: CompiledRule) -> Decimal:
    """What a rule is worth for ranking questions (not a promise of money)."""
    a, nodes = cr.rule.amount, cr.amount_nodes

    def const(name: str) -> Decimal | None:
        node = nodes.get(name)
        return node.value if isinstance(node, Num) else None

    if a.type == "fixed":
        return const("fixed") or COMPUTED_STAKE
    if a.type == "percent":
        return const("cap") or COMPUTED_STAKE
    if a.type == "per_item":
        per = const("per_item")
        return per * 5 if per is not None else COMPUTED_STAKE  # a few items, typically
    if a.type == "range":
        high = const("max") or COMPUTED_STAKE
        return high / 2  # review decides: half of the ceiling
    if a.type == "formula":
        # tax saved is asked after cash of the same size: it is kept, not paid
        return COMPUTED_STAKE if cr.rule.benefit == "cash" else TAX_STAKE
    if a.type == "unstated":
        return UNSTATED_STAKE
    return NON_MONETARY_STAKE


class Questionnaire:
    def __init__(self, pack: Pack, as_of: date) -> None:
        self.pack, self.as_of = pack, as_of
        self.stakes = {cr.rule.id: rule_stake(cr) for cr in pack.compiled}
        self.inputs = {n: v for n, v in pack.variables.items() if not v.derived}
        self.families = [n for n, v in self.inputs.items() if v.type == "events"]
        self._base: dict[str, tuple[str, ...]] = {}

    # --- state changes (pure: each returns a new state) -------------------------------------

    def answer(self, state: State, name: str, value: Any) -> State:
        """Record an answer; raise ProfileError naming the field if it is not acceptable."""
        answers = dict(state.answers)
        if name == FAMILIES:
            chosen = set(value or [])
            unknown = [f for f in chosen if f not in self.families]
            if unknown:
                from .profile import Problem

                raise ProfileError([Problem(FAMILIES, f"未知的类别：{'、'.join(unknown)}")])
            report = self.report(state)
            asked = set(state.answers) | set(state.unknown)
            offered = self._relevant_families(
                [r for r in report.results if r.status == UNDETERMINED], asked
            )
            for fam in offered:
                if fam not in chosen:
                    answers[fam] = []  # offered and not ticked: none of these records
            answers["_families_asked"] = True
        else:
            answers[name] = value
            self.profile(State(answers))  # validates; raises ProfileError
        return State(answers, list(state.unknown), [*state.history, name])

    def dont_know(self, state: State, name: str) -> State:
        return State(dict(state.answers), [*state.unknown, name], [*state.history, name])

    def back(self, state: State) -> State:
        """Undo the last answer (or 不知道)."""
        if not state.history:
            return state
        name = state.history[-1]
        answers = dict(state.answers)
        unknown = list(state.unknown)
        if name in unknown:
            unknown.remove(name)
        elif name == FAMILIES:
            answers.pop("_families_asked", None)
            for fam in self.families:
                if answers.get(fam) == []:
                    answers.pop(fam)
        else:
            answers.pop(name, None)
        return State(answers, unknown, state.history[:-1])

    # --- reading the state -------------------------------------------------------------------

    def profile(self, state: State) -> Profile:
        data = {k: v for k, v in state.answers.items() if not k.startswith("_")}
        return validate_profile(data, self.pack.variables, set(self.pack.by_id), self.pack.entities)

    def report(self, state: State) -> MatchReport:
        # each step repeats the answers so far: rules reading none of the new one are kept
        return evaluate_profile(self.pack, self.profile(state), self.as_of, remember=True)

    def next_question(self, state: State, report: MatchReport | None = None) -> Question | None:
        asked = set(state.answers) | set(state.unknown)
        if APPLICANT not in asked:
            return Question(
                APPLICANT,
                "applicant",
                "申请人类型",
                "请问您是以什么身份来查询的？",
                choices=[(k, v) for k, v in self.pack.entities.items()],
            )
        report = report or self.report(state)
        open_rules = [r for r in report.results if r.status == UNDETERMINED]
        if not open_rules:
            return None
        if (
            PLACE_VARIABLE in self.inputs
            and PLACE_VARIABLE not in asked
            and any(PLACE_VARIABLE in self._candidates(r) for r in open_rules)
        ):
            return self._variable_question(PLACE_VARIABLE, open_rules)
        if "_families_asked" not in state.answers and FAMILIES not in state.unknown:
            fams = self._relevant_families(open_rules, asked)
            if fams:
                return Question(
                    FAMILIES,
                    "families",
                    "贵单位有哪些记录",
                    "以下哪些情况贵单位有（或正在申请）？请勾选所有适用的项，没有的不用勾选。",
                    help="勾选的类别稍后逐项填写；未勾选的视为没有，相关政策会直接判定。",
                    choices=[(f, self.inputs[f].label) for f in fams],
                )
        stake: dict[str, Decimal] = defaultdict(Decimal)
        rules: dict[str, list[str]] = defaultdict(list)
        for r in open_rules:
            for name in self._candidates(r):
                if name in asked:
                    continue
                stake[name] += self.stakes[r.rule.id]
                rules[name].append(r.rule.id)
        if not stake:
            return None
        order = {n: i for i, n in enumerate(self.pack.variables)}
        best = max(stake, key=lambda n: (stake[n], len(rules[n]), -order.get(n, 0)))
        return self._variable_question(best, open_rules, stake[best], rules[best])

    # --- internals ---------------------------------------------------------------------------

    def _inputs_of(self, name: str) -> tuple[str, ...]:
        """The input variables a (possibly derived) name stands on."""
        hit = self._base.get(name)
        if hit is not None:
            return hit
        program = self.pack.program
        if name not in program.derived_names:
            out: tuple[str, ...] = (name,)
        else:
            seen: dict[str, None] = {}
            for inner in program.derived_inputs.get(name, ()):
                for base in self._inputs_of(inner):
                    seen[base] = None
            out = tuple(seen)
        self._base[name] = out
        return out

    def _candidates(self, r) -> list[str]:
        """Missing inputs of the rule's first undecided condition (its gate)."""
        missing = [m.split(".", 1)[0] for m in r.missing if not m.startswith("param:")]
        cr = self.pack.by_id[r.rule.id]
        first = next(
            (a.part for a, v in zip(cr.atoms, r.values, strict=False) if v is UNKNOWN), None
        )
        if first is None:  # the amount's inputs, once the condition holds
            return list(dict.fromkeys(missing))
        reads = {
            base
            for a in cr.atoms
            if a.part == first
            for name in a.reads
            for base in self._inputs_of(name)
        }
        gate = [m for m in missing if m in reads]
        return list(dict.fromkeys(gate or missing))

    def _relevant_families(self, open_rules, asked: set[str]) -> list[str]:
        wanted: dict[str, None] = {}
        for r in open_rules:
            for m in r.missing:
                base = m.split(".", 1)[0]
                if base in self.families and base not in asked:
                    wanted[base] = None
        return list(wanted)

    def _variable_question(
        self,
        name: str,
        open_rules,
        stake: Decimal | None = None,
        rules: list[str] | None = None,
    ) -> Question:
        var = self.inputs[name]
        if rules is None:
            rules = [r.rule.id for r in open_rules if name in self._candidates(r)]
            stake = sum((self.stakes[i] for i in rules), Decimal(0))
        q = Question(
            name,
            var.type,
            var.label,
            var.question or var.label,
            help=var.help,
            rules=rules,
            stake=stake or Decimal(0),
        )
        if var.spec is not None:
            q.choices = [(v, v) for v in var.spec.values]
            q.unit = var.spec.unit
        for fname, spec in var.fields.items():
            q.fields.append(
                {
                    "name": fname,
                    "label": spec.label,
                    "type": spec.type,
                    "choices": list(spec.values),
                    "optional": spec.optional,
                    "unit": spec.unit,
                }
            )
        return q
