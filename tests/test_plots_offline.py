"""`dvc plots show` renders every chart offline, without warnings, in a real headless browser.

The project's dvc.yaml, .dvc/config and plots/ go into a temp git + DVC repo
with small report files in the layout the stages write (the kept/dropped CSV
by the real `kept_dropped_csv`); `dvc plots show` builds the page from
plots/offline.html (vega inlined, no CDN) and Chromium (Debian's `chromium`,
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
from tests.auditing.repo_builder import ROOT, git, run
from tests.project import project

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPORTS = {
    "reports/familiarity/ppl_by_source.csv": "source,n,median_ppl\nzhihu,3,12.5\ndouban,2,30.25\n",
    "reports/familiarity/ppl_by_answer_from.csv": "answer_from,n,median_ppl\nhuman,4,14.0\nllm,1,40.0\n",
    "reports/train/loss.csv": "step,loss\n5,6.6\n10,6.1\n15,5.8\n",
    "reports/eval/tasks.csv": "task,accuracy\nlogic,0.25\nhistory,0.5\n",
    "reports/assemble/kept_dropped.csv": kept_dropped_csv([
        {"stage": "scrape", "rows_kept": 9, "rows_dropped": {"scrape_invalid_json": 1}},
        {"stage": "clean", "rows_kept": 7, "rows_dropped": {"clean_too_short": 2}}]),
}


def plots_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for name in ("dvc.yaml", "params.yaml", ".dvc/config", "plots/offline.html", "plots/kept_dropped.json"):
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


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium; .ci/run does)")
def test_every_chart_renders_offline_in_a_headless_browser(tmp_path):
    repo = plots_repo(tmp_path)
    shown = run([sys.executable, "-m", "dvc", "plots", "show", "-o", str(tmp_path / "out")], repo)
    assert "WARNING" not in shown.stdout + shown.stderr and "failed" not in shown.stdout + shown.stderr
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net" not in page and "<script src=" not in page
    charts = re.findall(r'vegaEmbed\([\'"]#([^\'"]+)', page)
    assert len(charts) == 5 and "Records_kept_and_dropped_per_stage" in charts
    dom = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--proxy-server=127.0.0.1:9", "--virtual-time-budget=20000", "--dump-dom",
                          (tmp_path / "out" / "index.html").as_uri()],
                         capture_output=True, text=True, timeout=180).stdout
    for chart in charts:  # each chart's div holds the canvas vega drew its marks on
        start = dom.index(f'id="{chart}"')
        assert 'class="marks"' in dom[start:start + 3000], chart
    assert '<img src="static/workspace_reports_familiarity_ppl.png"' in dom
