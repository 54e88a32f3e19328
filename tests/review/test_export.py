"""`python -m stages.review export`: the queue chosen by params, as Label Studio tasks and Argilla records."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from stages.review.__main__ import cli
from tests.review.helpers import decision, record, sha, write_decisions, write_records

ROWS = [record(f"zhihu-{i}", output=f"答案{i}") for i in range(6)] + [record(f"exam-{i}", source="exam") for i in range(3)]


def export(tmp, queue: dict, *more, rows=ROWS, **columns):
    (tmp / "params.yaml").write_text(yaml.safe_dump({"review": {"guidelines": "2", "queue": queue}}), encoding="utf-8")
    records = write_records(tmp / "in.parquet", rows, **columns)
    result = CliRunner().invoke(cli, ["export", "--in", str(records), "--out", str(tmp / "queue"), "--params",
                                      str(tmp / "params.yaml"), "--decisions", str(tmp / "decisions.jsonl"), *more])
    studio = json.loads((tmp / "queue" / "label_studio.json").read_text(encoding="utf-8")) if result.exit_code == 0 else None
    return result, studio


def test_a_per_source_sample_carries_id_text_sha256_revision_and_scores(tmp_path):
    result, studio = export(tmp_path, {"per_source": 2, "seed": 1}, ppl=[float(i) for i in range(9)])
    assert result.exit_code == 0, result.output
    assert result.output == f"export: 4 tasks (sample 4; 0 already reviewed left out) in {tmp_path / 'queue'}\n"
    assert sorted(t["data"]["source"] for t in studio) == ["exam", "exam", "zhihu", "zhihu"]
    task = studio[0]
    row = next(r for r in ROWS if r["id"] == task["data"]["record_id"])
    assert task["data"]["sha256"] == sha(row)
    assert (task["data"]["output"], task["data"]["guidelines"], task["data"]["queued"]) == (row["output"], "2", "sample")
    assert task["data"]["revision"] == "workspace" or len(task["data"]["revision"]) == 40
    assert task["predictions"] == [{"model_version": "ppl", "score": task["data"]["scores"]["ppl"], "result": []}]
    argilla = json.loads((tmp_path / "queue" / "argilla.json").read_text(encoding="utf-8"))
    assert argilla[0]["metadata"]["sha256"] == sha(row) and argilla[0]["fields"]["output"] == row["output"]
    _, same = export(tmp_path, {"per_source": 2, "seed": 1}, ppl=[float(i) for i in range(9)])
    assert same == studio  # seeded: the same queue


def test_judge_verdicts_nearest_and_ids_and_reviewed_records_left_out(tmp_path):
    verdicts = ["review", "keep", "discard", None, None, None, "review", None, None]
    write_decisions(tmp_path / "decisions.jsonl", [decision(ROWS[0], "accept")])
    result, studio = export(tmp_path, {"judge_verdicts": ["review"], "nearest": {"column": "ppl", "threshold": 4.2,
                                                                                "count": 2}},
                            "--id", "exam-2", ppl=[float(i) for i in range(9)], judge_verdict=verdicts,
                            judge_score=[5.0, 8.0, 2.0, None, None, None, 5.5, None, None], judge_model=["m"] * 9)
    assert result.exit_code == 0, result.output
    assert {t["data"]["record_id"]: t["data"]["queued"] for t in studio} == {
        "exam-0": "judge review", "exam-2": "ids", "zhihu-4": "nearest ppl=4.2", "zhihu-5": "nearest ppl=4.2"}
    assert "1 already reviewed left out" in result.output  # zhihu-0: judged review, but decided on this text
    judged = next(t for t in studio if t["data"]["record_id"] == "exam-0")
    assert {p["model_version"] for p in judged["predictions"]} == {"ppl", "judge m"}


def test_a_judge_keep_verdict_preselects_accept(tmp_path):
    result, studio = export(tmp_path, {"judge_verdicts": ["keep"]}, judge_verdict=["keep"] + [None] * 8,
                            judge_score=[9.0] + [None] * 8)
    assert result.exit_code == 0, result.output
    judge = [p for p in studio[0]["predictions"] if p["model_version"].startswith("judge")]
    assert judge == [{"model_version": "judge", "score": 9.0, "result": [
        {"from_name": "decision", "to_name": "output", "type": "choices", "value": {"choices": ["accept"]}}]}]


def test_without_a_judge_column_the_judge_selection_is_empty(tmp_path):
    result, studio = export(tmp_path, {"judge_verdicts": ["review"]})
    assert result.exit_code == 0, result.output
    assert studio == []


@pytest.mark.parametrize("queue, more, message", [
    ({"nearest": {"column": "ppl", "count": 2}}, [],
     "params.yaml: review.queue.nearest.count: 2 needs both column and threshold (null = off: count 0)"),
    ({"nearest": {"column": "nope", "threshold": 1, "count": 2}}, [],
     "review.queue.nearest.column: 'nope' is not a numeric column of the records"),
    ({}, ["--id", "zhihu-99"], "ids not in the records: zhihu-99"),
    ({"per_sourse": 1}, [], "params.yaml: review.queue.per_sourse: unknown key (did you mean per_source?); "
                            "allowed: ids, include_reviewed, judge_verdicts, nearest, per_source, seed"),
])
def test_bad_queue_settings_are_one_line(tmp_path, queue, more, message):
    result, _ = export(tmp_path, queue, *more)
    assert result.exit_code == 1
    expected = message.replace("params.yaml", str(tmp_path / "params.yaml"), 1)
    assert result.output == f"Error: {expected}\n"
