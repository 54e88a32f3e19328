"""Every params section a stage declares, found where the code is.

A section's model declares itself (`class DedupParams(Params, section="dedup")`, stages/lib/params.py).
`declared_sections()` reads the project's modules, imports each one whose source declares a section,
and returns the registry those imports filled: `stages.check`, tests/test_params_doc.py and
tests/test_dvc_deps.py all find the sections this way, never through a list of names.
"""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path

from stages.lib.params import SECTIONS, Params

PACKAGE = Path(__file__).resolve().parents[1]  # stages/


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def declares_a_section(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    if "section=" not in text:
        return False
    return any(isinstance(node, ast.ClassDef) and any(k.arg == "section" for k in node.keywords)
               for node in ast.walk(ast.parse(text)))


@functools.cache
def declared_sections() -> dict[str, type[Params]]:
    """section name -> its model, for every section declared under stages/ (in declaration order)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if declares_a_section(path):
            importlib.import_module(module_name(path))
    return {section: model for section, model in SECTIONS.items() if model.__module__.startswith("stages.")}
