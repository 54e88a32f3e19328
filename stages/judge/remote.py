"""Backend `openai` of the judge: the model answers the rubric's JSON, checked and retried when invalid.

Every record's prompt goes to the endpoint through rewrite's client (stages/llm/backends/openai_chat.py:
`concurrency` requests at once, `retries` with backoff on 429/5xx/timeouts, the API key only in the
Authorization header, one line and a stop when the endpoint cannot be reached or refuses the key).
Each answer is read by stages/judge/answers.py. An invalid one (not JSON, a score out of range, a
missing dimension, ...) is answered with the rubric's `retry` turn naming the problem, the bad answer
kept in the conversation, up to `judge.attempts` answers in all; then the record is rejected as
`judge_invalid_output` with the last problem and the start of the raw answer in `detail`. An answer
holding the API key (in any form `KeyGuard` finds) is rejected at once as `judge_secret_in_output`,
nothing of it written; a failed request (after the client's retries) as `judge_backend_error`.
Valid judgements reach `on_result` as they arrive, so the stage caches them before the rest finish.
"""

from __future__ import annotations

from collections.abc import Callable

from stages.judge.answers import (BACKEND_ERROR, INVALID, SECRET, Invalid, Judgement, Outcome, Rejected, Stats,
                                  read_answer)
from stages.judge.rubric import Rubric
from stages.judge.settings import JudgeParams
from stages.llm.backends import Failure
from stages.llm.backends.openai_chat import WITHHELD, OpenAIChatBackend
from stages.llm.cache import Response
from stages.llm.prompts import Messages

Item = tuple[str, str, str]  # instruction, input, output
METHOD = "json-answer/1"  # part of the cache key: how a remote judgement is made
RAW_CHARS = 300


def raw_snippet(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= RAW_CHARS else flat[:RAW_CHARS] + "…")


class RemoteJudge:
    name = "openai"
    key_settings = {"method": METHOD}  # how a judgement is made, for the cache key

    def __init__(self, rubric: Rubric, settings: JudgeParams) -> None:
        assert settings.openai is not None  # JudgeParams requires the block with backend openai
        self.client = OpenAIChatBackend(settings.openai, section="judge")
        self.guard = self.client.guard
        self.rubric, self.settings = rubric, settings
        self.stats = Stats()

    @property
    def model(self) -> str:
        return self.client.model

    @property
    def identity(self) -> str:
        return self.client.identity

    def detail(self, answers: int, problem: str, raw: str) -> str:
        text = f"{answers} answers invalid, the last: {problem}; raw: {raw_snippet(raw)}"
        return WITHHELD if self.guard.leaks(text) else text

    def outcome(self, conversation: Messages, response: Response, attempt: int) -> Outcome | Messages:
        """A judgement or a rejection, or the conversation to send again after an invalid answer."""
        self.stats.prompt_tokens += response.prompt_tokens or 0
        self.stats.completion_tokens += response.completion_tokens or 0
        if self.guard.leaks(response.text, response.finish_reason):
            self.stats.failures["secret_in_output"] += 1
            return Rejected(SECRET, f"the answer contains the API key ({self.guard.source}); dropped, not cached")
        judged = read_answer(response.text, self.rubric)
        if isinstance(judged, Judgement):
            return judged
        assert isinstance(judged, Invalid)
        self.stats.failures[judged.kind] += 1
        if attempt < self.settings.attempts:
            return self.rubric.retry_messages(conversation, response.text, judged.problem)
        return Rejected(INVALID, self.detail(attempt, judged.problem, response.text))

    def judge(self, items: list[Item], on_result: Callable[[int, Outcome], None]) -> list[Outcome]:
        conversations = {i: self.rubric.messages(*item, self.settings.max_chars) for i, item in enumerate(items)}
        outcomes: list[Outcome] = [Rejected(BACKEND_ERROR, "not run")] * len(items)
        for attempt in range(1, self.settings.attempts + 1):
            pending = sorted(conversations)
            if not pending:
                break
            settled: dict[int, Outcome | Messages] = {}

            def arrived(position: int, response: Response) -> None:
                index = pending[position]
                settled[index] = self.outcome(conversations[index], response, attempt)
                if not isinstance(settled[index], list):
                    on_result(index, settled[index])  # type: ignore[arg-type]

            self.stats.answers += len(pending)
            results = self.client.generate([conversations[i] for i in pending], self.settings.generation, arrived)
            for index, result in zip(pending, results):
                if isinstance(result, Failure):
                    self.stats.failures["backend_error"] += 1
                    settled[index] = Rejected(BACKEND_ERROR, self.client.redact(result.detail))
                    on_result(index, settled[index])  # type: ignore[arg-type]
                step = settled[index]
                if isinstance(step, list):
                    conversations[index] = step
                else:
                    outcomes[index] = step
                    del conversations[index]
        self.stats.calls = self.client.calls
        return outcomes
