"""`python -m stages.audit rules` on a temp DVC repo whose one stage writes metrics/eval.json from `rule`.

The commit runs rule=counterintuitive_thinking; the experiments `base`
(rule=none) and `blur` (rule=blurring_boundaries) are run with `dvc exp run -S`,
so the baseline has to be found among the experiments. The stage's accuracy
table is in tests/auditing/mini_pipeline.py (`evaluate`).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from stages.audit import cli
from tests.auditing.repo_builder import commit, dvc, init_repo, write_params, write_pipeline

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("rules") / "repo"
    repo.mkdir()
    init_repo(repo)
    write_pipeline(repo, evaluate=True)
    write_params(repo, {"rule": "counterintuitive_thinking"})
    dvc(repo, "repro")
    sha = commit(repo, "evaluate with rule=counterintuitive_thinking")
    dvc(repo, "exp", "run", "-n", "base", "-S", "rule=none")
    dvc(repo, "exp", "run", "-n", "blur", "-S", "rule=blurring_boundaries")
    return {"path": repo, "sha": sha}


def rules(repo, *args):
    result = CliRunner().invoke(cli, ["rules", "--repo", str(repo["path"]), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_rules_matrix_is_exact(repo, tmp_path):
    image = tmp_path / "rules.png"
    result = json.loads(rules(repo, "--json", "--heatmap", str(image)).stdout)
    assert result["baseline"]["name"] == "base"
    assert result["baseline"]["overall"] == 0.4
    assert result["baseline"]["tasks"] == {"history": 0.5, "logic": 0.3, "math": 0.4}
    assert result["tasks"] == ["history", "logic", "math"]
    se2 = {"history": 0.070711, "logic": 0.064031, "math": 0.070711}
    assert result["rules"] == [
        {"rule": "blurring_boundaries", "experiments": ["blur"], "overall": 0.4067, "delta_overall": 0.0067,
         "tasks": {"history": 0.47, "logic": 0.3, "math": 0.45},
         "delta": {"history": -0.03, "logic": 0.0, "math": 0.05}, "delta_stderr": se2,
         "delta_overall_stderr": 0.042426, "rewrites_kept": 0},
        {"rule": "counterintuitive_thinking", "experiments": ["main"], "overall": 0.45, "delta_overall": 0.05,
         "tasks": {"history": 0.55, "logic": 0.42, "math": 0.38},
         "delta": {"history": 0.05, "logic": 0.12, "math": -0.02}, "delta_stderr": se2,
         "delta_overall_stderr": 0.042426, "rewrites_kept": 6},
    ]
    assert result["verdicts"] == [
        "blurring_boundaries: kept 0 rewrites, so its SFT set is the baseline's; its deltas are noise "
        "(see metrics/rewrite.json rows_dropped for why).",
        "counterintuitive_thinking: some deltas exceed one standard error, none two: weak evidence at best."]
    assert result["toy"] is False
    assert [(e["name"], e["rule"]) for e in result["entries"]] == [
        ("base", "none"), ("blur", "blurring_boundaries"), ("main", "counterintuitive_thinking")]
    assert next(e["rev"] for e in result["entries"] if e["name"] == "main") == repo["sha"]
    assert result["heatmap"] == str(image)
    assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_rules_table_and_markdown(repo, tmp_path):
    text = rules(repo, "--no-heatmap").stdout
    assert "Rule x task: accuracy delta against rule=none" in text
    assert "counterintuitive_thinking" in text and "+0.120" in text
    md = rules(repo, "--md", "--heatmap", str(tmp_path / "h.png")).stdout
    assert "| rule | experiments | rewrites kept | overall | history | logic | math |" in md
    assert ("| blurring_boundaries | blur | 0 | +0.007 ± 0.042 | -0.030 ± 0.071 | +0.000 ± 0.064 | "
            "+0.050 ± 0.071 |") in md
    assert ("| counterintuitive_thinking | main | 6 | +0.050 ± 0.042 | +0.050 ± 0.071 | +0.120 ± 0.064 | "
            "-0.020 ± 0.071 |") in md
    assert "blurring_boundaries: kept 0 rewrites" in md


def test_diff_works_without_record_stages(repo):
    """A pipeline with no record stages still diffs params and metrics (experiment vs experiment)."""
    result = CliRunner().invoke(cli, ["diff", "base", "blur", "--json", "--repo", str(repo["path"])])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["stages"] == [] and report["params"] == [{"key": "rule", "a": "none", "b": "blurring_boundaries"}]
    assert {m["key"] for m in report["metrics"]} == {"overall", "tasks.history", "tasks.math", "stderr.logic"}


def test_rules_html_embeds_the_heatmap_and_writes_nothing_into_the_repo(repo, tmp_path, monkeypatch):
    import base64
    import subprocess

    monkeypatch.chdir(repo["path"])
    before = subprocess.run(["git", "status", "--porcelain", "--ignored"], capture_output=True, text=True).stdout
    target = tmp_path / "rules.html"
    rules(repo, "--html", "-o", str(target))
    rules(repo)  # the terminal table: no heatmap file either
    after = subprocess.run(["git", "status", "--porcelain", "--ignored"], capture_output=True, text=True).stdout
    assert after == before and not (repo["path"] / "audit-rules.png").exists()
    page = target.read_text(encoding="utf-8")
    assert target.stat().st_mode & 0o777 == 0o644
    data = page.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert "Heatmap: " not in page and "<link" not in page and "<script" not in page
