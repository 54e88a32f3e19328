"""Derived columns: what each one counts, on hand-written Chinese texts (polars only, no GX)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from stages.validate.derived import (DERIVED, MESSAGES, STRING_LIST, TASK_TYPE, ZH_RECORD_SHARE, add_derived,
                                      record_languages)
from stages.validate.tradchars import build_traditional_chars, traditional_chars


def derive(name: str, **columns) -> list:
    """Compute one derived column on a frame of the given columns (text columns default to '')."""
    n = len(next(iter(columns.values())))
    base = {c: [""] * n for c in ("instruction", "input", "output")}
    frame = pl.DataFrame({**base, **columns})
    out, skipped = add_derived(frame, {name})
    assert not skipped
    return out[name].to_list()


def outputs(name: str, texts: list[str]) -> list:
    return derive(name, output=texts)


def test_phone_numbers_mobile_spaced_dashed_with_country_code_and_landline_but_not_other_digit_runs():
    assert outputs("pii_phone", [
        "电话13812345678", "请拨 138 1234 5678", "138-1234-5678 或 010-62751234", "+86 171 2345 6789",
        "微信同号+8615900001111", "座机 0755-8765432", "订单号 2138123456789", "12345678901", "共 1,380 元",
        "卡号 6222021234567894",
    ]) == [1, 1, 2, 1, 1, 1, 0, 0, 0, 0]


def test_emails_outside_code_only():
    assert outputs("pii_email", [
        "写信到 li.si+qa@mail.example.cn 即可", "在微博@某人", "a@b",
        "示例：\n```python\nsend(\"dev.li@example.com\")\n```\n完", "配置 `admin@example.org` 即可",
    ]) == [1, 0, 0, 0, 0]


def test_id_numbers_need_a_valid_check_character():
    assert outputs("pii_id_card", [
        "身份证 11010819950612002X。", "440106198704235513", "证件号 11010819950612002x，另一个330102199912318886",
        "订单号 440106198704235514（校验位不对）", "110105199013071234", "编号 1101081995061200201", "无",
    ]) == [1, 1, 2, 0, 0, 0, 0]


def test_pii_is_found_in_instruction_and_input_too():
    assert derive("pii_phone", instruction=["我的手机是13912345678"], input=[""], output=["好的"]) == [1]
    assert derive("pii_email", instruction=["问"], input=["邮箱 a.b@c.com"], output=["答"]) == [1]


def test_html_tags_outside_code_only():
    assert outputs("html_tags", [
        "<p>长城</p>",
        "换行用<br/>，注释<!-- x -->",
        "示例：\n```html\n<div class=\"a\">hi</div>\n```\n完毕",
        "用 `<span>` 包裹文字",
        "Java 里的 List<String> 和 a < b > c",
    ]) == [2, 2, 0, 0, 0]


def test_zh_share_counts_han_against_latin_letters_without_code():
    shares = outputs("zh_share", ["中文", "abc", "", "中文ab", "解释：\n```js\nconsole.log(value)\n```", "１２３，。"])
    assert shares == [1.0, 0.0, 0.0, 0.5, 1.0, 0.0]


def test_record_languages_use_the_zh_share_measure_at_the_suites_default_bound():
    texts = ["中文回答", "Which of the following is a prime number?\nA. 4\nB. 6\nC. 7\nD. 9",
             "CSS 怎么让一个 div 在页面里水平垂直居中？", "解释：\n```js\nconsole.log(value)\n```",
             "1 + 1 = 2", "", "中" + "a" * 4, "中" + "a" * 5]
    frame = pl.DataFrame({"instruction": texts, "input": [""] * len(texts), "output": [None] * len(texts)})
    assert record_languages(frame).to_list() == ["zh", "en", "zh", "zh", None, None, "zh", "en"]
    assert add_derived(frame, {"zh_share"})[0]["zh_share"].to_list()[6:] == [0.2, 1 / 6]  # the same measure


@pytest.mark.parametrize("suite", ["records", "rewrites", "sft"])
def test_the_record_language_bound_is_the_suites_default_min_zh_share(suite):
    path = Path(__file__).resolve().parents[2] / "schemas" / "expectations" / f"{suite}.json"
    assert json.loads(path.read_text(encoding="utf-8"))["parameter_defaults"]["min_zh_share"] == ZH_RECORD_SHARE


def test_trad_chars_counts_traditional_only_characters():
    assert outputs("trad_chars", ["這裡說話", "这里说话", "宫商角徵羽", "著名的乾隆"]) == [4, 0, 1, 1]


def test_traditional_set_file_matches_opencc():
    chars = traditional_chars()
    assert chars == build_traditional_chars()
    assert {"這", "說", "徵"} <= set(chars) and not {"这", "说", "著", "苧"} & set(chars)


def test_list_columns_are_well_typed_only_as_lists_of_strings_without_nulls():
    frame = pl.DataFrame({"domain": [["通用"], [], ["通用", None], None]}, schema={"domain": STRING_LIST})
    assert add_derived(frame, {"domain_ok"})[0]["domain_ok"].to_list() == [True, True, False, False]
    as_text = pl.DataFrame({"domain": ["通用"]})
    assert add_derived(as_text, {"domain_ok"})[0]["domain_ok"].to_list() == [False]
    tasks = pl.DataFrame({"task_type": [{"major": ["问答"], "minor": []}, {"major": None, "minor": []},
                                        {"major": ["问答"], "minor": [None]}, None]}, schema={"task_type": TASK_TYPE})
    assert add_derived(tasks, {"task_type_ok"})[0]["task_type_ok"].to_list() == [True, False, False, False]


def turns(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in pairs]


def test_messages_roles_alternate_and_turns_are_not_empty():
    frame = pl.DataFrame({"messages": [
        turns(("user", "你好"), ("assistant", "你好！")),
        turns(("system", "你是助手"), ("user", "问"), ("assistant", "答"), ("user", "再问"), ("assistant", "再答")),
        turns(("user", "问"), ("user", "问"), ("assistant", "答")),
        turns(("user", "问")),
        turns(("assistant", "答"), ("user", "问")),
        turns(("user", "问"), ("assistant", " \n")),
        [],
        None,
    ]}, schema={"messages": MESSAGES})
    out, _ = add_derived(frame, {"messages_roles_ok", "messages_empty_turns"})
    assert out["messages_roles_ok"].to_list() == [True, True, False, False, False, True, False, False]
    assert out["messages_empty_turns"].to_list() == [0, 0, 0, 0, 0, 1, 0, None]


def test_split_leak_flags_both_sides_of_an_instruction_in_train_and_eval():
    frame = pl.DataFrame({"instruction": ["什么是光合作用？", "什么是光合作用？ ", "长城有多长？", "长城有多长？"],
                          "split": ["train", "eval", "train", "train"]})
    out, _ = add_derived(frame, {"split_leak", "is_eval"})
    assert out["split_leak"].to_list() == [True, True, False, False]
    assert out["is_eval"].to_list() == [0, 1, 0, 0]


def test_add_derived_skips_columns_without_inputs_and_refuses_name_clashes():
    frame = pl.DataFrame({"instruction": ["问"]})
    out, skipped = add_derived(frame, {"instruction_len", "output_len"})
    assert out["instruction_len"].to_list() == [1]
    assert skipped == {"output_len": "derived column output_len not computed: input column(s) output missing"}
    with pytest.raises(ValueError, match="clash with derived column names"):
        add_derived(pl.DataFrame({"zh_share": [1.0]}), {"zh_share"})


def test_every_derived_column_is_documented_in_the_module_table():
    import stages.validate.derived as module

    for name in DERIVED:
        assert f"| `{name}`" in module.__doc__, name
