"""Backend `transformers` of the judge: scores read from the model's probabilities, Deita's way.

The model gets the rubric's prompt (stages/judge/rubric.py) and the answer is written for it, one score at
a time: `{"dimensions":{"accuracy":` and the model's next-token distribution there gives the score,
then `8,"helpfulness":` and so on, then `},"overall":`. At each score the probabilities of the score
tokens `1`..`9` are renormalised among themselves (a softmax over their logits, as Deita's
`infer_score` does over `1`..`6`) and the column holds the probability-weighted mean
`sum(s * P(s))`, not one sampled digit. The answer goes on with the most likely score (what greedy
decoding would write), so later scores see a plain integer.

"10" is two tokens in most tokenizers (`1`, `0`; SmolLM2, Qwen and the tiny model split digits), so
the weight of `1` is split by what the model writes after it: each score sequence ends with the `1`
token, whose logits give q = P(`0` | ...`1`) in the same forward pass; then P(10) = P(`1`) * q and
P(1) = P(`1`) * (1 - q). A tokenizer that also has a single `10` token adds its probability to P(10)
(it is one more candidate in the softmax). The verdict is the rubric's thresholds on the weighted
overall; the rationale is generated with `judge.generation` (greedy at temperature 0, the default)
after `,"verdict":"keep","rationale":"` up to its closing quote, and the whole is checked against the
answer schema like any answer (one attempt: the same prompt would give the same answer). A prompt
longer than the model's positions (less the answer) is cut further (both texts to fewer characters:
`fitted` in the metrics) until it fits.

One record at a time: `PromptCache` keeps the key/value cache of what the model has read, so the
instructions every prompt starts with are read once for all records, and a record's prompt once for
all its scores and its rationale.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stages.judge.answers import BACKEND_ERROR, INVALID, Invalid, Judgement, Outcome, Rejected, Stats, check
from stages.judge.rubric import SCALE, Rubric
from stages.judge.settings import JudgeParams
from stages.lib.errors import StageError
from stages.llm.backends.hf_local import LocalModel, generation_config
from stages.llm.base import ModelSpec
from stages.llm.cache import Response
from stages.llm.prompts import Messages, render_prompt

Item = tuple[str, str, str]  # instruction, input, output
METHOD = "weighted-score-tokens/1"  # part of the cache key: how a local judgement is made


@dataclass(frozen=True)
class ScoreTokens:
    digits: list[int]  # the single tokens "1".."9"
    zero: int
    ten: int | None  # a single "10" token, when the tokenizer has one

    @classmethod
    def of(cls, tokenizer: Any) -> ScoreTokens:
        def single(text: str) -> int | None:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            return ids[0] if len(ids) == 1 else None

        digits, zero = [single(str(s)) for s in range(1, 10)], single("0")
        if None in digits or zero is None:
            raise StageError("judge: the model's tokenizer has no single token for each digit 0-9; the "
                             "transformers backend reads its scores from them (use judge.backend: openai)")
        return cls(digits, zero, single("10"))  # type: ignore[arg-type]


def score_weights(at_score: Any, after_one: Any, tokens: ScoreTokens) -> list[float]:
    """P(score = s) for s = 1..10 from the logits where the score starts and after its `1` token."""
    import torch

    ids = tokens.digits + ([tokens.ten] if tokens.ten is not None else [])
    p = torch.softmax(at_score.double()[ids], dim=0).tolist()
    q = float(torch.softmax(after_one.double(), dim=0)[tokens.zero])
    ten = p[9] if tokens.ten is not None else 0.0
    return [p[0] * (1 - q), *p[1:9], p[0] * q + ten]


def expected(weights: Sequence[float]) -> float:
    return sum(score * w for score, w in zip(range(SCALE[0], SCALE[1] + 1), weights))


def most_likely(weights: Sequence[float]) -> int:
    return SCALE[0] + max(range(len(weights)), key=lambda i: (weights[i], -i))


def score_prefix(names: list[str], values: list[int]) -> str:
    """The answer up to the next score: dimension `len(values)`, or `overall` once every dimension has one."""
    done = ",".join(f"{json.dumps(name)}:{value}" for name, value in zip(names, values))
    if len(values) < len(names):
        return '{"dimensions":{' + done + ("," if done else "") + json.dumps(names[len(values)]) + ":"
    return '{"dimensions":{' + done + '},"overall":'


def rationale_prefix(names: list[str], values: list[int], verdict: str) -> str:
    return score_prefix(names, values[:-1]) + f'{values[-1]},"verdict":"{verdict}","rationale":"'


class PromptCache:
    """What the model has read (`ids`) and its key/value cache: reading new ids feeds only what differs
    from them. Records share the rubric's instructions at the start of their prompts, and a record's
    scores share all of its prompt, so each is computed once."""

    def __init__(self, model: Any) -> None:
        from transformers import DynamicCache

        self.model = model
        self.cache = DynamicCache(config=model.config)
        self.ids: list[int] = []

    def rewind(self, keep: int) -> None:
        """Forget all but the first `keep` ids."""
        if keep < len(self.ids):
            self.cache.crop(keep - len(self.ids))  # a negative count: remove that many from the end
            if self.cache.get_seq_length() != keep:
                raise StageError(f"internal: the key/value cache holds {self.cache.get_seq_length()} tokens, "
                                 f"expected {keep} (an unsupported transformers version?)")
            self.ids = self.ids[:keep]

    def common(self, ids: list[int]) -> int:
        """How many of `ids` have been read: the length of the common prefix."""
        return next((i for i, (a, b) in enumerate(zip(self.ids, ids)) if a != b), min(len(self.ids), len(ids)))

    def read(self, ids: list[int], fresh: int = 1) -> Any:
        """Logits at the ids of `ids` not read before (at least its last `fresh`)."""
        import torch

        self.rewind(min(self.common(ids), len(ids) - fresh))
        with torch.no_grad():
            logits = self.model(input_ids=torch.tensor([ids[len(self.ids):]]), past_key_values=self.cache,
                                use_cache=True).logits[0]
        self.ids = list(ids)
        return logits


def cut_rationale(text: str, limit: int | None) -> str:
    """The generated rationale up to its closing quote, JSON escapes decoded, whitespace collapsed."""
    raw = text.split('"', 1)[0]
    try:
        raw = json.loads(f'"{raw}"')
    except json.JSONDecodeError:
        pass
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in raw).split())
    return flat[:limit] if limit else flat


class LocalJudge(LocalModel):
    def __init__(self, spec: ModelSpec, rubric: Rubric, settings: JudgeParams) -> None:
        self.spec, self.rubric, self.settings = spec, rubric, settings
        self.stats = Stats()

    @property
    def key_settings(self) -> dict[str, Any]:
        """How a judgement is made, for the cache key (a hub model's identity does not hold its dtype)."""
        return {"method": METHOD, "dtype": self.spec.dtype}

    def encode(self, messages: Messages, prefill: str | None = None) -> list[int]:
        _, tokenizer = self.loaded()
        turns = messages + [{"role": "assistant", "content": prefill}] if prefill is not None else messages
        return tokenizer(render_prompt(tokenizer, turns), add_special_tokens=False, verbose=False)["input_ids"]

    def fitted(self, item: Item, limit: int) -> Messages | None:
        """The prompt, both texts cut further until it fits `limit` tokens (None: it never does)."""
        chars = self.settings.max_chars
        messages = self.rubric.messages(*item, chars)
        length = len(self.encode(messages))
        while length > limit and chars > 16:
            chars = max(16, int(chars * limit / length * 0.9))
            messages = self.rubric.messages(*item, chars)
            length = len(self.encode(messages))
        if chars != self.settings.max_chars:
            self.stats.fitted += 1
        return messages if length <= limit else None

    def judge(self, items: list[Item], on_result: Callable[[int, Outcome], None]) -> list[Outcome]:
        """One outcome per item, in order, each passed to `on_result` as soon as it is made."""
        model, tokenizer = self.loaded()
        tokens = ScoreTokens.of(tokenizer)
        longest = rationale_prefix(self.rubric.names, [SCALE[1]] * (len(self.rubric.names) + 1), "discard")
        reserve = len(tokenizer(longest, add_special_tokens=False, verbose=False)["input_ids"])
        positions = getattr(model.config, "max_position_embeddings", None) or 10**9
        limit = positions - reserve - self.settings.generation.max_new_tokens - 1
        reader = PromptCache(model)
        outcomes: list[Outcome] = []
        for index, item in enumerate(items):
            messages = self.fitted(item, limit)
            if messages is None:
                outcome: Outcome = Rejected(BACKEND_ERROR, f"the prompt does not fit the model's {positions} "
                                                           "positions even with both texts cut short")
                self.stats.failures["backend_error"] += 1
            else:
                outcome = self.judge_one(reader, messages, tokens)
            outcomes.append(outcome)
            on_result(index, outcome)
        return outcomes

    def scores(self, reader: PromptCache, prompt: Messages, tokens: ScoreTokens) -> tuple[list[int], list[float]]:
        """(the most likely score, the weighted mean) of every dimension and then of the overall."""
        names = self.rubric.names
        values: list[int] = []
        means: list[float] = []
        for _ in range(len(names) + 1):
            logits = reader.read(self.encode(prompt, score_prefix(names, values)) + [tokens.digits[0]], fresh=2)
            weights = score_weights(logits[-2], logits[-1], tokens)
            values.append(most_likely(weights))
            means.append(round(expected(weights), 4))
        return values, means

    def rationale(self, reader: PromptCache, prompt: Messages, values: list[int], verdict: str) -> Response:
        """The generated rationale after the scores and the verdict (the prompt's cache reused)."""
        import torch

        model, tokenizer = self.loaded()
        ids = self.encode(prompt, rationale_prefix(self.rubric.names, values, verdict))
        reader.rewind(min(reader.common(ids), len(ids) - 1))  # generate() reads the rest into the cache
        config = generation_config(model, tokenizer, self.settings.generation)
        config.stop_strings = ['"']  # the rationale's closing quote ends the answer
        torch.manual_seed(self.settings.generation.seed)
        with torch.no_grad():
            output = model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones_like(torch.tensor([ids])),
                                    past_key_values=reader.cache, generation_config=config, tokenizer=tokenizer)
        reader.ids = output[0, : reader.cache.get_seq_length()].tolist()
        new = output[0, len(ids):].tolist()
        stops = set(config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id])
        end = next((k for k, token in enumerate(new) if token in stops), None)
        return Response(tokenizer.decode(new, skip_special_tokens=True), "length" if end is None else "stop",
                        len(ids), len(new) if end is None else end + 1)

    def judge_one(self, reader: PromptCache, prompt: Messages, tokens: ScoreTokens) -> Outcome:
        values, means = self.scores(reader, prompt, tokens)
        verdict = self.rubric.verdict_of(means[-1])
        reply = self.rationale(reader, prompt, values, verdict)
        self.stats.calls += 1
        self.stats.answers += 1
        self.stats.prompt_tokens += len(self.encode(prompt))
        self.stats.completion_tokens += reply.completion_tokens or 0
        limit = self.rubric.schema["properties"]["rationale"].get("maxLength")
        answer = Judgement(dict(zip(self.rubric.names, means)), means[-1], verdict, cut_rationale(reply.text, limit))
        judged = check(answer.as_dict(), self.rubric)
        if isinstance(judged, Invalid):
            self.stats.failures[judged.kind] += 1
            return Rejected(INVALID, f"1 answer invalid: {judged.problem}")
        return judged
