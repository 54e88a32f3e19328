"""Decontamination: drop SFT candidates that overlap an evaluation question.

In the style of lm-evaluation-harness's and NeMo Curator's task decontamination:
n-gram overlap on normalised text (NFKC, lower case, punctuation dropped).
English is compared in word n-grams (`word_ngram`), text with Chinese characters in
character n-grams (`char_ngram`, Han characters, letters and digits, no spaces). A
question shorter than n tokens is one n-gram: the whole question; one shorter
than half of n tokens is not indexed (too short to tell copying from common
phrasing; counted as `short_questions_skipped`). A candidate (its
instruction, input and output together) is contaminated by a question when it
holds at least `min_overlap` of that question's n-grams (a share in (0, 1]);
so a copied question always matches, and a lightly edited one matches when enough
n-grams away from the edit survive. Evaluation questions come from the task files
`evaluate` reads (stages/evaluate/tasks.py). Matches are exact set lookups, so the
cost grows with the candidates' total length, not with the number of questions.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.contract import Filter, split_by_filters
from stages.lib.params import Params, PositiveInt, number

REASON = "decontam_eval_overlap"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
Overlap = number(lambda v: 0 < v <= 1, "in (0, 1]")


class DecontamParams(Params):
    """`assemble.decontam` in params.yaml."""

    enabled: bool = True
    word_ngram: PositiveInt = 8
    char_ngram: PositiveInt = 8
    min_overlap: Overlap = 0.2


def tokens(text: str) -> tuple[str, list[str]]:
    """('char', characters) for text with Han characters, else ('word', words); normalised."""
    norm = unicodedata.normalize("NFKC", text or "").lower()
    if _HAN.search(norm):
        return "char", [ch for word in _WORD.findall(norm) for ch in word]
    return "word", _WORD.findall(norm)


def ngrams(items: list[str], n: int) -> set[tuple[str, ...]]:
    if len(items) <= n:
        return {tuple(items)} if items else set()
    return {tuple(items[i:i + n]) for i in range(len(items) - n + 1)}


@dataclass(frozen=True)
class EvalQuestion:
    task: str
    where: str
    text: str
    mode: str
    total: int  # number of distinct n-grams


class Index:
    """n-gram -> evaluation questions holding it, per mode (word / char)."""

    def __init__(self, questions: list[tuple[str, str, str]], params: DecontamParams) -> None:
        self.params = params
        self.questions: list[EvalQuestion] = []
        self.grams: dict[str, dict[tuple[str, ...], list[int]]] = {"word": {}, "char": {}}
        self.lengths: dict[str, set[int]] = {"word": set(), "char": set()}
        self.skipped = 0
        for task, where, text in questions:
            mode, items = tokens(text)
            if len(items) * 2 < self.n(mode):
                self.skipped += 1
                continue
            grams = ngrams(items, self.n(mode))
            self.questions.append(EvalQuestion(task, where, text, mode, len(grams)))
            for gram in grams:
                self.grams[mode].setdefault(gram, []).append(len(self.questions) - 1)
                self.lengths[mode].add(len(gram))

    def n(self, mode: str) -> int:
        return self.params.word_ngram if mode == "word" else self.params.char_ngram

    def match(self, text: str) -> str | None:
        """`detail` naming the task and question a candidate overlaps most, or None."""
        norm = unicodedata.normalize("NFKC", text or "").lower()
        words = _WORD.findall(norm)
        chars = [ch for word in words for ch in word]
        counts: Counter[int] = Counter()
        for mode, items in (("word", words), ("char", chars)):
            for length in self.lengths[mode]:
                for gram in {tuple(items[i:i + length]) for i in range(len(items) - length + 1)}:
                    for q in self.grams[mode].get(gram, ()):
                        counts[q] += 1
        best = None
        for q, shared in sorted(counts.items()):  # ties: the first question (not set order, which varies by run)
            share = shared / self.questions[q].total
            if share >= self.params.min_overlap and (best is None or share > best[1]):
                best = (q, share)
        if best is None:
            return None
        q = self.questions[best[0]]
        snippet = q.text if len(q.text) <= 80 else q.text[:80] + "…"
        return (f"overlaps evaluation task {q.task} question {q.where} ({best[1]:.0%} of its "
                f"{self.n(q.mode)}-{q.mode} n-grams): {snippet!r}")


def load_eval_questions(directories: list[Path]) -> list[tuple[str, str, str]]:
    """(task, file:line, question) of every task file in `directories` (the layouts evaluate reads)."""
    from stages.evaluate.tasks import load_tasks

    found = []
    for directory in directories:
        for task, questions in load_tasks(directory).items():
            found.extend((task, q.where, q.question) for q in questions)
    return found


def decontaminate(frame: pl.DataFrame, eval_tasks: list[Path],
                  params: DecontamParams) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(clean candidates, rejected as decontam_eval_overlap, metrics) against the evaluation questions."""
    if not params.enabled or not eval_tasks:
        return frame, frame.head(0).with_columns(reason=pl.lit(None, pl.String), detail=pl.lit(None, pl.String)), {}
    index = Index(load_eval_questions(sorted(set(eval_tasks))), params)
    texts = zip(frame["instruction"].to_list(), frame["input"].to_list(), frame["output"].to_list())
    details = [index.match("\n".join(t or "" for t in row)) for row in texts]
    marked = frame.with_columns(pl.Series("_decontam", details, dtype=pl.String))
    kept, rejected = split_by_filters(marked, [Filter(REASON, pl.col("_decontam").is_not_null(), pl.col("_decontam"))])
    metrics = {"eval_questions": len(index.questions), "short_questions_skipped": index.skipped,
               "decontaminated": rejected.height}
    return kept.drop("_decontam"), rejected.drop("_decontam"), metrics
