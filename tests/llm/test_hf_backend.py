"""Backend `transformers` on the tiny model: batched, greedy, deterministic."""

from __future__ import annotations

import pytest
import torch

from stages.llm.backends import Failure, GenerationParams
from stages.lib.params import parse_section
from stages.llm.backends.hf_local import LocalBackend, TransformersParams
from stages.llm.base import read_model_dir
from stages.llm.cache import Response
from tests.llm.fixtures import tiny_model_dir

GEN = GenerationParams(max_new_tokens=6)


def prompts(n: int) -> list[list[dict[str, str]]]:
    texts = ["为什么天空是蓝色的？", "长城大约有多长？请详细说明历史。", "推荐几部电影。", "三加五乘以二等于多少？"]
    return [[{"role": "system", "content": "改写助手"}, {"role": "user", "content": texts[i % 4]}] for i in range(n)]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_batched_greedy_generation_is_deterministic_and_matches_unbatched():
    spec = read_model_dir(tiny_model_dir())
    seen = []
    batched = LocalBackend(spec, batch_size=3).generate(prompts(4), GEN, lambda i, r: seen.append(i))
    again = LocalBackend(spec, batch_size=3).generate(prompts(4), GEN, lambda i, r: None)
    single = LocalBackend(spec, batch_size=1).generate(prompts(4), GEN, lambda i, r: None)
    assert all(isinstance(r, Response) and r.finish_reason in ("stop", "length") for r in batched)
    assert batched == again
    assert [r.text for r in batched] == [r.text for r in single]  # left padding does not change greedy output
    assert seen == [0, 1, 2, 3]


def test_sampling_is_seeded():
    backend = LocalBackend(read_model_dir(tiny_model_dir()), batch_size=2)
    hot = GenerationParams(max_new_tokens=6, temperature=1.5, top_p=0.95, seed=3)
    assert backend.generate(prompts(2), hot, lambda i, r: None) == backend.generate(prompts(2), hot, lambda i, r: None)


def test_a_prompt_longer_than_the_model_fails_alone():
    backend = LocalBackend(read_model_dir(tiny_model_dir()), batch_size=2)
    long = [[{"role": "user", "content": "很长的问题。" * 600}]]
    results = backend.generate(prompts(1) + long, GEN, lambda i, r: None)
    assert isinstance(results[0], Response)
    assert isinstance(results[1], Failure) and "exceeds the model's 1024 positions" in results[1].detail


def local_params(raw) -> TransformersParams:
    return parse_section(TransformersParams, raw, "params.yaml: rewrite.transformers")


def test_settings():
    assert local_params({}).model == "base"
    with pytest.raises(ValueError, match="batch_size: must be a positive integer"):
        local_params({"batch_size": 0})
    with pytest.raises(ValueError, match=r"transformers.device: unknown key"):
        local_params({"device": "cuda"})
