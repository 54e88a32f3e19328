"""The rule catalog: every rule of the file loaded with every field (self_answer is answer_only), validation
messages, prompts built from it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from stages.llm.prompts import EMPTY_OUTPUT, build_messages, prompt_sha256
from stages.llm.rules import PLACEHOLDERS, load_catalog, parse_catalog, template_fields

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "schemas" / "rules.yaml"


def raw_catalog() -> dict:
    return yaml.safe_load(CATALOG.read_text(encoding="utf-8"))


def test_catalog_loads_every_rule_of_the_file_complete_with_chinese_templates():
    catalog = load_catalog(CATALOG)
    assert list(catalog.rules) == [rule["name"] for rule in raw_catalog()["rules"]] and catalog.rules
    assert {"counterintuitive_thinking", "blurring_boundaries"} <= set(catalog.rules)
    for rule in catalog.rules.values():
        assert rule.title_zh and rule.title_en and rule.definition and rule.definition_en
        assert rule.question and rule.answer
        assert template_fields(rule.user_template) <= PLACEHOLDERS
        if rule.answer_only:
            continue
        assert any("\u4e00" <= ch <= "\u9fff" for ch in rule.user_template)
        assert "{answer_format}" in rule.user_template
    assert [name for name, rule in catalog.rules.items() if rule.answer_only] == ["self_answer"]


@pytest.mark.parametrize("instruction, output", [
    ("What is the capital of Lithuania?\nA. Riga\nB. Vilnius", "B. Vilnius"), ("为什么天空是蓝色的？", "因为瑞利散射。")])
def test_an_answer_only_rule_asks_the_question_as_it_is_in_any_language(instruction, output):
    catalog = load_catalog(CATALOG)
    assert build_messages(catalog, catalog.rules["self_answer"], instruction, "", output) == [
        {"role": "user", "content": instruction}]  # no system turn, no rewriting format, no English template
    raw = copy.deepcopy(raw_catalog())
    raw["rules"][-1]["templates"]["system"] = "Answer briefly."
    with_system = parse_catalog(raw, "rules.yaml")
    assert build_messages(with_system, with_system.rules["self_answer"], instruction, "", output)[0] == {
        "role": "system", "content": "Answer briefly."}
    raw["rules"][-1]["answer_only"] = "yes"
    with pytest.raises(ValueError, match=r"^rules.yaml.rules\[8\].answer_only: must be true or false, got 'yes'$"):
        parse_catalog(raw, "rules.yaml")


def test_resolve_none_and_unknown_rule_lists_the_known_ones():
    catalog = load_catalog(CATALOG)
    assert catalog.resolve("none") is None
    assert catalog.resolve("blurring_boundaries").title_en == "Blurring the Conceptual Boundaries"
    with pytest.raises(ValueError, match=r"unknown rule 'blurry'; known rules: none, counterintuitive_thinking, "
                                         r"blurring_boundaries, .*perspective_shift"):
        catalog.resolve("blurry")


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["rules"][0]["templates"].update(user="{question} {answr}"),
     r"rules\[0\].templates.user: unknown placeholder\(s\) answr"),
    (lambda r: r["rules"][1].update(name=r["rules"][0]["name"]), r"rules\[1\].name: duplicate rule name"),
    (lambda r: r["rules"][0].update(name="none"), r"rules\[0\].name: must match .* not be 'none'"),
    (lambda r: r["rules"][0].pop("definition"), r"rules\[0\]: missing required key\(s\) definition"),
    (lambda r: r["rules"][0]["templates"].update(user="只有规则 {title_zh}"),
     r"must contain \{question\} or \{instruction\}"),
    (lambda r: r["rules"][0]["templates"].update(user="{question!r}"), r"must be a bare name"),
])
def test_catalog_validation_names_the_rule_and_field(mutate, message):
    raw = copy.deepcopy(raw_catalog())
    mutate(raw)
    with pytest.raises(ValueError, match=message):
        parse_catalog(raw, "rules.yaml")


def test_prompt_folds_input_into_the_question_and_marks_an_empty_output():
    catalog = load_catalog(CATALOG)
    rule = catalog.rules["false_premise"]
    messages = build_messages(catalog, rule, "下列哪种气体最多？", "A. 氧气 B. 氮气", "")
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "下列哪种气体最多？\nA. 氧气 B. 氮气" in user and EMPTY_OUTPUT in user
    assert "错误前提" in user and "【问题】" in user and "{" not in user
    again = build_messages(catalog, rule, "下列哪种气体最多？", "A. 氧气 B. 氮气", "")
    assert prompt_sha256(messages) == prompt_sha256(again)
    assert prompt_sha256(messages) != prompt_sha256(build_messages(catalog, rule, "另一个问题", "", ""))


def test_an_english_seed_gets_the_english_templates_and_a_prefill():
    from stages.llm.prompts import prefill_of, render_prompt

    catalog = load_catalog(CATALOG)
    rule = catalog.rules["counterintuitive_thinking"]
    messages = build_messages(catalog, rule, "What is 7 times 8?\nA. 54\nB. 56\nC. 48\nD. 64", "", "B. 56")
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert "Rewriting rule: Counterintuitive Thinking. " + rule.definition_en in messages[1]["content"]
    assert "What is 7 times 8?" in messages[1]["content"] and prefill_of(messages) == "Question:"

    class NoTemplate:
        chat_template = None

    assert render_prompt(NoTemplate(), messages).endswith("Answer: <the answer to the new question>\n\nQuestion:")
    chinese = build_messages(catalog, rule, "为什么天空是蓝色的？", "", "因为散射。")
    assert [m["role"] for m in chinese] == ["system", "user"] and prefill_of(chinese) == ""
