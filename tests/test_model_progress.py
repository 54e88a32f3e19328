"""Progress in the model stages: familiarity reports sequences scored with an ETA from the tokens done, judge
reports records judged; a line per update on standard error (interval 0), the one-line summary on standard
output unchanged, and the same files with progress on or off."""

from __future__ import annotations

from click.testing import CliRunner

from stages.familiarity import cli as familiarity_cli
from tests.llm.chat_server import ChatServer
from tests.llm.fixtures import tiny_model_dir, write_curated
from tests.test_familiarity import write_params
from tests.test_judge import files, params, run as run_judge


def progress_on(monkeypatch) -> None:
    """Progress on (the tests run with it off), a line at every update."""
    monkeypatch.delenv("CQIA_NO_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("CQIA_PROGRESS_INTERVAL", "0")


def familiarity(tmp_path, out: str):
    records = tmp_path / "records.parquet"
    if not records.exists():
        write_curated(records)
        write_params(tmp_path / "params.yaml", {"batch_size": 4, "max_length": 128})
    return CliRunner().invoke(familiarity_cli, [
        "--params", str(tmp_path / "params.yaml"), "--in", str(records), "--base-model", str(tiny_model_dir()),
        "--out", str(tmp_path / out), "--reports", str(tmp_path / f"{out}-reports"),
        "--metrics", str(tmp_path / f"{out}.json")])


def test_familiarity_reports_sequences_with_a_token_share_and_writes_the_same_files(tmp_path, monkeypatch):
    quiet = familiarity(tmp_path, "quiet")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    progress_on(monkeypatch)
    shown = familiarity(tmp_path, "shown")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == quiet.stdout and shown.stdout.startswith("familiarity: 10 in, 10 kept, 0 dropped; 8 scored")
    lines = shown.stderr.splitlines()
    # 8 answers scored twice (with the question, then alone), 4 sequences a batch: 4 batches, then `done`
    assert [line.split(" (")[0] for line in lines] == [
        f"familiarity: {n} of 16 sequences" for n in (4, 8, 12, 16)] + ["familiarity: done, 16 sequences in 0s"]
    shares = [int(line.split(" (")[1].split("%")[0]) for line in lines[:-1]]
    assert shares == sorted(set(shares)) and shares[-1] == 100
    assert shares != [25, 50, 75, 100]  # a share of the padded tokens, not of the sequences
    assert "sequences/s" in lines[0] and "elapsed" in lines[0]
    for name in ("records.parquet", "rejected.parquet"):
        assert (tmp_path / "quiet" / name).read_bytes() == (tmp_path / "shown" / name).read_bytes()


def test_judge_reports_each_record_judged_and_nothing_when_all_are_cached(tmp_path, monkeypatch):
    progress_on(monkeypatch)
    with ChatServer([("", "judge")]) as server:
        first = run_judge(tmp_path, params(server.base_url))
        assert first.exit_code == 0, first.output
        judged = files(tmp_path)
        again = run_judge(tmp_path, params(server.base_url))
    assert first.stdout.startswith("judge: 10 in, 10 kept, 0 dropped; 8 judged") and first.stdout.count("\n") == 1
    lines = first.stderr.splitlines()
    assert [line.split(", ")[0] for line in lines] == [
        f"judge (0 cached): {n} of 8 records ({n / 8:.0%})" for n in range(1, 9)] + ["judge (0 cached): done"]
    assert again.exit_code == 0 and again.stderr == "" and files(tmp_path) == judged  # all cached: no work, no line
