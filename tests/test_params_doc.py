"""docs/params.md documents every key of every section model, nested ones too, so the reference cannot
fall behind the code."""

import re
import typing
from pathlib import Path

import pytest

from stages.check.sections import declared_sections
from stages.ingest.sources import SOURCE_KINDS
from stages.lib.params import Params

DOC = (Path(__file__).resolve().parents[1] / "docs" / "params.md").read_text(encoding="utf-8")


def section_text(section: str) -> str:
    start = DOC.index(f"## `{section}`")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end > 0 else None]


def nested_models(annotation) -> list[type[Params]]:
    if isinstance(annotation, type) and issubclass(annotation, Params):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in nested_models(arg)]


def keys(model: type[Params], prefix: str = "") -> list[str]:
    """Every key of the model, nested ones as `parent.child`."""
    found = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        found.append(key)
        for inner in nested_models(field.annotation):
            found += keys(inner, f"{key}.")
    return found


def undocumented(model: type[Params], text: str) -> list[str]:
    # a key is documented as `key`, as `parent.key`, or as `key` in a list after its parent's first key
    # (a block such as `langid` is documented through its keys: `langid.han_share_chinese`)
    return [key for key in keys(model)
            if not re.search(r"[`.]" + re.escape(key.rsplit(".", 1)[-1]) + r"(`|\.[a-z_<])", text)]


@pytest.mark.parametrize("section", sorted(declared_sections()))
def test_every_key_of_the_section_is_documented(section):
    missing = undocumented(declared_sections()[section], section_text(section))
    assert not missing, f"docs/params.md section `{section}` does not document {missing}"


@pytest.mark.parametrize("kind", sorted(SOURCE_KINDS))
def test_every_key_of_every_source_kind_is_documented(kind):
    missing = undocumented(SOURCE_KINDS[kind], section_text("sources"))
    assert not missing, f"docs/params.md section `sources` does not document {missing} (kind {kind})"
