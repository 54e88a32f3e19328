"""The content-addressed response cache."""

from __future__ import annotations

import json

from stages.llm.cache import Request, Response, ResponseCache

MESSAGES = [{"role": "system", "content": "改写助手"}, {"role": "user", "content": "为什么天空是蓝色的？"}]


def request(**overrides) -> Request:
    fields = {"backend": "openai", "model": "m", "messages": MESSAGES,
              "generation": {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "seed": 0}} | overrides
    return Request(**fields)


def test_key_depends_on_backend_model_prompt_and_generation_but_not_dict_order():
    base = request()
    reordered = request(generation={"seed": 0, "top_p": 1.0, "temperature": 0.0, "max_new_tokens": 8})
    assert base.key == reordered.key and len(base.key) == 64
    others = [request(backend="transformers"), request(model="m2"),
              request(messages=[MESSAGES[0], {"role": "user", "content": "别的问题"}]),
              request(generation={**base.generation, "temperature": 0.7})]
    assert len({base.key, *(o.key for o in others)}) == 5


def test_put_then_get_counts_hits_and_misses_and_files_are_deterministic(tmp_path):
    cache = ResponseCache(tmp_path / "c")
    assert cache.get(request()) is None
    cache.put(request(), Response("【问题】甲\n【回答】乙", "stop"))
    assert cache.get(request()) == Response("【问题】甲\n【回答】乙", "stop")
    assert cache.counts() == {"cache_hits": 1, "cache_misses": 1, "cache_stored": 1}
    path = cache.path_for(request().key)
    assert path.parent.name == request().key[:2]
    first = path.read_bytes()
    ResponseCache(tmp_path / "c").put(request(), Response("【问题】甲\n【回答】乙", "stop"))
    assert path.read_bytes() == first
    assert set(json.loads(first)) == {"key", "request", "response"}


def test_a_corrupt_or_mismatched_entry_is_a_miss(tmp_path):
    cache = ResponseCache(tmp_path)
    path = cache.path_for(request().key)
    path.parent.mkdir(parents=True)
    path.write_text("{broken", encoding="utf-8")
    assert cache.get(request()) is None
    path.write_text(json.dumps({"key": "0" * 64, "response": {"text": "x"}}), encoding="utf-8")
    assert cache.get(request()) is None
    assert cache.misses == 2
