"""`python -m stages.check`: every params problem is one line, and a `../` source key is refused before DVC acts."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from stages.check.__main__ import cli
from stages.check.sections import declared_sections
from stages.lib.params import Params
from tests.project import project, shipped_params

ROOT = Path(__file__).resolve().parents[1]
BAD_NAME = ("params.yaml: sources.../../../victim: source names must match [a-z0-9_]+ (they prefix record ids "
            "and name the stage's output folder data/raw/<name>)")


def params_with(tmp_path: Path, edit, monkeypatch) -> Path:
    """The shipped params, edited, as `params.yaml` in the current folder (tmp_path): problems then start with
    `params.yaml: `, as they do when the check runs in the repository."""
    params = yaml.safe_load((project() / "params.yaml").read_text(encoding="utf-8"))
    for source in params["sources"].values():
        source["path"] = str(project() / source["path"])
    params["evaluate"]["tasks"] = str(project() / params["evaluate"]["tasks"])
    edit(params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return Path("params.yaml")


def check(params: Path):
    return CliRunner().invoke(cli, ["--params", str(params), "--rules", str(ROOT / "schemas" / "rules.yaml"),
                                    "--rubric", str(ROOT / "schemas" / "judge" / "rubric.yaml")])


def test_shipped_params_pass(tmp_path, monkeypatch):
    params = params_with(tmp_path, lambda p: None, monkeypatch)
    result = check(params)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{params}: OK\n"


def test_every_problem_is_one_line(tmp_path, monkeypatch):
    def edit(p):
        p["sources"]["cqia_zhihu"]["glob"] = "../cqia/*.jsonl"
        p["sources"]["Bad Name"] = dict(p["sources"]["cqia_wiki"])
        p["sources"]["cqia_wiki"]["path"] = "no/such/file.jsonl"
        p["dedup"]["threshold"] = 2
        p["rule"] = "no_such_rule"
        p["assemble"]["eval_share"] = 1.5
        p["trian"] = {}

    params = params_with(tmp_path, edit, monkeypatch)
    result = check(params)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert ("params.yaml: sources.cqia_zhihu.glob: must stay inside the source's path (a pattern such as *.jsonl "
            "or sub/*.jsonl; no '..', no leading '/' or '~'), got '../cqia/*.jsonl'") in lines
    assert "params.yaml: sources.cqia_wiki.path: no/such/file.jsonl not found" in lines
    assert any(line.startswith("params.yaml: sources.Bad Name: source names must match [a-z0-9_]+") for line in lines)
    assert "params.yaml: assemble.eval_share: must be in [0, 1), got 1.5" in lines
    assert any(line.startswith("params.yaml: rule: unknown rule 'no_such_rule'") for line in lines)
    assert any(line.startswith("params.yaml: dedup.threshold") for line in lines), lines
    assert lines[-1] == f"{params}: unknown section 'trian' (no stage reads it; a typo?)"
    assert len(lines) == 7
    assert result.stdout == ""


def test_an_integer_source_key_is_one_line(tmp_path, monkeypatch):
    params = params_with(tmp_path, lambda p: p["sources"].update({1: dict(p["sources"]["cqia_wiki"])}), monkeypatch)
    result = check(params)
    assert result.exit_code == 1
    assert result.stderr == "params.yaml: sources.1: source names must be strings (quote the key), got 1\n"


def test_a_crawler_setting_of_the_wrong_type_is_one_line(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1/\n", encoding="utf-8")
    web = {"kind": "http", "path": str(seeds), "subset": "tieba", "parser": "tieba_thread", "retries": "3"}
    result = check(params_with(tmp_path, lambda p: p["sources"].update({"web": web}), monkeypatch))
    assert result.exit_code == 1
    assert result.stderr == "params.yaml: sources.web.retries: must be an integer, got '3'\n"


def test_a_section_is_checked_with_its_model_and_the_configured_subsets(tmp_path, monkeypatch):
    result = check(params_with(tmp_path, lambda p: p["normalize"].update({"opencc_by_source": {"segmentfualt": "tw2sp"}}),
                               monkeypatch))
    assert result.exit_code == 1
    assert result.stderr == ("params.yaml: normalize.opencc_by_source.segmentfualt: names no configured subset (did you mean "
                             "segmentfault?); configured: chinese_traditional, douban, exam, human_value, mmlu, ruozhiba, "
                             "segmentfault, wiki, xhs, zhihu\n")


def test_every_section_of_the_shipped_params_is_declared_by_its_model():
    from stages.check.params_file import OTHER_SECTIONS

    declared = declared_sections()
    assert set(declared) == set(shipped_params()) - set(OTHER_SECTIONS)
    for section, model in declared.items():
        assert issubclass(model, Params) and model.section == section, section


def test_a_section_declared_twice_fails_at_import_naming_both_places(tmp_path):
    (tmp_path / "twice.py").write_text(
        "from stages.lib.params import Params\n\n\nclass Dedup(Params, section='dedup'):\n    x: int = 1\n")
    code = "import stages.dedup.config, twice"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == ("ValueError: params section 'dedup' is declared twice: "
                                              "stages.dedup.config:DedupParams and twice:Dedup")


def test_the_evaluation_tasks_folder_must_exist(tmp_path, monkeypatch):
    result = check(params_with(tmp_path, lambda p: p["evaluate"].update(tasks="no/such/tasks"), monkeypatch))
    assert result.exit_code == 1
    assert result.stderr == "params.yaml: evaluate.tasks: no/such/tasks not found (a folder of task CSV files)\n"


def test_the_engine_section_may_be_left_out(tmp_path, monkeypatch):
    result = check(params_with(tmp_path, lambda p: p.pop("engine"), monkeypatch))
    assert result.exit_code == 0, result.stderr


def test_a_rule_that_is_not_a_name_is_one_line(tmp_path, monkeypatch):
    result = check(params_with(tmp_path, lambda p: p.update(rule=["none"]), monkeypatch))
    assert result.exit_code == 1
    assert result.stderr == "params.yaml: rule: must be a rule name (a string), got ['none']\n"


def test_keys_the_file_must_state_are_required_as_the_stage_requires_them(tmp_path, monkeypatch):
    result = check(params_with(tmp_path, lambda p: p["dedup"].pop("ngram"), monkeypatch))
    assert result.exit_code == 1
    assert result.stderr == "params.yaml: dedup.ngram: missing required key\n"


def env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def sh(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=600)


@pytest.mark.e2e
def test_a_dotdot_source_key_is_refused_before_dvc_touches_anything(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("stages", "schemas", "data/sample"):
        shutil.copytree(project() / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", "Makefile"):
        shutil.copy2(project() / name, repo / name)
    params = yaml.safe_load((project() / "params.yaml").read_text(encoding="utf-8"))
    params["sources"]["../../../victim"] = dict(params["sources"]["cqia_zhihu"])  # data/raw/../../../victim
    (repo / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        assert sh(cmd, repo).returncode == 0

    checked = sh([sys.executable, "-m", "stages.check"], repo)
    assert (checked.returncode, checked.stdout, checked.stderr) == (1, "", BAD_NAME + "\n")
    # `make run` runs the check first and stops there (setup is the already-installed interpreter here)
    made = sh(["make", "-o", "setup", "-o", ".venv/.installed", "run", f"BIN={Path(sys.executable).parent}"], repo)
    assert made.returncode != 0
    assert BAD_NAME in made.stderr.splitlines()
    assert "dvc repro" not in made.stdout
    assert (victim / "precious.txt").read_text() == "keep me\n"
    assert not (repo / "data" / "raw").exists() and not (repo / "dvc.lock").exists()

    # without the check too, DVC leaves the folder alone (dvc.yaml: persist, no cache; tests/test_outside_repo.py)
    unguarded = sh([sys.executable, "-m", "dvc", "repro", "-s", "scrape@../../../victim"], repo)
    assert unguarded.returncode != 0
    assert (victim / "precious.txt").read_text() == "keep me\n"
