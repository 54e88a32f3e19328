"""Multiple-choice scoring by option log-likelihood.

For each question the model sees a prompt (question, lettered options, then
"答案：") and we sum the log-probabilities it gives to each option's
continuation: the letter ("A") or the letter with the option text. A question
without Chinese text gets MMLU's English format instead, as lm-evaluation-harness
writes it: the prompt ends with "Answer:" and the continuations are " A" .. " D"
(or " A. <option>"). `cloze` (MMLU's cloze variant, better for small models that
favour one letter) shows no options: "Question: <question>\nAnswer:" and scores each
option's text (" Paris") by its summed log-likelihood. The log-probabilities come from the shared scorer
(stages/llm/scorer.py).
The option with the highest log-likelihood is the prediction; ties go to the
earlier letter. No sampling, so scores are deterministic for fixed weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stages.evaluate.tasks import LETTERS, Question
from stages.llm.prompts import has_chinese
from stages.llm.scorer import batched_logprobs, pad_id_of


def is_english(q: Question) -> bool:
    return not has_chinese(q.question + "".join(q.options))


def format_prompt(q: Question, mode: str = "letter") -> str:
    cue = "Answer:" if is_english(q) else "答案："
    if mode == "cloze":  # the options are not shown; each option's text is scored as the answer
        return f"Question: {q.question}\n{cue}" if is_english(q) else f"问题：{q.question}\n{cue}"
    lines = [q.question, *(f"{letter}. {option}" for letter, option in zip(LETTERS, q.options)), cue]
    return "\n".join(lines)


def continuations(q: Question, mode: str) -> list[str]:
    space = " " if is_english(q) else ""
    if mode == "letter":
        return [space + letter for letter in LETTERS]
    if mode == "cloze":
        return [space + option.strip() for option in q.options]
    return [f"{space}{letter}. {option}" for letter, option in zip(LETTERS, q.options)]


@dataclass(frozen=True)
class Scored:
    question: Question
    logliks: tuple[float, ...]

    @property
    def predicted(self) -> str:
        best = max(range(len(self.logliks)), key=lambda i: (self.logliks[i], -i))
        return LETTERS[best]

    @property
    def correct(self) -> bool:
        return self.predicted == self.question.answer

    @property
    def margin(self) -> float:
        return margin(self.logliks, self.question.answer)


def margin(logliks: tuple[float, ...] | list[float], answer: str) -> float:
    """The gold option's log-likelihood minus the best wrong option's (nats): > 0 when the model prefers the
    gold answer (correct), < 0 when it prefers a wrong one; a shift shared by all options cancels out."""
    gold = LETTERS.index(answer)
    return logliks[gold] - max(x for i, x in enumerate(logliks) if i != gold)


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def loglikelihoods(model, tokenizer, pairs: list[tuple[str, str]], batch_size: int) -> list[float]:
    """Sum of log p(continuation tokens | context) for each (context, continuation) pair (shared scorer;
    the letters of one question share a forward pass of its prompt)."""
    encoded = [(_encode(tokenizer, ctx), _encode(tokenizer, cont)) for ctx, cont in pairs]
    return [total for total, _ in batched_logprobs(model, pad_id_of(tokenizer), encoded, batch_size)]


def score_questions(model, tokenizer, questions: list[Question], mode: str, batch_size: int) -> list[Scored]:
    pairs = [(format_prompt(q, mode), cont) for q in questions for cont in continuations(q, mode)]
    flat = loglikelihoods(model, tokenizer, pairs, batch_size)
    n = len(LETTERS)
    return [Scored(q, tuple(flat[i * n : (i + 1) * n])) for i, q in enumerate(questions)]


def accuracy(scored: list[Scored]) -> float:
    return round(sum(s.correct for s in scored) / len(scored), 6) if scored else 0.0


def wilson_interval(scored: list[Scored], z: float = 1.959964) -> tuple[float, float] | None:
    """The 95% Wilson score interval of the accuracy (stays inside [0, 1], also at 0 or all correct);
    None without questions."""
    n = len(scored)
    if not n:
        return None
    p = sum(s.correct for s in scored) / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return round(max(0.0, (centre - half) / (1 + z * z / n)), 6), round(min(1.0, (centre + half) / (1 + z * z / n)), 6)


def stderr(scored: list[Scored]) -> float | None:
    """Standard error of the accuracy, sqrt(p(1-p)/(n-1)) (the sample standard error lm-evaluation-harness
    reports for a mean of 0/1 scores); None below two questions."""
    n = len(scored)
    if n < 2:
        return None
    p = sum(s.correct for s in scored) / n
    return round(math.sqrt(p * (1 - p) / (n - 1)), 6)
