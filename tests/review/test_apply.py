"""`python -m stages.review apply`: decisions applied, stale ones not, every input record accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from stages.review.__main__ import cli
from stages.review.content import text_sha256
from tests.review.helpers import decision, record, write_decisions, write_records

A, B = "ls-aaaaaaaaaaaa", "ls-bbbbbbbbbbbb"


def apply(tmp: Path, rows: list[dict], decisions: list, **extra) -> tuple[object, Path]:
    records = write_records(tmp / "in.parquet", rows, **extra)
    path = write_decisions(tmp / "decisions.jsonl", decisions)
    result = CliRunner().invoke(cli, ["apply", "--in", str(records), "--decisions", str(path), "--out",
                                      str(tmp / "out"), "--reports", str(tmp / "reports"), "--metrics",
                                      str(tmp / "metrics.json")])
    return result, tmp


def kept(tmp: Path) -> dict[str, dict]:
    return {r["id"]: r for r in pl.read_parquet(tmp / "out" / "records.parquet").iter_rows(named=True)}


def log(tmp: Path) -> list[dict]:
    return pl.read_parquet(tmp / "out" / "decisions.parquet").to_dicts()


def metrics(tmp: Path) -> dict:
    return json.loads((tmp / "metrics.json").read_text(encoding="utf-8"))


def test_accept_verifies_reject_drops_edit_replaces(tmp_path):
    ok, bad, fix, untouched = record("zhihu-1"), record("zhihu-2"), record("zhihu-3"), record("zhihu-4", human_verified=None)
    result, tmp = apply(tmp_path, [ok, bad, fix, untouched], [
        decision(ok, "accept", at="2026-11-02T10:00:00Z"),
        decision(bad, "reject", reason="wrong_answer", note="答案错了", task="2"),
        decision(fix, "edit", reviewer=B, edits={"output": "二加二等于四。"}, task="3", at="2026-11-03T09:00:00Z"),
    ], ppl=[1.5, 2.5, 3.5, None])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "review: 4 in, 3 kept, 1 dropped (review_rejected 1); 3 decisions: 3 applied, 0 stale, 0 superseded, "
        "0 overruled, 0 unknown id, 0 invalid")
    rows = kept(tmp)
    assert (rows["zhihu-1"]["human_verified"], rows["zhihu-1"]["verified_by"], rows["zhihu-1"]["verified_at"]) == \
        (True, A, "2026-11-02T10:00:00Z")
    assert rows["zhihu-3"]["output"] == "二加二等于四。"
    assert rows["zhihu-3"]["transforms"] == ["opencc:t2s", "review:edit"]
    assert (rows["zhihu-3"]["verified_by"], rows["zhihu-3"]["ppl"]) == (B, 3.5)
    assert (rows["zhihu-4"]["human_verified"], rows["zhihu-4"]["verified_by"]) == (None, None)
    rejected = pl.read_parquet(tmp / "out" / "rejected.parquet").to_dicts()
    assert [(r["id"], r["reason"], r["detail"]) for r in rejected] == [
        ("zhihu-2", "review_rejected", f"wrong_answer: 答案错了 ({A}, 2026-11-02T10:00:00Z)")]
    m = metrics(tmp)
    assert (m["rows_in"], m["rows_kept"], m["rows_dropped"]) == (4, 3, {"review_rejected": 1})
    assert m["decisions"] == {"lines": 3, "invalid": 0, "applied": 3, "stale": 0, "superseded": 0, "overruled": 0,
                              "unknown_id": 0}
    assert m["verified_by_source"]["zhihu"] == {"rows": 3, "reviewed": 2, "human_verified": 2, "reviewed_share": 0.6667}


def test_a_decision_on_text_that_has_since_changed_is_stale_and_not_applied(tmp_path):
    row = record("zhihu-1", output="新的答案。")
    seen_before = text_sha256(row["instruction"], row["input"], "旧的答案。")
    result, tmp = apply(tmp_path, [row], [decision(row, "reject", reason="wrong_answer", sha256=seen_before),
                                          decision(row, "edit", reviewer=B, edits={"output": "x"}, sha256=seen_before)])
    assert result.exit_code == 0, result.output
    assert kept(tmp)["zhihu-1"]["output"] == "新的答案。"
    assert kept(tmp)["zhihu-1"]["verified_by"] is None
    assert [(r["status"], r["status_detail"]) for r in log(tmp)] == [("stale", "made on text the record no longer has")] * 2
    assert metrics(tmp)["decisions"]["stale"] == 2


def test_a_later_decision_of_the_same_reviewer_replaces_the_earlier_one(tmp_path):
    row = record("zhihu-1")
    result, tmp = apply(tmp_path, [row], [decision(row, "reject", reason="other", at="2026-11-02T10:00:00Z"),
                                          decision(row, "accept", at="2026-11-02T11:00:00Z", annotation="2")])
    assert result.exit_code == 0, result.output
    assert kept(tmp)["zhihu-1"]["verified_by"] == A
    assert [r["status"] for r in log(tmp)] == ["superseded", "applied"]


def test_one_reject_on_the_final_text_drops_the_record_and_overrules_accepts(tmp_path):
    row = record("zhihu-1")
    result, tmp = apply(tmp_path, [row], [decision(row, "accept"), decision(row, "reject", reviewer=B, annotation="2")])
    assert result.exit_code == 0, result.output
    assert kept(tmp) == {}
    assert [(r["reviewer"], r["status"]) for r in log(tmp)] == [(A, "overruled"), (B, "applied")]
    assert pl.read_parquet(tmp / "out" / "rejected.parquet")["detail"].to_list() == \
        [f"no reason given ({B}, 2026-11-02T10:00:00Z)"]


def test_edits_chain_and_only_those_who_vouch_for_the_final_text_verify_it(tmp_path):
    row = record("zhihu-1")
    edited = {**row, "output": "二加二等于四。"}
    result, tmp = apply(tmp_path, [row], [
        decision(row, "accept", reviewer=B, at="2026-11-02T09:00:00Z"),  # on the original: stale after the edit
        decision(row, "edit", edits={"output": edited["output"]}, at="2026-11-02T10:00:00Z", annotation="2"),
        decision(edited, "accept", reviewer="ag-cccccccccccc", at="2026-11-03T10:00:00Z", annotation="3"),
    ])
    assert result.exit_code == 0, result.output
    assert kept(tmp)["zhihu-1"]["verified_by"] == f"ag-cccccccccccc,{A}"  # sorted
    assert kept(tmp)["zhihu-1"]["verified_at"] == "2026-11-03T10:00:00Z"
    assert [(r["reviewer"], r["status"]) for r in log(tmp)] == [(B, "stale"), (A, "applied"), ("ag-cccccccccccc", "applied")]


def test_decisions_for_records_not_in_the_input_are_counted_as_unknown(tmp_path):
    row, gone = record("zhihu-1"), record("zhihu-9")
    result, tmp = apply(tmp_path, [row], [decision(gone, "accept")])
    assert result.exit_code == 0, result.output
    assert [(r["id"], r["status"]) for r in log(tmp)] == [("zhihu-9", "unknown_id")]
    assert metrics(tmp)["rows_kept"] == 1 and metrics(tmp)["decisions"]["unknown_id"] == 1


def test_bad_lines_cost_only_themselves_one_line_each(tmp_path):
    row = record("zhihu-1")
    path = write_decisions(tmp_path / "decisions.jsonl", [decision(row, "accept")])
    good = path.read_text(encoding="utf-8")
    emptied = json.loads(good) | {"decision": "edit", "edits": {"output": "  "}, "annotation_id": "2"}
    path.write_text("{not json\n" + json.dumps(emptied) + "\n" + good, encoding="utf-8")
    records = write_records(tmp_path / "in.parquet", [row])
    result = CliRunner().invoke(cli, ["apply", "--in", str(records), "--decisions", str(path), "--out",
                                      str(tmp_path / "out"), "--reports", str(tmp_path / "r"), "--metrics",
                                      str(tmp_path / "metrics.json")])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"{path}:1: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        f"{path}:2: edit refused: it empties output (reject the record instead)"]
    assert metrics(tmp_path)["decisions"]["invalid"] == 2 and metrics(tmp_path)["decisions"]["applied"] == 1


def test_a_missing_decisions_file_is_one_line(tmp_path):
    records = write_records(tmp_path / "in.parquet", [record("zhihu-1")])
    result = CliRunner().invoke(cli, ["apply", "--in", str(records), "--decisions", str(tmp_path / "nope.jsonl"),
                                      "--out", str(tmp_path / "o"), "--reports", str(tmp_path / "r"),
                                      "--metrics", str(tmp_path / "m.json")])
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path / 'nope.jsonl'}: decisions file not found "
                             "(create it empty: it is append-only)\n")
