"""Parsing a model's reply into a new question and answer."""

from __future__ import annotations

import pytest

from stages.llm.parse import parse_answer


@pytest.mark.parametrize("raw, instruction, output", [
    ("【问题】名字会发光吗？\n【回答】不会。", "名字会发光吗？", "不会。"),
    ("好的，改写如下：\n【问题】 月亮的名字是月亮吗？ \n【回答】\n名字和实物不同。\n第二段。", "月亮的名字是月亮吗？", "名字和实物不同。\n第二段。"),
    ('{"instruction": "问题甲", "output": "回答乙"}', "问题甲", "回答乙"),
    ('改写结果：\n```json\n{"instruction": "问题甲", "output": "回答乙"}\n```', "问题甲", "回答乙"),
    ("<think>先想一想【问题】草稿</think>【问题】真正的问题\n【回答】真正的回答", "真正的问题", "真正的回答"),
])
def test_accepted_forms(raw, instruction, output):
    parsed = parse_answer(raw)
    assert (parsed.status, parsed.instruction, parsed.output) == ("ok", instruction, output)


@pytest.mark.parametrize("raw, status, detail", [
    ("", "empty", "the model returned an empty answer"),
    ("   \n<think>只有思考</think>  ", "empty", "the model returned an empty answer"),
    ("【问题】\n【回答】有回答", "empty", "the rewritten question is empty"),
    ("【问题】有问题\n【回答】  ", "empty", "the rewritten answer is empty"),
    ("我觉得这个问题很有意思。", "unparseable", "no 【问题】/【回答】 markers, JSON object or Question:/Answer: lines in: '我觉得这个问题很有意思。'"),
    ("【回答】先回答【问题】后问题", "unparseable", "no 【问题】/【回答】 markers"),
    ('{"question": "q", "answer": "a"}', "unparseable", "no 【问题】/【回答】 markers"),
])
def test_rejected_forms(raw, status, detail):
    parsed = parse_answer(raw)
    assert parsed.status == status and parsed.detail.startswith(detail)


@pytest.mark.parametrize("raw, instruction, output", [
    ("Question: What is 2 plus 2?\nAnswer: 4", "What is 2 plus 2?", "4"),
    ("Question: What is 2 plus 2?\nIt is 4.\nReally.", "What is 2 plus 2?", "It is 4.\nReally."),
    ("Question: **Why?**\n\n**Answer:** Because.", "**Why?**", "Because."),
    ("Question: How many meters in 2 km?\nAnswer: 2000\n\nQuestion: again?\nAnswer: again", "How many meters in 2 km?",
     "2000"),
])
def test_english_question_answer_lines_parse(raw, instruction, output):
    parsed = parse_answer(raw)
    assert (parsed.status, parsed.instruction, parsed.output) == ("ok", instruction, output)


def test_english_question_without_answer_is_empty():
    assert parse_answer("Question: Only a question?").detail == "the rewritten answer is empty"
