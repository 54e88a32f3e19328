"""The key guard and the echo measure (stages/llm/screen.py)."""

from __future__ import annotations

import hashlib
import json

import pytest

from stages.llm.cache import Removed, Request, Response, ResponseCache
from stages.llm.screen import ECHO_THRESHOLD, KeyGuard, echo_share, fold
from tests.llm.leaks import files_holding, key_forms

KEY = "sk-proj-Q7x2Lm9Vr4Tz8Kp1Wn6Yc3Hd"
GUARD = KeyGuard(KEY, "environment variable CQIA_TEST_KEY")


@pytest.mark.parametrize("form", sorted(key_forms(KEY)))
def test_every_transformed_form_of_the_key_is_found_inside_an_answer(form):
    assert GUARD.leaks(f"【问题】天空为什么是蓝色的？\n【回答】因为瑞利散射。{key_forms(KEY)[form]}。")


@pytest.mark.parametrize("text", [
    "\\u0073\\u006b" + "".join(f"\\u{ord(ch):04x}" for ch in KEY[2:]),  # JSON escapes
    "sk-proj-Q7x2Lm9V" + "，中间隔着几句话，" + "r4Tz8Kp1Wn6Yc3Hd",  # split, both pieces >= 12 folded characters
    "s\u0301k-p\u0301roj-Q7x2Lm9Vr4Tz8Kp1Wn6Yc3Hd",  # combining marks
])
def test_escaped_split_and_marked_keys_are_found(text):
    assert GUARD.leaks(text)


def test_ordinary_text_hashes_and_short_keys_do_not_leak():
    answer = "【问题】密钥是什么？\n【回答】形如 sk-proj-xxxx 的字符串，切勿公开。"
    hashes = [hashlib.sha256(KEY.encode()).hexdigest(), "c2stcHJvai0=", "0123456789abcdef" * 4]
    assert not GUARD.leaks(answer, *hashes, None, "")
    assert not KeyGuard("EMPTY").leaks("EMPTY") and not KeyGuard("").leaks(KEY)
    assert not KeyGuard("sk-proj-Q7x2Lm9Vr4Tz8Kp1Wn6Yc3Hd").leaks(KEY[:11])  # shorter than a fragment


def test_fold_drops_case_width_gaps_and_marks():
    assert fold("ＡＢ c\u200bd\n-é") == "abcde"


def test_echo_share_counts_only_what_the_seed_does_not_explain():
    prompt = ["改写规则：字面理解。规则说明：把比喻当成字面意思来理解。", "原问题：\n为什么天空是蓝色的？"]
    seed = ["为什么天空是蓝色的？", "因为瑞利散射。"]
    assert echo_share(["规则说明：把比喻当成字面意思来理解", "改写规则：字面理解"], prompt, seed) == 1.0
    assert echo_share(["为什么天空是蓝色的？", "因为瑞利散射。"], prompt, seed) == 0.0  # the seed restated
    share = echo_share(["为什么天空是蓝色的？", "天空并不是涂了颜料，而是空气把蓝光散射得更多。"], prompt, seed)
    assert share < ECHO_THRESHOLD
    assert echo_share([""], prompt, seed) == 0.0


def request() -> Request:
    return Request("openai", "m", [{"role": "user", "content": "问题"}], {"seed": 0})


def test_the_cache_refuses_an_entry_holding_the_key_and_removes_a_tampered_one(tmp_path):
    cache = ResponseCache(tmp_path)
    assert cache.put(request(), Response(f"【问题】甲\n【回答】{key_forms(KEY)['base64']}", "stop"), GUARD) is False
    assert not list(tmp_path.rglob("*.json")) and cache.stored == 0
    assert cache.put(request(), Response("【问题】甲\n【回答】乙", "stop"), GUARD) is True
    path = cache.path_for(request().key)
    for tamper in ({"extra": key_forms(KEY)["hex"]}, {"finish_reason": KEY.upper()}):
        entry = json.loads(path.read_text())
        path.write_text(json.dumps({**entry, "response": {**entry["response"], **tamper}}))
        assert cache.get(request(), GUARD) == Removed(request().key) and not path.exists()
        cache.put(request(), Response("【问题】甲\n【回答】乙", "stop"), GUARD)
    path.write_text("{broken " + key_forms(KEY)["zero_width"])
    assert cache.get(request(), GUARD) == Removed(request().key) and not path.exists()
    assert files_holding(tmp_path, KEY) == {}


def test_an_unknown_finish_reason_is_dropped():
    assert Response.of("文本", KEY) == Response("文本", None)
    assert Response.of(None, "length") == Response("", "length")


def test_the_file_search_finds_every_form_in_parquet_json_and_text(tmp_path):
    """The helper the stage tests rely on: each form is found, inside compressed parquet pages too."""
    import polars as pl

    from stages.lib.io import write_json, write_parquet

    for name, form in key_forms(KEY).items():
        write_parquet(pl.DataFrame({"metadata": [json.dumps({"finish_reason": form})]}), tmp_path / name / "r.parquet")
        write_json({"response": {"text": f"回答 {form}"}}, tmp_path / name / "entry.json")
        (tmp_path / name / "report.md").write_text(f"| {form} |", encoding="utf-8")
    found = files_holding(tmp_path, KEY)
    assert sorted(found) == sorted(f"{name}/{file}" for name in key_forms(KEY)
                                   for file in ("entry.json", "r.parquet", "report.md"))
