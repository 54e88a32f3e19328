"""`python -m stages.review import`: Label Studio and Argilla exports to review/decisions.jsonl, append-only,
one line per bad entry, the rest still imported."""

from __future__ import annotations

import json

from click.testing import CliRunner

from stages.review.__main__ import cli
from stages.review.content import pseudonym
from stages.review.decisions import read_decisions
from tests.review.helpers import ls_annotation, ls_result, ls_task, record, sha, write_json, write_records

ROW1, ROW2, ROW3 = record("zhihu-1"), record("zhihu-2", output="三"), record("zhihu-3")


def run_import(tmp, export, *more):
    return CliRunner().invoke(cli, ["import", "--in", str(export), "--decisions", str(tmp / "decisions.jsonl"), *more])


def test_label_studio_export_becomes_one_decision_per_annotation(tmp_path):
    export = write_json(tmp_path / "export.json", [
        ls_task(7, ROW1, [ls_annotation(11, 1, ls_result("accept")),
                          ls_annotation(12, 2, ls_result("edit", "incomplete", "加了细节", output="二加二等于四。"),
                                        at="2026-11-02T18:30:00+08:00")]),
        ls_task(8, ROW2, [ls_annotation(13, 2, ls_result("reject", "wrong_answer")),
                          ls_annotation(14, 1, [], cancelled=True)]),
    ])
    result = run_import(tmp_path, export)
    assert result.exit_code == 0, result.output
    assert result.output == (f"import: {export}: 3 decisions: 3 appended to {tmp_path / 'decisions.jsonl'}, "
                             "0 already there; 1 skipped (cancelled, draft or discarded)\n")
    decisions, problems = read_decisions(tmp_path / "decisions.jsonl")
    assert problems == []
    edit = decisions[1]
    assert (edit.id, edit.sha256, edit.decision, edit.edits, edit.reason, edit.note) == \
        ("zhihu-1", sha(ROW1), "edit", {"output": "二加二等于四。"}, "incomplete", "加了细节")
    assert (edit.reviewer, edit.reviewed_at, edit.tool, edit.task_id, edit.annotation_id, edit.guidelines) == \
        (pseudonym("label-studio", 2), "2026-11-02T10:30:00Z", "label-studio", "7", "12", "1")
    assert decisions[0].reviewer != decisions[1].reviewer and decisions[0].reviewer.startswith("ls-")


def test_reimporting_the_same_export_adds_nothing_and_never_rewrites(tmp_path):
    export = write_json(tmp_path / "export.json", [ls_task(7, ROW1, [ls_annotation(11, 1, ls_result("accept"))])])
    assert run_import(tmp_path, export).exit_code == 0
    before = (tmp_path / "decisions.jsonl").read_bytes()
    result = run_import(tmp_path, export)
    assert result.exit_code == 0
    assert "0 appended" in result.output and "1 already there" in result.output
    assert (tmp_path / "decisions.jsonl").read_bytes() == before
    changed = write_json(tmp_path / "export2.json", [ls_task(7, ROW1, [
        ls_annotation(11, 1, ls_result("reject", "other"), at="2026-11-05T00:00:00Z")])])
    assert "1 appended" in run_import(tmp_path, changed).output  # changed in the tool: the new version is added
    after = (tmp_path / "decisions.jsonl").read_bytes()
    assert after.startswith(before) and after.count(b"\n") == 2


def test_every_bad_entry_is_one_line_and_the_rest_is_imported(tmp_path):
    foreign = {"id": 9, "data": {"text": "not ours"}, "annotations": [ls_annotation(90, 1, ls_result("accept"))]}
    export = write_json(tmp_path / "export.json", [
        ls_task(7, ROW1, [ls_annotation(11, 1, ls_result("accept"))]),
        foreign,
        ls_task(8, ROW2, [ls_annotation(12, 1, ls_result(None)),
                          ls_annotation(13, 1, ls_result("edit", output="   ")),
                          ls_annotation(14, 1, ls_result("accept", output="typed anyway")),
                          ls_annotation(15, 1, ls_result("maybe")),
                          {**ls_annotation(16, 1, ls_result("accept")), "completed_by": None}]),
        ls_task(10, ROW3, [ls_annotation(17, 1, ls_result("accept"))]),
        "a string",
    ])
    candidates = write_records(tmp_path / "candidates.parquet", [ROW1, ROW2])
    result = run_import(tmp_path, export, "--candidates", str(candidates))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{export}: task 9: data lacks record_id, sha256 (not a task written by `python -m stages.review export`)",
        f"{export}: task 8 annotation 12: no decision chosen (accept, reject or edit)",
        f"{export}: task 8 annotation 13: edit refused: it empties output (reject the record instead)",
        f"{export}: task 8 annotation 14: corrections typed but the decision is 'accept'; choose edit, or clear "
        "the correction boxes",
        f"{export}: task 8 annotation 15: decision: must be accept, reject or edit, got 'maybe'",
        f"{export}: task 8 annotation 16: no reviewer (completed_by)",
        f"{export}: entry 5: neither a Label Studio task (data, annotations) nor an Argilla record (fields, "
        "metadata, responses)",
        f"{export}: task 10 annotation 17: record zhihu-3 does not exist in {candidates}",
    ]
    assert result.stdout == (f"import: {export}: 1 decisions: 1 appended to {tmp_path / 'decisions.jsonl'}, "
                             "0 already there; 8 bad entries (listed above, not imported)\n")
    assert [d.id for d in read_decisions(tmp_path / "decisions.jsonl")[0]] == ["zhihu-1"]


def test_a_malformed_file_is_one_line_and_imports_nothing(tmp_path):
    for text, message in [('[{"id": 1,', "not valid JSON: Expecting property name enclosed in double quotes "
                                         "(line 1, column 11)"),
                          ('{"tasks": []}', "not a Label Studio or Argilla export (expected a JSON list of tasks or "
                                            "records, got a JSON dict)")]:
        export = tmp_path / "export.json"
        export.write_text(text, encoding="utf-8")
        result = run_import(tmp_path, export)
        assert (result.exit_code, result.output) == (1, f"Error: {export}: {message}\n")
    assert not (tmp_path / "decisions.jsonl").exists()


def test_a_torn_last_line_is_refused_not_repaired(tmp_path):
    export = write_json(tmp_path / "export.json", [ls_task(7, ROW1, [ls_annotation(11, 1, ls_result("accept"))])])
    torn = tmp_path / "decisions.jsonl"
    torn.write_text('{"id": "zhihu-1", "sha', encoding="utf-8")
    result = run_import(tmp_path, export)
    assert (result.exit_code, result.output) == (1, f"Error: {torn}: the last line has no newline (an interrupted "
                                                    "write?); fix that line by hand, then import again (nothing was "
                                                    "appended)\n")
    assert torn.read_text(encoding="utf-8") == '{"id": "zhihu-1", "sha'


def test_argilla_export_one_decision_per_user(tmp_path):
    meta = {"record_id": ROW1["id"], "sha256": sha(ROW1), "guidelines": "1", "revision": "workspace"}
    export = write_json(tmp_path / "argilla.json", [{
        "id": "zhihu-1:abc", "fields": {"instruction": ROW1["instruction"], "output": ROW1["output"]},
        "metadata": meta, "suggestions": {}, "vectors": {}, "_server_id": "x",
        "responses": {"decision": [{"value": "edit", "user_id": "u-1"}, {"value": "accept", "user_id": "u-2"},
                                   {"value": "reject", "user_id": "u-3", "status": "draft"}],
                      "edit_output": [{"value": "二加二等于四。", "user_id": "u-1"}],
                      "reason": [{"value": "incomplete", "user_id": "u-1"}]}}])
    result = CliRunner().invoke(cli, ["import", "--in", str(export), "--decisions", str(tmp_path / "d.jsonl")])
    assert result.exit_code == 0, result.output
    assert "2 decisions: 2 appended" in result.output and "1 skipped" in result.output
    decisions = read_decisions(tmp_path / "d.jsonl")[0]
    assert [(d.reviewer, d.decision, d.edits, d.reason, d.tool, d.task_id) for d in decisions] == [
        (pseudonym("argilla", "u-1"), "edit", {"output": "二加二等于四。"}, "incomplete", "argilla", "zhihu-1:abc"),
        (pseudonym("argilla", "u-2"), "accept", {}, None, "argilla", "zhihu-1:abc")]
    again = CliRunner().invoke(cli, ["import", "--in", str(export), "--decisions", str(tmp_path / "d.jsonl")])
    assert "0 appended" in again.output and "2 already there" in again.output
    assert json.loads((tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()[0])["reviewed_at"].endswith("Z")
