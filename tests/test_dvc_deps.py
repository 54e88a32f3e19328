"""dvc.yaml stays honest: every stage depends on all project code its command imports and on every params
section that code reads, so editing that code or those params re-runs the stage."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from stages.check.sections import declared_sections
from tests.project import project

ROOT = Path(__file__).resolve().parents[1]
SECTION_CALL = re.compile(r"""load_section\(\s*["']([a-z_]+)["']""")
MODEL_CALL = re.compile(r"""load_section\(\s*([A-Z][A-Za-z0-9_]*)""")
SECTION_INDEX = re.compile(r"""params\[\s*["']([a-z_]+)["']\s*\]""")


def module_file(name: str) -> Path | None:
    """The file of a `stages...` module (a package's __init__.py), or None outside the project."""
    if not name.startswith("stages"):
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


# A source kind's `load`, `read_files` and `read_file` run only in the scrape stage (stages/ingest/base.py; checked by
# test_only_the_scrape_stage_loads_a_source): a kind imports its parser and heavy packages inside them, and those
# imports belong to the closures that hold their caller, not to the later stages that read the kinds' params.
LOADING_METHODS = {"load", "read_files", "read_file"}
LOADER_CALLER = "stages/ingest/scrape.py"


def source_module(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return rel == "stages/ingest/base.py" or rel.startswith("stages/ingest/kinds/")


def nodes(tree: ast.AST, loading: bool, in_source: bool):
    """Every node of the tree; without `loading`, not the bodies of a source kind's loading methods."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if (not loading and in_source and isinstance(node, ast.ClassDef) and isinstance(child, ast.FunctionDef)
                    and child.name in LOADING_METHODS):
                continue
            todo.append(child)


def discovered_modules(path: Path, text: str) -> set[str]:
    """A package whose __init__ imports its modules by listing its folder (`pkgutil.iter_modules(__path__)`,
    stages/ingest/kinds/) imports every module there."""
    if path.name != "__init__.py" or "pkgutil.iter_modules(__path__)" not in text:
        return set()
    package = ".".join(path.parent.relative_to(ROOT).parts)
    return {f"{package}.{child.stem}" for child in path.parent.glob("*.py") if child.name != "__init__.py"}


def imported_modules(path: Path, loading: bool = True) -> set[str]:
    """Every `stages...` module a file imports, at the top or inside functions (lazy imports count too)."""
    text = path.read_text(encoding="utf-8")
    names: set[str] = discovered_modules(path, text)
    for node in nodes(ast.parse(text), loading, source_module(path)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name.startswith("stages")}


def closure(module: str, loading: bool) -> set[Path]:
    """`module`'s files, recursively (`python -m` of a package runs its __main__, so that counts too)."""
    seen: set[Path] = set()
    todo = [module]
    main = module_file(f"{module}.__main__")
    if main is not None and main.name == "__main__.py":
        todo.append(f"{module}.__main__")
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
            path = module_file(".".join(parts[:depth]))
            if path is not None and path not in seen:
                seen.add(path)
                todo += sorted(imported_modules(path, loading))
    return seen


def import_closure(module: str) -> set[Path]:
    """The project files a module needs: itself, what it imports, recursively, and their packages' __init__;
    the source kinds' loading code only where the closure holds its caller."""
    files = closure(module, loading=False)
    return closure(module, loading=True) if ROOT / LOADER_CALLER in files else files


def sections_read(files: set[Path]) -> set[str]:
    """Sections the files read: `load_section(Model, ...)` (the section `Model` declares) and
    `load_section("sources", ...)` (a section without a model)."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in files)
    by_model = {model.__name__: section for section, model in declared_sections().items()}
    named = {by_model[name] for name in MODEL_CALL.findall(text) if name in by_model}
    return named | set(SECTION_CALL.findall(text)) | set(SECTION_INDEX.findall(text))


def stages() -> dict[str, dict]:
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: body.get("do", body) for name, body in spec.items()}


def has_code(path: Path) -> bool:
    """False for a file of nothing but a docstring (an empty package __init__): it cannot change an output."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


def covered(path: Path, deps: list[str]) -> bool:
    if not has_code(path):
        return True
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == dep or rel.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("stage", sorted(stages()))
def test_deps_cover_the_import_closure_and_params_sections(stage):
    body = stages()[stage]
    module = re.search(r"python -m (stages\.[a-z_.]+)", body["cmd"]).group(1)
    deps = [d for d in body.get("deps", []) if "${" not in d]
    files = import_closure(module) | import_closure(f"{module}.__main__")  # a package stage runs its __main__
    missing = sorted(p.relative_to(ROOT).as_posix() for p in files if not covered(p, deps))
    assert not missing, f"{stage}: dvc.yaml deps miss files its command imports: {missing}"
    listed = {p.split(".")[0] for p in body.get("params", []) if isinstance(p, str)}
    unlisted = sorted(sections_read(files) - listed)
    assert not unlisted, f"{stage}: dvc.yaml params miss sections its code reads: {unlisted}"


def test_the_closure_follows_lazy_imports():
    files = {p.relative_to(ROOT).as_posix() for p in import_closure("stages.scrape")}
    assert {"stages/scrape.py", "stages/ingest/http_source.py", "stages/lib/contract.py"} <= files


def module_names(tree: ast.AST) -> set[str]:
    """Names a file binds to modules (`import json`, `import numpy as np`)."""
    return {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
            for alias in node.names}


def test_only_the_scrape_stage_loads_a_source():
    """The rule the closures rely on: a kind's `load` is called by stages/ingest/scrape.py alone, `read_files` and
    `read_file` by `FileSource.load` and `read_files` (stages/ingest/base.py) alone."""
    callers = set()
    for path in project_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = module_names(tree)
        for node in ast.walk(tree):
            called = node.func if isinstance(node, ast.Call) else None
            if (isinstance(called, ast.Attribute) and called.attr in LOADING_METHODS
                    and not (isinstance(called.value, ast.Name) and called.value.id in modules)):
                callers.add((path.relative_to(ROOT).as_posix(), node.func.attr))
    base = "stages/ingest/base.py"
    assert callers == {(LOADER_CALLER, "load"), (base, "read_files"), (base, "read_file")}


@pytest.mark.parametrize("module", ["stages.clean", "stages.normalize", "stages.validate", "stages.rewrite",
                                    "stages.assemble"])
def test_the_later_stages_read_the_kinds_but_not_their_parsers(module):
    """Editing a kind's parser (or the crawler) re-runs its scrape stages only; the later stages need the kinds'
    params and subsets."""
    files = {p.relative_to(ROOT).as_posix() for p in import_closure(module)}
    assert {"stages/ingest/sources.py", "stages/ingest/kinds/cqia_jsonl.py", "stages/ingest/kinds/http.py"} <= files
    assert not files & {"stages/ingest/cqia.py", "stages/ingest/ruozhiba.py", "stages/ingest/mmlu.py",
                        "stages/ingest/http_source.py", "stages/ingest/crawl.py"}


def test_assemble_depends_on_every_upstream_output_and_metrics_its_manifest_and_card_name():
    """manifest.json and the dataset card are built from upstream hashes and counts that dvc.lock names;
    each must be a dependency of assemble, or a changed one leaves data/sft stale (and a fresh clone's
    run would write a different manifest)."""
    from stages.sft.card import upstream_entries, upstream_outputs

    lock = project() / "dvc.lock"
    deps = [d for d in stages()["assemble"]["deps"] if "${" not in d]
    named = set(upstream_outputs(lock))
    named |= {out["path"] for entry in upstream_entries(lock).values() for out in entry.get("outs", [])
              if out["path"].startswith("metrics/")}
    assert named, "dvc.lock names no upstream outputs"
    missing = sorted(path for path in named if not any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps))
    assert not missing, f"assemble: dvc.yaml deps miss upstream outputs its manifest or card name: {missing}"


def project_files() -> list[Path]:
    return sorted((ROOT / "stages").rglob("*.py"))


@pytest.mark.parametrize("path", project_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_imports_and_section_reads_are_ones_the_checks_above_can_see(path):
    """The closure follows absolute imports and the section check reads literal `load_section("x", ...)`
    calls: a relative import, a computed section name or a raw `load_params(...)[...]` would hide from them."""
    rel = path.relative_to(ROOT).as_posix()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{rel}:{node.lineno}: relative import (use stages....)"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "load_section":
            first = node.args[0] if node.args else None
            literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
            model = isinstance(first, ast.Name) and any(m.__name__ == first.id for m in declared_sections().values())
            assert literal or model, f"{rel}:{node.lineno}: load_section with a computed section or an undeclared model"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "load_params":
            assert rel in RAW_PARAMS_READERS, f"{rel}:{node.lineno}: reads params.yaml around load_section"


# files that read the whole params file on purpose: the loader itself, `check` (every section) and `exp`
RAW_PARAMS_READERS = {"stages/lib/params.py", "stages/check/params_file.py", "stages/check/experiment.py"}


def test_dvc_yaml_passes_dvcs_own_schema():
    """dvc.yaml as DVC itself validates it before `dvc repro` (a metrics entry left without its options,
    `- metrics/x.json:` with nothing under it, is the shape that once stopped every DVC command)."""
    from dvc.schema import COMPILED_MULTI_STAGE_SCHEMA

    document = yaml.safe_load((project() / "dvc.yaml").read_text(encoding="utf-8"))
    COMPILED_MULTI_STAGE_SCHEMA(document)
    broken = yaml.safe_load("stages:\n  s:\n    cmd: x\n    metrics:\n      - m.json:\n")
    with pytest.raises(Exception, match="expected a dictionary"):
        COMPILED_MULTI_STAGE_SCHEMA(broken)
