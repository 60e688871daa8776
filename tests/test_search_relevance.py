"""Relevance floors (issues 5 and 15): the keyword set and the question set of bench/.

The figures are computed by bench/relevance.py from hand-written answers (each expected clause
was read in the corpus); these floors only keep them from sliding back.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from relevance import evaluate, evaluate_questions, question_table  # noqa: E402


def test_keyword_queries_stay_found():
    assert evaluate().recall_at(3) >= 0.95


def test_questions_as_users_write_them():
    outcomes = evaluate_questions()
    table = {kind: (n, recall, clause) for kind, n, recall, clause in question_table(outcomes)}
    n, recall, clause = table["all"]
    assert n >= 60
    assert recall >= 0.95
    assert clause >= 0.9
    scope = [o for o in outcomes if o.honest is not None]
    assert scope and all(o.honest for o in scope), [o.question for o in scope if not o.honest]
    assert not [o.question for o in outcomes if o.false_alarm]
