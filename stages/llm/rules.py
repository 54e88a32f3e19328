"""The rewrite rule catalog: `schemas/rules.yaml`, validated at load.

A catalog holds a shared `system` template, a shared `answer_format` text and a
list of rules. Every rule needs a machine name, Chinese and English titles, a
definition, what it does to the question and to the answer, and a Chinese
`templates.user` (optional `templates.system`), and optionally `answer_only: true`: the model
answers the seed's question as its user turn asks it (no system turn unless `templates.system` gives
one, no English template, no reply format), and the rewrite keeps the seed's question with the
model's reply as its answer. An optional `english` section
holds one English system/user template and an assistant `prefill` for seeds
without Chinese text (MMLU-layout questions for a small English model). Templates may use only the
placeholders in `PLACEHOLDERS`; an unknown placeholder, a duplicate name or a
missing field stops the stage with a ValueError that names the rule and field.
`none` is reserved: it means "no rewriting" and is not a rule.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.lib.params import did_you_mean, read_yaml, require_keys

NONE = "none"
PLACEHOLDERS = frozenset({
    "question", "instruction", "input", "output",
    "title_zh", "definition", "rule_question", "rule_answer", "answer_format", "title_en", "definition_en",
})
RULE_FIELDS = {"name", "title_zh", "title_en", "definition", "definition_en", "question", "answer", "templates"}
OPTIONAL_RULE_FIELDS = {"answer_only"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Rule:
    name: str
    title_zh: str
    title_en: str
    definition: str
    definition_en: str
    question: str
    answer: str
    system_template: str  # "" = no system turn (an answer_only rule without templates.system)
    user_template: str
    answer_only: bool = False  # the model answers the seed's question; the rewrite keeps the question


@dataclass(frozen=True)
class English:
    """Optional `english` section: one system and user template for seeds without Chinese text
    (e.g. MMLU questions), and `prefill`, the start of the assistant turn that the model continues."""

    system: str
    user: str
    prefill: str


@dataclass(frozen=True)
class Catalog:
    path: str
    answer_format: str
    rules: dict[str, Rule]
    english: English | None = None

    def names(self) -> list[str]:
        return list(self.rules)

    def resolve(self, name: Any, where: str = "params.yaml: rule") -> Rule | None:
        """The rule called `name`; None for `none`; ValueError listing the known rules otherwise (`where`
        names the params file and key)."""
        if not isinstance(name, str):
            raise ValueError(f"{where}: must be a rule name (a string), got {name!r}")
        if name == NONE:
            return None
        if name not in self.rules:
            known = ", ".join([NONE, *self.rules])
            hint = did_you_mean(name, self.rules)
            raise ValueError(f"{where}: unknown rule {name!r}{hint}; known rules: {known} (catalog {self.path})")
        return self.rules[name]


@dataclass(frozen=True)
class RuleChoice:
    """`params.yaml: rule` resolved once against the catalog: `rule` is the catalog's Rule, or None for
    `none` (no rewriting). Everything after loading asks `choice.rule is None`, never the name."""

    catalog: Catalog
    rule: Rule | None

    @property
    def name(self) -> str:
        return NONE if self.rule is None else self.rule.name


def choose_rule(catalog_path: str | Path, value: Any, where: str = "params.yaml: rule") -> RuleChoice:
    """The value of `params.yaml: rule` checked against the catalog at `catalog_path` (one line naming the
    params file and the known rules when it is not one of them)."""
    catalog = load_catalog(catalog_path)
    return RuleChoice(catalog, catalog.resolve(value, where))


def template_fields(template: str) -> set[str]:
    """Placeholder names used in a str.format template; ValueError on a malformed template."""
    fields = set()
    for _, field_name, spec, conversion in string.Formatter().parse(template):
        if field_name is None:
            continue
        if not field_name or spec or conversion or not field_name.isidentifier():
            raise ValueError(f"placeholder {{{field_name}}} must be a bare name such as {{question}}")
        fields.add(field_name)
    return fields


def _text(where: str, raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}.{key}: must be a non-empty string")
    return value


def _check_template(where: str, template: str, need_question: bool) -> None:
    try:
        fields = template_fields(template)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    unknown = sorted(fields - PLACEHOLDERS)
    if unknown:
        raise ValueError(f"{where}: unknown placeholder(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(PLACEHOLDERS))}")
    if need_question and not fields & {"question", "instruction"}:
        raise ValueError(f"{where}: must contain {{question}} or {{instruction}}")


def parse_rule(where: str, raw: Any, default_system: str) -> Rule:
    require_keys(where, raw, RULE_FIELDS | OPTIONAL_RULE_FIELDS, RULE_FIELDS)
    answer_only = raw.get("answer_only", False)
    if not isinstance(answer_only, bool):
        raise ValueError(f"{where}.answer_only: must be true or false, got {answer_only!r}")
    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name) or name == NONE:
        raise ValueError(f"{where}.name: must match [a-z][a-z0-9_]* and not be '{NONE}', got {name!r}")
    templates = raw["templates"]
    require_keys(f"{where}.templates", templates, {"system", "user"}, {"user"})
    user = _text(f"{where}.templates", templates, "user")
    system = (_text(f"{where}.templates", templates, "system") if "system" in templates
              else "" if answer_only else default_system)
    _check_template(f"{where}.templates.user", user, need_question=True)
    if system:
        _check_template(f"{where}.templates.system", system, need_question=False)
    texts = {key: _text(where, raw, key) for key in
             ("title_zh", "title_en", "definition", "definition_en", "question", "answer")}
    return Rule(name=name, system_template=system, user_template=user, answer_only=answer_only, **texts)


def parse_english(where: str, raw: Any) -> English:
    require_keys(where, raw, {"system", "user", "prefill"}, {"system", "user", "prefill"})
    english = English(**{key: _text(where, raw, key) for key in ("system", "user", "prefill")})
    _check_template(f"{where}.system", english.system, need_question=False)
    _check_template(f"{where}.user", english.user, need_question=True)
    return english


def parse_catalog(raw: Any, path: str) -> Catalog:
    keys = {"version", "system", "answer_format", "rules"}
    require_keys(path, raw, keys | {"english"}, keys)
    if raw["version"] != 1:
        raise ValueError(f"{path}.version: this code reads version 1, got {raw['version']!r}")
    system = _text(path, raw, "system")
    _check_template(f"{path}.system", system, need_question=False)
    answer_format = _text(path, raw, "answer_format")
    if not isinstance(raw["rules"], list) or not raw["rules"]:
        raise ValueError(f"{path}.rules: must be a non-empty list")
    rules: dict[str, Rule] = {}
    for index, item in enumerate(raw["rules"]):
        rule = parse_rule(f"{path}.rules[{index}]", item, system)
        if rule.name in rules:
            raise ValueError(f"{path}.rules[{index}].name: duplicate rule name {rule.name!r}")
        rules[rule.name] = rule
    english = parse_english(f"{path}.english", raw["english"]) if raw.get("english") is not None else None
    return Catalog(path=path, answer_format=answer_format, rules=rules, english=english)


def load_catalog(path: str | Path) -> Catalog:
    return parse_catalog(read_yaml(path, "rule catalog"), Path(path).as_posix())
