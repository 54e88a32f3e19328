"""`python -m stages.audit rules` and `experiments` on a temp DVC repo whose one stage is a fake model.

The stage (`evaluate` in tests/audit/mini_pipeline.py) writes per-question results through the real
evaluate writers, with answers the test controls: counterintuitive_thinking turns 20 wrong logic answers
right at seed 42 (16 at seed 1, 24 at seed 2) and swaps 5 math answers each way; blurring_boundaries swaps
4 each way on history and logic (a null effect) and keeps 0 rewrites. The commit is rule=none, seed 42;
experiments are real `dvc exp run -S` runs.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from stages.audit.__main__ import cli
from tests.audit.repo_builder import commit, dvc, git, init_repo, write_params, write_pipeline

pytestmark = pytest.mark.e2e
PARAMS = {"rule": "none", "train": {"seed": 42}, "assemble": {"select": {"overall": {"ppl": {"max": None}}}}, "evaluate": {"tasks": "three"}}
EXPERIMENTS = {"counter": ["rule=counterintuitive_thinking"], "blur": ["rule=blurring_boundaries"],
               "none-s1": ["train.seed=1"], "counter-s1": ["rule=counterintuitive_thinking", "train.seed=1"],
               "counter-s2": ["rule=counterintuitive_thinking", "train.seed=2"], "ppl": ["assemble.select.overall.ppl.max=50"]}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("rules") / "repo"
    repo.mkdir()
    init_repo(repo)
    write_pipeline(repo, evaluate=True)
    write_params(repo, PARAMS)
    dvc(repo, "repro")
    sha = commit(repo, "evaluate with rule=none")
    for name, values in EXPERIMENTS.items():  # each from the commit (a run leaves its params in the workspace)
        git(repo, "checkout", "--", ".")
        dvc(repo, "exp", "run", "-n", name, *[arg for v in values for arg in ("-S", v)])
    return {"path": repo, "sha": sha}


def audit(repo, *args, ok=True):
    result = CliRunner().invoke(cli, [args[0], "--repo", str(repo["path"]), *args[1:]])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_a_planted_effect_is_detected_and_a_null_effect_is_not(repo):
    result = json.loads(audit(repo, "rules", "--json").stdout)
    assert result["kind"] == "cqia-audit-rules" and result["baseline"]["name"] == "main"
    assert [r["label"] for r in result["rules"]] == ["blurring_boundaries", "counterintuitive_thinking"]
    blur, counter = result["rules"]
    assert [(r["name"], r["seed"], r["baseline"]) for r in counter["runs"]] == [
        ("counter-s1", 1, "none-s1"), ("counter-s2", 2, "main"), ("counter", 42, "main")]
    logic = counter["cells"]["logic"]["accuracy"]
    assert logic["delta"] == 0.2 and logic["detectable"] is True and logic["low"] > 0
    math = counter["cells"]["math"]["accuracy"]
    assert math["delta"] == 0 and math["detectable"] is False
    assert counter["cells"]["logic"]["margin"]["detectable"] is True
    assert all(cell[m]["detectable"] is False for cell in blur["cells"].values() for m in ("accuracy", "margin"))
    assert blur["cells"]["math"]["accuracy"]["text"].startswith("no detectable change (+0.000 [")
    assert counter["seeds"]["logic"]["accuracy"]["per_seed"] == [0.16, 0.24, 0.2]
    assert counter["seeds"]["logic"]["accuracy"]["sd"] == 0.04
    assert blur["seeds"] is None
    assert result["verdicts"][0] == ("blurring_boundaries: kept 0 rewrites, so its SFT set is the baseline's; its "
                                     "deltas are noise (see metrics/rewrite.json rows_dropped for why).")
    assert result["verdicts"][1:] == [
        "counterintuitive_thinking: detectable: overall accuracy +0.066 [+0.033, +0.101]; overall margin +0.069 "
        "[+0.033, +0.109]; logic accuracy +0.200 [+0.130, +0.277]; logic margin +0.212 [+0.133, +0.297].",
        "counterintuitive_thinking: between-seed sd of the overall accuracy delta 0.012 (3 seeds) against a "
        "within-run se of 0.018."]
    assert result["notes"] == [
        "counter-s2: no rule=none run with its other params (it differs from main in train.seed), so it is compared "
        "with main; for a matching baseline run python -m stages.exp -S rule=none -S train.seed=2"]


def test_rules_table_markdown_and_saved_files(repo, tmp_path):
    text = audit(repo, "rules", "--no-chart").stdout
    assert "Rules against rule=none: paired deltas per task" in text and "no detectable change (" in text
    md = audit(repo, "rules", "--md", "--save", str(tmp_path / "compare")).stdout
    assert "| task | n | Δ accuracy | Δ margin (nats) |" in md
    assert "| logic | 100 | +0.200 [+0.130, +0.277] | +0.212 [+0.133, +0.297] |" in md
    assert "| rule | metric | Δ per seed | between-seed sd | within-run se |" in md
    csv = (tmp_path / "compare" / "paired.csv").read_text(encoding="utf-8").splitlines()
    assert csv[0] == "rule,task,metric,delta,low,high,mde,detectable"
    assert any(line.startswith("counterintuitive_thinking,logic,accuracy,0.2,") and line.endswith(",true")
               for line in csv)
    saved = json.loads((tmp_path / "compare" / "paired.json").read_text(encoding="utf-8"))
    assert saved["counterintuitive_thinking"]["logic"]["accuracy"] == {
        "n": 100, "delta": 0.2, "low": 0.13, "high": 0.276667, "mde": 0.119593, "detectable": True}


def test_experiments_view_has_one_row_per_experiment(repo):
    result = json.loads(audit(repo, "experiments", "--json").stdout)
    rows = {r["name"]: r for r in result["experiments"]}
    assert [r["name"] for r in result["experiments"]] == [
        "main", "blur", "counter", "counter-s1", "counter-s2", "none-s1", "ppl"]
    assert rows["main"]["note"] == "main baseline" and rows["main"]["baseline_of"] == ["blur", "counter", "counter-s2",
                                                                                      "none-s1", "ppl"]
    assert rows["ppl"]["selection"] == {"assemble.select.overall.ppl.max": 50} and rows["ppl"]["records_kept"] == 210
    assert rows["counter-s1"]["baseline"] == "none-s1" and rows["counter-s1"]["seed"] == 1
    assert [(m["task"], m["metric"]) for m in rows["counter"]["moved"]] == [("logic", "accuracy"), ("logic", "margin")]
    assert rows["blur"]["moved"] == [] and rows["blur"]["overall"]["accuracy"]["detectable"] is False
    md = audit(repo, "experiments", "--md").stdout
    assert md.startswith("# Experiments\n")
    assert "| ppl | none | assemble.select.overall.ppl.max=50 | 42 | 210 | main | 21.50 (vs 21.50) | no detectable change (+0.000 [" \
        in md
    assert (rows["counter"]["familiarity"], rows["counter"]["baseline_familiarity"]) == (14.25, 21.5)
    counter = next(line for line in md.splitlines() if line.startswith("| counter |"))
    assert counter.startswith(
        "| counter | counterintuitive_thinking | – | 42 | 246 | main | 14.25 (vs 21.50) | +0.067 ["), counter


def test_rules_html_embeds_the_chart_and_writes_nothing_into_the_repo(repo, tmp_path, monkeypatch):
    import base64
    import subprocess

    monkeypatch.chdir(repo["path"])
    before = subprocess.run(["git", "status", "--porcelain", "--ignored"], capture_output=True, text=True).stdout
    target = tmp_path / "rules.html"
    audit(repo, "rules", "--html", "-o", str(target))
    audit(repo, "rules", "--chart", str(tmp_path / "chart.png"))
    after = subprocess.run(["git", "status", "--porcelain", "--ignored"], capture_output=True, text=True).stdout
    assert after == before
    page = target.read_text(encoding="utf-8")
    assert target.stat().st_mode & 0o777 == 0o644
    data = page.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "<link" not in page and "<script" not in page


def test_diff_works_without_record_stages(repo):
    """A pipeline with no record stages still diffs params and metrics (experiment vs experiment)."""
    report = json.loads(audit(repo, "diff", "counter", "blur", "--json").stdout)
    assert report["stages"] == [] and report["params"] == [
        {"key": "rule", "a": "counterintuitive_thinking", "b": "blurring_boundaries"}]
    assert {"overall", "tasks.logic", "rows_kept"} <= {m["key"] for m in report["metrics"]}


@pytest.fixture(scope="module")
def awkward(tmp_path_factory):
    """A commit from before evaluate wrote per-question results, then one with them (a task of 4 questions),
    an experiment with a rule, and a rule=none experiment evaluated on other tasks."""
    repo = tmp_path_factory.mktemp("awkward") / "repo"
    repo.mkdir()
    init_repo(repo)
    write_pipeline(repo, evaluate=True, predictions=False)
    write_params(repo, PARAMS | {"evaluate": {"tasks": "small", "predictions": False}})
    dvc(repo, "repro")
    old = commit(repo, "evaluate without per-question results")
    write_pipeline(repo, evaluate=True)
    write_params(repo, PARAMS | {"evaluate": {"tasks": "small", "predictions": True}})
    dvc(repo, "repro")
    commit(repo, "evaluate writes per-question results")
    for name, value in (("counter", "rule=counterintuitive_thinking"), ("none-geo", "evaluate.tasks=geo")):
        git(repo, "checkout", "--", ".")
        dvc(repo, "exp", "run", "-n", name, "-S", value)
    return {"path": repo, "old": old[:7]}


def test_an_interval_on_too_few_questions_says_so(awkward):
    result = json.loads(audit(awkward, "rules", "--json").stdout)
    tiny = result["rules"][0]["cells"]["tiny"]
    assert tiny["accuracy"]["text"] == "+0.000, interval not computed: 4 questions (fewer than 10)"
    assert tiny["accuracy"]["low"] is None and tiny["accuracy"]["mde"] is None
    assert "| tiny | 4 | +0.000, interval not computed: 4 questions (fewer than 10) |" in audit(
        awkward, "rules", "--md").stdout


def test_runs_evaluated_on_other_questions_are_refused_in_one_line(awkward):
    result = audit(awkward, "rules", "--baseline", "none-geo", ok=False)
    assert result.exit_code == 1
    assert result.output == ("Error: cannot compare counter with none-geo: evaluated on different questions (tasks "
                             "only in counter: history, tiny; only in none-geo: geography)\n")
    rows = {r["name"]: r for r in json.loads(audit(awkward, "experiments", "--json").stdout)["experiments"]}
    assert rows["none-geo"]["note"] == ("not compared: cannot compare none-geo with main: evaluated on different "
                                        "questions (tasks only in none-geo: geography; only in main: history, tiny)")


def test_a_baseline_without_per_question_results_names_the_revision_to_reproduce(awkward):
    old = awkward["old"]
    result = audit(awkward, "rules", "-n", "2", "--baseline", old, ok=False)
    assert result.exit_code == 1
    assert result.output == (f"Error: counter: its baseline {old} has no reports/eval/predictions.jsonl (per-question "
                             f"results); reproduce revision {old} (git checkout {old}, then python -m stages.exp)\n")
