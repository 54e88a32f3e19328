"""Hostile params files (issue 22, probes 11-14, 17): a key given twice, nesting 5,000 levels deep, invalid UTF-8,
a misspelt key, a symlinked params.yaml: one line naming the file (and key, lines, byte), exit 1, from
`stages.check` and from every stage's load, nothing written. Paths in params resolve from the working folder
in check as in the stages."""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from stages.check.__main__ import cli as check_cli
from stages.lib.cli import example_commands
from tests.project import project, shipped_params
from tests.test_stage_shape import command_module

RULES = str(project() / "schemas" / "rules.yaml")
RUBRIC = str(project() / "schemas" / "judge" / "rubric.yaml")
STAGES = ("assemble", "base_model", "clean", "dedup", "evaluate", "familiarity", "judge", "normalize", "rewrite",
          "scrape", "train", "train_quality", "validate")  # review's apply reads no params
DEDUP = {"fields": ["instruction", "input", "output"], "ngram": 5, "num_perm": 128, "seed": 1, "threshold": 0.8,
         "verify": "exact"}
ALLOWED = ("allowed: answer_threshold, bands, batch_size, bucket_window, fields, min_candidate_recall, ngram, "
           "num_perm, rows, scheme, seed, threshold, verify, workers")


def stage_argv(stage: str) -> tuple[click.Command, list[str]]:
    """The stage's command and its help example's arguments (the command dvc.yaml runs)."""
    module = importlib.import_module(command_module(stage))
    argv = shlex.split(example_commands(module.__doc__)[0])[3:]
    if isinstance(module.cli, click.Group):
        return module.cli.commands[argv[0]], argv[1:]
    return module.cli, argv


def run_stage(stage: str) -> click.testing.Result:
    command, argv = stage_argv(stage)
    return CliRunner().invoke(command, argv)


def run_check(params: str = "params.yaml") -> click.testing.Result:
    return CliRunner().invoke(check_cli, ["--params", params, "--rules", RULES, "--rubric", RUBRIC])


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def every_command_says(tmp_path: Path, line: str) -> None:
    """stages.check prints `line`, every stage fails with `Error: line`, exit 1, nothing written."""
    before = listing(tmp_path)
    result = run_check()
    assert (result.exit_code, result.stderr, result.stdout) == (1, f"{line}\n", "")
    for stage in STAGES:
        result = run_stage(stage)
        assert (result.exit_code, result.output) == (1, f"Error: {line}\n"), stage
    assert listing(tmp_path) == before


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- probe 11: a key given twice ---

def test_a_key_given_twice_is_one_line_naming_the_key_and_both_lines(here):
    Path("params.yaml").write_text("dedup:\n  threshold: 0.8\n  ngram: 5\n  threshold: 0.5\n", encoding="utf-8")
    every_command_says(here, "params.yaml: dedup.threshold: given twice (lines 2 and 4); YAML would keep only the "
                             "last: remove one")


def test_a_key_given_twice_in_a_list_item_names_its_place(here):
    Path("params.yaml").write_text("sources:\n  a:\n    kind: cqia_jsonl\n  b: {path: x, path: y}\n",
                                   encoding="utf-8")
    result = run_check()
    assert result.stderr == ("params.yaml: sources.b.path: given twice (lines 4 and 4); YAML would keep only the "
                             "last: remove one\n")


# --- probe 12: nesting thousands of levels deep ---

@pytest.mark.parametrize("text, line", [("a: " + "[" * 5000 + "]" * 5000 + "\n", 1),
                                        ("".join("  " * i + f"k{i}:\n" for i in range(5000)), 65)],
                         ids=["flow", "block"])
def test_nesting_5000_levels_deep_is_one_line(here, text, line):
    Path("params.yaml").write_text(text, encoding="utf-8")
    every_command_says(here, f"params.yaml:{line}: nested deeper than 64 levels; a params file needs only a few")


# --- probe 14: invalid UTF-8, and paths resolved as the stages resolve them ---

def test_invalid_utf8_is_one_line_naming_the_file_line_and_byte(here):
    Path("params.yaml").write_bytes("dedup:\n  threshold: 0.8\n  # 注释\n".encode("utf-8") + b"  seed: \xff\n")
    text = Path("params.yaml").read_bytes()
    offset = text.index(b"\xff")
    assert text[:offset].decode("utf-8")  # the bytes before it are fine UTF-8 (a multi-byte comment included)
    every_command_says(here, f"params.yaml:4: not valid UTF-8 (byte 0xff at offset {offset}); save the file as UTF-8")


def test_check_resolves_params_paths_from_the_working_folder_as_the_stages_do(here):
    params = shipped_params()
    params["evaluate"]["tasks"] = str(project() / params["evaluate"]["tasks"])
    for name, source in params["sources"].items():
        source["path"] = f"inputs/{name}{Path(source['path']).suffix}"  # relative: from the working folder
        target = here / source["path"]
        target.parent.mkdir(exist_ok=True)
        target.write_text("", encoding="utf-8")
    Path("other").mkdir()
    Path("other/p.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    result = run_check("other/p.yaml")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "other/p.yaml: OK\n", "")
    Path("inputs").rename("other/inputs")  # beside the params file, not in the working folder: not found
    result = run_check("other/p.yaml")
    assert result.exit_code == 1
    first = sorted(params["sources"])[0]
    assert f"other/p.yaml: sources.{first}.path: {params['sources'][first]['path']} not found" in result.stderr


# --- probe 13 and issue item 2: a misspelt key is named, with the key it stands for ---

def write_dedup_params(**section) -> None:
    Path("params.yaml").write_text(yaml.safe_dump({"dedup": section}), encoding="utf-8")


def dedup_line() -> str:
    command, argv = stage_argv("dedup")
    result = CliRunner().invoke(command, argv)
    assert result.exit_code == 1
    return result.output


def test_a_misspelt_required_key_is_named_with_the_key_it_leaves_missing(here):
    section = {**DEDUP, "treshold": 0.8}
    section.pop("threshold")
    write_dedup_params(**section)
    line = f"params.yaml: dedup.treshold: unknown key (did you mean threshold? it is missing); {ALLOWED}"
    assert dedup_line() == f"Error: {line}\n"
    assert line in run_check().stderr.splitlines()


def test_dvc_s_own_override_of_a_misspelt_key_ends_in_the_same_line(here):
    """`dvc exp run -S +dedup.treshold=0.7` edits params.yaml with DVC's own `apply_overrides`, then runs."""
    from dvc.utils.hydra import apply_overrides

    write_dedup_params(**DEDUP)
    apply_overrides("params.yaml", ["+dedup.treshold=0.7"])
    assert yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))["dedup"]["treshold"] == 0.7
    line = f"params.yaml: dedup.treshold: unknown key (did you mean threshold?); {ALLOWED}"
    assert dedup_line() == f"Error: {line}\n"
    assert line in run_check().stderr.splitlines()
    apply_overrides("params.yaml", ["~dedup.threshold"])  # the typo now stands in for the key
    assert dedup_line() == (f"Error: params.yaml: dedup.treshold: unknown key (did you mean threshold? it is "
                            f"missing); {ALLOWED}\n")


# --- probe 17 / issue item 7: a symlinked params.yaml ---

def test_a_symlinked_params_file_is_refused_by_check_and_every_stage(here):
    outside = here.parent / f"{here.name}-outside.yaml"
    outside.write_text(yaml.safe_dump(shipped_params(), allow_unicode=True), encoding="utf-8")
    before = outside.read_bytes()
    Path("params.yaml").symlink_to(outside)
    every_command_says(here, "params.yaml: is a symbolic link; params are read only from a real file in the "
                             "repository (copy the file here instead of linking it)")
    assert outside.read_bytes() == before
    outside.unlink()
