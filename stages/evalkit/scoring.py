"""Multiple-choice scoring by option log-likelihood.

For each question the model sees a prompt (question, lettered options, then
"答案：") and we sum the log-probabilities it gives to each option's
continuation: the letter (" A", MMLU style) or the letter with the option text.
The option with the highest log-likelihood is the prediction; ties go to the
earlier letter. No sampling, so scores are deterministic for fixed weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from stages.evalkit.tasks import LETTERS, Question
from stages.llm.scorer import continuation_logprobs, pad_id_of

CONTINUATIONS = ("letter", "text")


def format_prompt(q: Question) -> str:
    lines = [q.question, *(f"{letter}. {option}" for letter, option in zip(LETTERS, q.options)), "答案："]
    return "\n".join(lines)


def continuations(q: Question, mode: str) -> list[str]:
    if mode == "letter":
        return list(LETTERS)
    return [f"{letter}. {option}" for letter, option in zip(LETTERS, q.options)]


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


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def loglikelihoods(model, tokenizer, pairs: list[tuple[str, str]], batch_size: int) -> list[float]:
    """Sum of log p(continuation tokens | context) for each (context, continuation) pair (shared scorer)."""
    pad = pad_id_of(tokenizer)
    results: list[float] = []
    for start in range(0, len(pairs), batch_size):
        batch = [(_encode(tokenizer, ctx), _encode(tokenizer, cont)) for ctx, cont in pairs[start : start + batch_size]]
        results.extend(total for total, _ in continuation_logprobs(model, pad, batch))
    return results


def score_questions(model, tokenizer, questions: list[Question], mode: str, batch_size: int) -> list[Scored]:
    pairs = [(format_prompt(q), cont) for q in questions for cont in continuations(q, mode)]
    flat = loglikelihoods(model, tokenizer, pairs, batch_size)
    n = len(LETTERS)
    return [Scored(q, tuple(flat[i * n : (i + 1) * n])) for i, q in enumerate(questions)]


def accuracy(scored: list[Scored]) -> float:
    return round(sum(s.correct for s in scored) / len(scored), 6) if scored else 0.0
