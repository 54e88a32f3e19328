"""docs/params.md documents every key of every section model, so the reference cannot fall behind."""

from pathlib import Path

import pytest

from stages.checking.params_file import SECTION_MODELS, section_model

DOC = (Path(__file__).resolve().parents[1] / "docs" / "params.md").read_text(encoding="utf-8")


def section_text(section: str) -> str:
    start = DOC.index(f"## `{section}`")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end > 0 else None]


@pytest.mark.parametrize("section", sorted(SECTION_MODELS))
def test_every_key_of_the_section_is_documented(section):
    text = section_text(section)
    missing = [name for name, field in section_model(section).model_fields.items()
               if f"`{field.alias or name}" not in text and f"`{section}.{field.alias or name}" not in text
               and f", `{field.alias or name}`" not in text]
    assert not missing, f"docs/params.md section `{section}` does not document {missing}"
