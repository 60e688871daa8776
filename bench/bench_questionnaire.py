"""Questionnaire benchmark: simulated users answer the self-check from complete profiles.

For each profile (every example in examples/, and every profile in bench/profiles/), a user
who knows exactly the facts of the profile answers each question (不知道 for a fact the
profile lacks) until the engine has nothing left to ask. Printed per profile, for the
guided questionnaire ("after") and for the previous ranking — the variable read by the most
undecided rules, no screening ("before"):

- questions until the money result equals the complete profile's (same eligible benefits
  with money, same certain total and review range);
- questions the user could not answer (不知道), facts asked twice, questions irrelevant to
  the applicant type (a variable of another kind of applicant).

Targets: median ≤ 20 questions to the full money result, none over 40, nothing asked twice,
nothing irrelevant.

    uv run python bench/bench_questionnaire.py
"""

from __future__ import annotations

import statistics
import sys
from datetime import date
from pathlib import Path

from huiqi.engine.match import ELIGIBLE, evaluate_profile
from huiqi.engine.profile import read_profile_file, validate_profile
from huiqi.engine.questionnaire import APPLICANT, FAMILIES, Questionnaire, State
from huiqi.packs.loader import bundled_pack

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 150


def money_key(report) -> tuple:
    paid = sorted(
        (r.rule.id, r.amount, r.amount_min, r.amount_max)
        for r in report.results
        if r.status == ELIGIBLE and (r.amount or r.amount_max)
    )
    return (tuple(paid), report.total, report.total_max)


def _complete(path: Path) -> tuple[dict, date]:
    data = read_profile_file(path)
    as_of = data.get("as_of")
    as_of = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
    return dict(data), as_of


def applicant_of(pack, data: dict, as_of: date) -> str:
    """Who is asking: the profile says so, or it is the beneficiary most of its money goes to."""
    said = data.get("applicant")
    if said:
        return next(k for k, v in pack.entities.items() if said in (k, v))
    prof = validate_profile(data, pack.variables, set(pack.by_id), pack.entities)
    votes: dict[str, int] = {}
    for r in evaluate_profile(pack, prof, as_of).results:
        if r.status == ELIGIBLE and (r.amount or r.amount_max):
            for b in r.rule.beneficiary:
                votes[b] = votes.get(b, 0) + 1
    return max(votes, key=votes.get) if votes else "enterprise"


def run_guided(pack, data: dict, as_of: date) -> dict:
    kind = applicant_of(pack, data, as_of)
    data = {**data, "applicant": kind}
    full = evaluate_profile(
        pack, validate_profile(data, pack.variables, set(pack.by_id), pack.entities), as_of
    )
    target = money_key(full)
    qn = Questionnaire(pack, as_of)
    state = State()
    asked: list[str] = []
    reached = None
    unknown = irrelevant = 0
    for n in range(1, LIMIT + 1):
        report = qn.report(state)
        if reached is None and money_key(report) == target:
            reached = n - 1
        q = qn.next_question(state, report)
        if q is None:
            break
        asked.append(q.name)
        if q.name == APPLICANT:
            state = qn.answer(state, APPLICANT, kind)
        elif q.name == FAMILIES:
            have = [f for f, _ in q.choices if data.get(f)]
            state = qn.answer(state, FAMILIES, have)
        elif q.name in data:
            var = pack.variables[q.name]
            if var.entity != kind and kind != "enterprise":
                irrelevant += 1
            state = qn.answer(state, q.name, data[q.name])
        else:
            unknown += 1
            state = qn.dont_know(state, q.name)
    if reached is None and money_key(qn.report(state)) == target:
        reached = len(asked)
    return {
        "to_money": reached,
        "asked": len(asked),
        "unknown": unknown,
        "twice": len(asked) - len(set(asked)),
        "irrelevant": irrelevant,
    }


def run_before(pack, data: dict, as_of: date) -> dict:
    """The previous ranking: the unanswered variable read by the most undecided rules."""
    data = {**data, "applicant": applicant_of(pack, data, as_of)}
    full = evaluate_profile(
        pack, validate_profile(data, pack.variables, set(pack.by_id), pack.entities), as_of
    )
    target = money_key(full)
    known: dict = {k: data[k] for k in ("applicant", "as_of") if k in data}
    skipped: set[str] = set()
    asked: list[str] = []
    reached = None
    for n in range(1, LIMIT + 1):
        prof = validate_profile(known, pack.variables, set(pack.by_id), pack.entities)
        report = evaluate_profile(pack, prof, as_of)
        if reached is None and money_key(report) == target:
            reached = n - 1
        qs = [q for q in report.next_questions() if q["variable"] not in skipped]
        if not qs:
            break
        name = qs[0]["variable"]
        asked.append(name)
        if name in data:
            known[name] = data[name]
        else:
            skipped.add(name)
    return {"to_money": reached, "asked": len(asked)}


def main() -> None:
    pack = bundled_pack()
    paths = sorted((ROOT / "examples").glob("*.yaml")) + sorted(
        (ROOT / "bench" / "profiles").glob("*.yaml")
    )
    rows = []
    print(
        f"{'profile':34} {'before':>8} {'after':>6} {'asked':>6} {'不知道':>6} {'twice':>6} {'irrel.':>6}"
    )
    for path in paths:
        data, as_of = _complete(path)
        before, after = run_before(pack, data, as_of), run_guided(pack, data, as_of)
        rows.append((path.stem, before, after))
        fmt = lambda v: "—" if v is None else str(v)  # noqa: E731
        print(
            f"{path.stem:34} {fmt(before['to_money']):>8} {fmt(after['to_money']):>6} "
            f"{after['asked']:>6} {after['unknown']:>6} {after['twice']:>6} {after['irrelevant']:>6}"
        )
    done = [a["to_money"] for _, _, a in rows if a["to_money"] is not None]
    old = [b["to_money"] for _, b, _ in rows if b["to_money"] is not None]
    print(
        f"median questions to the full money result: before {statistics.median(old) if old else '—'}, "
        f"after {statistics.median(done) if done else '—'}; max after {max(done) if done else '—'}; "
        f"not reached after: {sum(1 for _, _, a in rows if a['to_money'] is None)}"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
