"""Typo tolerance: a word typed wrong by one character, corrected from the index's own words.

Pinyin input slips to a word that sounds the same (补贴 → 不贴, 优惠 → 优会); handwriting
input and hurried reading to a character that looks alike (配偶 → 配隅, 重组 → 重祖). Either
way jieba then cuts the query into single characters or a word the library never uses, and
the key word would be lost.

A run of the query's words is a correction candidate when it holds such a weak piece (a single
character that is not a stop word, or a word no clause contains) and is not itself an index
word. It is compared with the index vocabulary (words of two to eight characters that occur in
some clause): same toneless pinyin (pypinyin), or the same but for one character from a group
of look-alikes (pack data, confusables). The longest run with a candidate wins, and among
candidates the one that keeps most characters, then the most frequent word. Corrections are shown to the user ("您是不是要找：…").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .segment import CJK

MAX_RUN = 8  # characters


@dataclass(frozen=True)
class Correction:
    wrong: str
    right: str


def pinyin_key(word: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))


class Vocabulary:
    """The index's words by pinyin, built on first use (once per index)."""

    def __init__(self, terms: list[tuple[str, int]], texts: list[str] = ()) -> None:
        self.df = {t: n for t, n in terms}
        self.text = "\n".join(dict.fromkeys(texts))  # every distinct title and clause
        self.by_sound: dict[tuple[str, ...], list[str]] = {}
        for term, _ in sorted(terms, key=lambda x: (-x[1], x[0])):
            self.by_sound.setdefault(pinyin_key(term), []).append(term)

    @classmethod
    def of_index(cls, conn, lock: threading.RLock) -> Vocabulary:
        with lock:
            rows = conn.execute(
                "SELECT term, doc FROM clause_vocab WHERE length(term) BETWEEN 2 AND ?",
                (MAX_RUN,),
            ).fetchall()
            texts = [
                r[0]
                for r in conn.execute(
                    "SELECT norm_title || ' ' || COALESCE(doc_number, '') FROM docs"
                )
            ]
            texts += [r[0] for r in conn.execute("SELECT norm FROM clauses")]
        return cls([(t, n) for t, n in rows if CJK.match(t)], texts)

    def occurs(self, run: str) -> bool:
        return run in self.text

    def candidates(self, run: str, confusables: dict[str, set[str]]) -> list[str]:
        found: list[str] = [w for w in self.by_sound.get(pinyin_key(run), []) if w != run]
        for i, ch in enumerate(run):
            for alt in confusables.get(ch, ()):
                word = run[:i] + alt + run[i + 1 :]
                if word in self.df and word not in found:
                    found.append(word)
        # Fewest characters changed first (配隅 → 配偶 keeps 配; 培育 would change both), then
        # the commoner word.
        return sorted(
            found, key=lambda w: (-sum(a == b for a, b in zip(w, run, strict=False)), -self.df[w])
        )


def correct(
    words: list[str],
    weak: list[bool],
    stops: frozenset[str] | set[str],
    vocab: Vocabulary,
    confusables: dict[str, set[str]],
) -> list[tuple[int, int, Correction]]:
    """Non-overlapping corrections as (first word, end word, correction), in order.

    `words` is the segmented query, `weak[i]` whether word i is a weak piece. A run neither
    starts nor ends with a stop word (件有 is not 建有), and a run that occurs as written
    somewhere in the library (a title, a 文号, a clause) is no typo.
    """
    found: list[tuple[int, int, Correction]] = []
    taken = [False] * len(words)
    spans = []
    for i in range(len(words)):
        length = 0
        for j in range(i, len(words)):
            if not CJK.match(words[j]):
                break
            length += len(words[j])
            if length > MAX_RUN:
                break
            if (
                length >= 2
                and any(weak[i : j + 1])
                and words[i] not in stops
                and words[j] not in stops
            ):
                spans.append((length, i, j + 1))
    for _, i, j in sorted(spans, key=lambda s: (-s[0], s[1])):
        if any(taken[i:j]):
            continue
        run = "".join(words[i:j])
        if run in vocab.df or vocab.occurs(run):
            continue
        options = vocab.candidates(run, confusables)
        if options:
            found.append((i, j, Correction(run, options[0])))
            for k in range(i, j):
                taken[k] = True
    return sorted(found, key=lambda f: f[0])
