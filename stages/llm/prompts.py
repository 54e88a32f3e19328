"""Chat messages for one seed record under one rule, and their stable hashes.

Messages are plain `[{"role": "system", ...}, {"role": "user", ...}]` lists, the
shape both backends send. `canonical_json` is the one serialisation used for
hashing (sorted keys, no whitespace, UTF-8), so a prompt's hash does not depend
on dict order or on the Python version.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stages.llm.rules import Catalog, Rule

Messages = list[dict[str, str]]
EMPTY_OUTPUT = "（原回答为空）"


def canonical_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256_of(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def question_text(instruction: str, input_text: str) -> str:
    """The instruction, plus the input on its own line when there is one."""
    instruction, input_text = (instruction or "").strip(), (input_text or "").strip()
    return f"{instruction}\n{input_text}" if input_text else instruction


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text or "")


def build_messages(catalog: Catalog, rule: Rule, instruction: str, input_text: str, output: str) -> Messages:
    """System + user turn from the rule's templates; for a seed without Chinese text and a catalog with an
    `english` section, the English templates plus an assistant turn holding the prefill to continue; for an
    `answer_only` rule, its templates for every seed (the system turn only when it has one)."""
    values = {
        "question": question_text(instruction, input_text),
        "instruction": (instruction or "").strip(),
        "input": (input_text or "").strip(),
        "output": (output or "").strip() or EMPTY_OUTPUT,
        "title_zh": rule.title_zh,
        "definition": rule.definition,
        "rule_question": rule.question,
        "rule_answer": rule.answer,
        "answer_format": catalog.answer_format,
        "title_en": rule.title_en,
        "definition_en": rule.definition_en,
    }
    if rule.answer_only:  # the seed's question asked as it is, in any language
        system = [{"role": "system", "content": rule.system_template.format_map(values).strip()}]
        return [*(system if rule.system_template else []),
                {"role": "user", "content": rule.user_template.format_map(values).strip()}]
    english = catalog.english
    if english is not None and not has_chinese(values["question"] + values["output"]):
        return [
            {"role": "system", "content": english.system.format_map(values).strip()},
            {"role": "user", "content": english.user.format_map(values).strip()},
            {"role": "assistant", "content": english.prefill},
        ]
    return [
        {"role": "system", "content": rule.system_template.format_map(values).strip()},
        {"role": "user", "content": rule.user_template.format_map(values).strip()},
    ]


def prompt_sha256(messages: Messages) -> str:
    return sha256_of(messages)


def prefill_of(messages: Messages) -> str:
    """The assistant turn a prompt ends with (the start of the answer the model continues), else ''."""
    return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""


def render_prompt(tokenizer: Any, messages: Messages) -> str:
    """The text a local model sees before its answer: the chat template with the generation prompt,
    or the contents joined by blank lines for a tokenizer without a template. A final assistant turn
    (a prefill) is left open for the model to continue."""
    prefill = prefill_of(messages)
    turns = messages[:-1] if prefill else messages
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False) + prefill
    return "\n\n".join(message["content"] for message in turns) + "\n\n" + prefill
