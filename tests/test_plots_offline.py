"""`dvc plots show` renders every chart offline, without warnings, in a real headless browser.

The project's dvc.yaml, .dvc/config and plots/ go into a temp git + DVC repo
with small report files in the layout the stages write (the kept/dropped CSV
by the real `kept_dropped_csv`, the paired deltas by `audit rules`' own writer);
`dvc plots show` builds the page from plots/offline.html (vega inlined, no CDN) and Chromium (Debian's `chromium`,
installed by .ci/run) loads it from disk with the network switched off.
Every vega chart must have drawn its marks and the image plot must be there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

from stages.sft.hf_card import kept_dropped_csv
from tests.audit.repo_builder import git, run
from tests.project import project

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPORTS = {
    "reports/familiarity/ppl_by_source.csv": "source,n,median_ppl\nzhihu,3,12.5\ndouban,2,30.25\n",
    "reports/familiarity/ppl_by_answer_from.csv": "answer_from,n,median_ppl\nhuman,4,14.0\nllm,1,40.0\n",
    "reports/judge/judge_by_source.csv": "source,n,median_score\nzhihu,3,7.5\ndouban,2,4.0\n",
    "reports/train/loss.csv": "step,loss\n5,6.6\n10,6.1\n15,5.8\n",
    "reports/eval/tasks.csv": "task,accuracy,stderr,n,low,high\nlogic,0.25,0.13,12,0.088942,0.532305\n"
                              "history,0.5,0.15,12,0.253806,0.746194\n",
    "reports/assemble/score_histograms.csv": "score,source,bin,records\nppl,zhihu,2.0,3\nppl,zhihu,4.0,1\n"
                                             "ppl,douban,2.0,0\nppl,douban,4.0,2\njudge_score,zhihu,3.3,2\n"
                                             "judge_score,douban,3.3,1\n",
    "reports/assemble/kept_dropped.csv": kept_dropped_csv([
        {"stage": "scrape", "rows_kept": 9, "rows_dropped": {"scrape_invalid_json": 1}},
        {"stage": "clean", "rows_kept": 7, "rows_dropped": {"clean_too_short": 2}}]),
}


def plots_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for name in ("dvc.yaml", "params.yaml", ".dvc/config", "plots/offline.html", "plots/kept_dropped.json",
                 "plots/accuracy_ci.json", "plots/paired_deltas.json", "plots/score_histogram.json"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project() / name, repo / name)
    for name, text in REPORTS.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.figure(figsize=(2, 2))
    plt.savefig(repo / "reports/familiarity/ppl.png")
    plt.close()
    git(repo, "init", "-q", "-b", "main")
    return repo


def paired_csv() -> str:
    """reports/compare/paired.csv as `audit rules --save` writes it, for one rule with a planted effect."""
    import numpy as np

    from stages.audit.paired import compare
    from stages.audit.rules import saved

    diffs = {"logic": np.array([1.0] * 8 + [0.0] * 12), "law": np.array([1.0, -1.0] * 10), "tiny": np.array([1.0])}
    cells = {task: {m: compare(d, m) for m in ("accuracy", "margin")} for task, d in diffs.items()}
    return saved({"rules": [{"label": "counterintuitive_thinking", "cells": cells}]})[0]


def rendered(repo: Path, out: Path, *args: str) -> tuple[list[str], str]:
    """`dvc plots show ARGS` into `out`, then the page's chart ids and its DOM after Chromium ran it offline."""
    shown = run([sys.executable, "-m", "dvc", "plots", "show", *args, "-o", str(out)], repo)
    assert "WARNING" not in shown.stdout + shown.stderr and "failed" not in shown.stdout + shown.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net" not in page and "<script src=" not in page
    dom = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--proxy-server=127.0.0.1:9", "--virtual-time-budget=20000", "--dump-dom",
                          (out / "index.html").as_uri()], capture_output=True, text=True, timeout=180).stdout
    charts = re.findall(r'vegaEmbed\([\'"]#([^\'"]+)', page)
    for chart in charts:  # each chart's div holds the canvas vega drew its marks on
        start = dom.index(f'id="{chart}"')
        assert 'class="marks"' in dom[start:start + 3000], chart
    return charts, dom


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium; .ci/run does)")
def test_every_chart_renders_offline_in_a_headless_browser(tmp_path):
    repo = plots_repo(tmp_path)
    charts, dom = rendered(repo, tmp_path / "out")
    assert len(charts) == 7 and "Records_kept_and_dropped_per_stage" in charts
    assert "Scores_of_the_SFT_set_per_source" in charts
    assert '<img src="static/workspace_reports_familiarity_ppl.png"' in dom
    (repo / "reports/compare").mkdir(parents=True)
    (repo / "reports/compare/paired.csv").write_text(paired_csv(), encoding="utf-8")
    charts, _ = rendered(repo, tmp_path / "paired", "reports/compare/paired.csv", "--template",
                         "plots/paired_deltas.json", "-x", "delta", "-y", "task")  # the README's command
    assert len(charts) == 1
