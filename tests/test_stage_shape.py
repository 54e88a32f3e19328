"""Every stage command has one shape (stages/lib/cli.py): thin, the same flags, an example that is the
command DVC runs, `run` only where a second subcommand exists, and no stage imports another.

A stage command is a module `stages/<stage>.py`, or `stages/<stage>/__main__.py` for a stage whose code
is its own package (`python -m stages.<stage>`)."""

from __future__ import annotations

import ast
import importlib
import re
import shlex
from pathlib import Path

import click
import click.testing
import pytest
import yaml

from stages.lib.cli import example_commands
from tests.test_dvc_deps import imported_modules, stages
from tests.project import project

ROOT = Path(__file__).resolve().parents[1]
# a stage is a module stages/<stage>.py, or a package whose command is stages/<stage>/__main__.py
STAGE_FILES = sorted([p for p in (ROOT / "stages").glob("*.py") if p.name != "__init__.py"]
                     + list((ROOT / "stages").glob("*/__main__.py")))


def stage_name(path: Path) -> str:
    return path.parent.name if path.name == "__main__.py" else path.stem


def command_module(stage: str) -> str:
    """The module that holds a stage's command: `stages.<stage>`, or its package's `__main__`."""
    package = (ROOT / "stages" / stage / "__main__.py").is_file()
    return f"stages.{stage}.__main__" if package else f"stages.{stage}"


STAGE_MODULES = {stage_name(p) for p in STAGE_FILES}
# flags that meant the same thing under other names before (issue 15): one vocabulary now
RETIRED_FLAGS = {"--input", "--records", "--raw", "--data", "--base", "--plots", "--model", "--quality-model"}
CONTRACT_STAGES = {"scrape", "clean", "train_quality", "normalize", "dedup", "validate", "rewrite", "familiarity",
                   "judge", "review", "assemble"}


def params() -> dict:
    return yaml.safe_load((project() / "params.yaml").read_text(encoding="utf-8"))


def dvc_command(body: dict) -> list[str]:
    """The stage's cmd with ${...} filled in as DVC does (a foreach stage: its first source)."""
    values = params()
    first = sorted(values["sources"])[0]

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key == "key":
            return first
        node = values
        for part in key.split("."):
            node = node[part]
        return str(node)

    return shlex.split(re.sub(r"\$\{([a-z_.]+)\}", fill, body["cmd"]))


def commands(module: str) -> dict[str, click.Command]:
    cli = importlib.import_module(command_module(module)).cli
    if isinstance(cli, click.Group):
        return {f"{module} {name}": cmd for name, cmd in cli.commands.items()}
    return {module: cli}


@pytest.mark.parametrize("path", STAGE_FILES, ids=stage_name)
def test_no_stage_module_imports_another(path):
    commands_of_others = {command_module(stage) for stage in STAGE_MODULES - {stage_name(path)}}
    others = sorted(n for n in imported_modules(path)
                    if any(n == c or n.startswith(f"{c}.") for c in commands_of_others))
    assert not others, f"{path.name} imports stage modules {others}: shared code belongs in a package"


MAX_COMMAND_STATEMENTS = 6  # parse params, call the package, print the summary: a few lines, no logic


@pytest.mark.parametrize("path", STAGE_FILES, ids=stage_name)
def test_stage_modules_are_thin(path):
    """At the top level only imports, the commands and `main`; each command a few statements: logic lives in
    the packages."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    extra = []
    for node in tree.body[1:]:  # after the docstring
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.FunctionDef) and (node.name == "main" or node.decorator_list):
            body = [n for n in node.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
            if len(body) > MAX_COMMAND_STATEMENTS:
                extra.append(f"{node.name} ({len(body)} statements)")
            continue
        extra.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0][:60]}")
    assert not extra, f"{path.name}: {extra}: move logic into a package"


@pytest.mark.parametrize("module", sorted(STAGE_MODULES))
def test_one_flag_vocabulary_and_run_only_beside_another_subcommand(module):
    cli = importlib.import_module(command_module(module)).cli
    if isinstance(cli, click.Group):
        assert len(cli.commands) >= 2, f"{module}: a group with one subcommand; make it a plain command"
    for name, command in commands(module).items():
        flags = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert not flags & RETIRED_FLAGS, f"{name}: use --in/--out/--reports/--base-model, not {flags & RETIRED_FLAGS}"
        if any(p.name == "params_path" for p in command.params):
            assert "--params" in flags
        if module in CONTRACT_STAGES and not name.endswith(("fetch-hub", "rules", "review export", "review import")):
            needed = {"--out", "--metrics"} | ({"--in"} if module != "scrape" else set())
            assert needed <= flags, f"{name}: a record stage takes {sorted(needed)}, has {sorted(flags)}"


@pytest.mark.parametrize("module", sorted(STAGE_MODULES))
def test_every_command_has_an_example_in_help(module):
    for name, command in commands(module).items():
        result = click.testing.CliRunner().invoke(command, ["--help"])
        assert result.exit_code == 0, result.output
        assert "Example" in result.output, f"{name} --help shows no example"


@pytest.mark.parametrize("stage", sorted(stages()))
def test_the_help_example_is_the_command_dvc_runs(stage):
    """So the example works on the shipped sample: `dvc repro` runs exactly it."""
    body = stages()[stage]
    argv = dvc_command(body)
    module = importlib.import_module(command_module(argv[2].removeprefix("stages.")))
    examples = [shlex.split(cmd) for cmd in example_commands(module.__doc__)]
    assert argv in examples, f"{stage}: no example in {argv[2]} is the dvc.yaml cmd {shlex.join(argv)}"


@pytest.mark.parametrize("stage", sorted(CONTRACT_STAGES))
def test_contract_stages_print_the_one_summary_line(stage):
    path = next(p for p in STAGE_FILES if stage_name(p) == stage)
    assert "echo_summary(" in path.read_text(encoding="utf-8"), f"{path.relative_to(ROOT)} prints its own summary line"
