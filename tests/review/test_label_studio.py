"""The human-review round trip with a real Label Studio (issue 25 item 5).

A fresh copy of the project runs `dvc repro assemble` while a real Label Studio server (from .venv-review,
`make review-setup`) starts on 127.0.0.1: its default SQLite in a temp data dir, two users and their API
tokens created by the test (`label-studio init`), no telemetry. The test exports the review queue, makes a
project with schemas/review/label_config.xml, imports the tasks, submits annotations through the API as
both users, exports the project, imports the decisions, runs `dvc repro assemble` again and checks the SFT
set, the dataset card, the agreement report and `audit trace`. The server is always stopped. Skipped (not
failed) only when Label Studio is not installed; CI installs it (.ci/run).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import polars as pl
import pytest

from stages.review.content import pseudonym
from tests.project import ROOT, fresh_repo, run

pytestmark = [pytest.mark.e2e, pytest.mark.review]
LABEL_STUDIO = Path(os.environ.get("CQIA_LABEL_STUDIO", ROOT / ".venv-review" / "bin" / "label-studio"))
START_TIMEOUT_S = 900  # first start migrates a new SQLite database: minutes on 2 busy cores
QUIET = {"SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "COLLECT_ANALYTICS": "false", "LATEST_VERSION_CHECK": "false",
         "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LabelStudio:
    """A Label Studio server in its own process group, with two users A and B."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens = {"A": secrets.token_hex(20), "B": secrets.token_hex(20)}
        self.log = data_dir / "server.log"
        ls = str(LABEL_STUDIO)
        init = [f"{ls} init -q --username reviewer-{u.lower()}@example.invalid --password {secrets.token_hex(12)} "
                f"--user-token {t} --enable-legacy-api-token" for u, t in self.tokens.items()]
        chain = " && ".join(init + [f"exec {ls} start --no-browser --internal-host 127.0.0.1 --port {self.port}"])
        env = {**os.environ, **QUIET, "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir / "ls")}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(["bash", "-c", chain], env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.started = time.monotonic()

    def wait_ready(self) -> None:
        while time.monotonic() - self.started < START_TIMEOUT_S:
            if self.process.poll() is not None:
                raise AssertionError(f"Label Studio exited ({self.process.returncode}):\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(2)
        raise AssertionError(f"Label Studio not up after {START_TIMEOUT_S} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]

    def call(self, user: str, method: str, path: str, **kwargs) -> object:
        response = httpx.request(method, f"{self.url}{path}", headers={"Authorization": f"Token {self.tokens[user]}"},
                                 timeout=120, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


def choice(name: str, value: str) -> dict:
    return {"from_name": name, "to_name": "output", "type": "choices", "value": {"choices": [value]}}


def text(name: str, value: str) -> dict:
    return {"from_name": name, "to_name": name.removeprefix("edit_") if name != "note" else "output",
            "type": "textarea", "value": {"text": [value]}}


def sft_lines(repo: Path) -> dict[str, dict]:
    return {row["id"]: row for name in ("train.jsonl", "eval.jsonl")
            for row in map(json.loads, (repo / "data" / "sft" / name).read_text(encoding="utf-8").splitlines())}


def python(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, *args], repo)


@pytest.fixture
def label_studio(tmp_path):
    if not LABEL_STUDIO.is_file():
        pytest.skip(f"Label Studio is not installed ({LABEL_STUDIO}): `make review-setup` installs it")
    server = LabelStudio(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_label_studio_round_trip(tmp_path, label_studio):
    repo = fresh_repo(tmp_path)
    run([sys.executable, "-m", "dvc", "repro", "assemble"], repo, timeout=1800)  # while Label Studio starts
    curated = pl.read_parquet(repo / "data" / "review" / "records.parquet").filter(pl.col("parent_id").is_null())
    in_set = sorted(set(curated["id"].to_list()) & set(sft_lines(repo)))
    agreed, dropped, edited = in_set[:3]
    python(repo, "-m", "stages.review", "export", "--in", "data/review/records.parquet", "--out", "review/queue",
           "--id", agreed, "--id", dropped, "--id", edited)
    tasks = json.loads((repo / "review" / "queue" / "label_studio.json").read_text(encoding="utf-8"))

    label_studio.wait_ready()
    config = (repo / "schemas" / "review" / "label_config.xml").read_text(encoding="utf-8")
    project = label_studio.call("A", "POST", "/api/projects", json={"title": "cqia review", "label_config": config})
    imported = label_studio.call("A", "POST", f"/api/projects/{project['id']}/import", json=tasks)
    assert imported["task_count"] == len(tasks)
    listed = label_studio.call("A", "GET", "/api/tasks", params={"project": project["id"], "page_size": 1000})
    task_of = {t["data"]["record_id"]: t["id"] for t in (listed["tasks"] if isinstance(listed, dict) else listed)}
    users = {u: label_studio.call(u, "GET", "/api/current-user/whoami")["id"] for u in ("A", "B")}
    new_output = "这是审阅者改写后的完整回答，内容更准确。"
    for user, record_id, result in [
        ("A", agreed, [choice("decision", "accept")]),
        ("B", agreed, [choice("decision", "accept")]),
        ("A", dropped, [choice("decision", "reject"), choice("reason", "wrong_answer"), text("note", "答非所问")]),
        ("B", dropped, [choice("decision", "reject"), choice("reason", "incomplete")]),
        ("B", edited, [choice("decision", "edit"), choice("reason", "incomplete"), text("edit_output", new_output)]),
    ]:
        label_studio.call(user, "POST", f"/api/tasks/{task_of[record_id]}/annotations", json={"result": result})
    export = label_studio.call("A", "GET", f"/api/projects/{project['id']}/export", params={"exportType": "JSON"})
    (tmp_path / "export.json").write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")

    args = ["-m", "stages.review", "import", "--in", str(tmp_path / "export.json"), "--candidates",
            "data/familiarity/records.parquet"]
    first = python(repo, *args).stdout
    assert "5 decisions: 5 appended to review/decisions.jsonl, 0 already there" in first
    assert "0 appended to review/decisions.jsonl, 5 already there" in python(repo, *args).stdout
    decisions = (repo / "review" / "decisions.jsonl").read_text(encoding="utf-8")
    assert "example.invalid" not in decisions  # reviewers are pseudonyms, never e-mails
    a, b = (pseudonym("label-studio", users[u]) for u in ("A", "B"))

    run([sys.executable, "-m", "dvc", "repro", "assemble"], repo, timeout=1800)
    sft = sft_lines(repo)
    assert dropped not in sft and agreed in sft
    assert sft[edited]["output"] == new_output and sft[edited]["messages"][-1]["content"] == new_output
    reviewed = {r["id"]: r for r in pl.read_parquet(repo / "data" / "review" / "records.parquet").to_dicts()}
    assert (reviewed[agreed]["human_verified"], reviewed[agreed]["verified_by"]) == (True, ",".join(sorted([a, b])))
    assert reviewed[edited]["verified_by"] == b and reviewed[edited]["transforms"][-1] == "review:edit"
    card = (repo / "data" / "sft" / "README.md").read_text(encoding="utf-8")
    assert "## Human review" in card and a in card and b in card
    agreement = json.loads((repo / "reports" / "review" / "agreement.json").read_text(encoding="utf-8"))
    assert agreement["reviewers"]["overall"] == {"n": 2, "observed": 1.0, "kappa": 1.0}
    metrics = json.loads((repo / "metrics" / "review.json").read_text(encoding="utf-8"))
    assert (metrics["decisions"]["applied"], metrics["rows_dropped"]) == (5, {"review_rejected": 1})

    trace = json.loads(python(repo, "-m", "stages.audit", "trace", dropped, "--json").stdout)
    assert [(s["status"], s["reason"]) for s in trace["stages"] if s["stage"] == "review"] == \
        [("rejected", "review_rejected")]
    assert sorted((r["reviewer"], r["decision"], r["reason"], r["status"]) for r in trace["review"]) == \
        sorted([(a, "reject", "wrong_answer", "applied"), (b, "reject", "incomplete", "applied")])
    trace = json.loads(python(repo, "-m", "stages.audit", "trace", edited, "--json").stdout)
    assert [s["transforms_added"] for s in trace["stages"] if s["stage"] == "review"] == [["review:edit"]]
    assert trace["sft"] and trace["sft"][0]["id"] == edited
    shown = python(repo, "-m", "stages.audit", "trace", edited, "--md").stdout
    assert "## Review" in shown and b in shown and "applied: edited output" in shown
