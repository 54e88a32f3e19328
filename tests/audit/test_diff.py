"""The pure parts of the audit: polars diff functions, text diff, stage order, rendering helpers."""

from __future__ import annotations

import polars as pl

from stages.audit import diff
from stages.audit.formats import to_markdown
from stages.audit.render import Table, funnel_svg
from stages.audit.report import compared_columns, flatten, mapping_diff
from stages.audit.pipeline import merge_order
from stages.audit.textdiff import field_diff, inline, record_diff

COLUMNS = ["source", "output", "domain", "task_type"]


def records(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"id": i, "source": s, "output": o, "domain": d, "task_type": {"major": m, "minor": []}} for i, s, o, d, m in rows],
        schema={"id": pl.String, "source": pl.String, "output": pl.String, "domain": pl.List(pl.String),
                "task_type": pl.Struct({"major": pl.List(pl.String), "minor": pl.List(pl.String)})},
    )


def keyed(frame: pl.DataFrame) -> pl.DataFrame:
    return diff.keyed(frame.lazy(), COLUMNS).collect()


def rejected(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame([dict(zip(("id", "source", "reason", "detail"), r)) for r in rows], schema=diff.REJECTED_SCHEMA)


def test_kept_changes_by_id_and_content_hash():
    a = records([("r1", "zhihu", "你好", ["通用"], ["问答"]), ("r2", "zhihu", "再见", ["通用"], ["问答"]),
                 ("r3", "wiki", "北京", ["地理"], ["百科"]), ("r4", "wiki", "", [], [])])
    b = records([("r1", "zhihu", "你好", ["通用"], ["问答"]), ("r2", "zhihu", "再见", ["通用", "生活"], ["问答"]),
                 ("r4", "wiki", None, [], []), ("r5", "xhs", "新的", [], [])])
    out = diff.kept_changes(keyed(a), keyed(b))
    assert out.rows() == [("r2", "zhihu", "changed"), ("r3", "wiki", "removed"), ("r4", "wiki", "changed"),
                          ("r5", "xhs", "added")]


def test_struct_fields_are_part_of_the_content():
    a = records([("r1", "s", "x", [], ["问答"])])
    b = records([("r1", "s", "x", [], ["百科"])])
    assert diff.kept_changes(keyed(a), keyed(b))["change"].to_list() == ["changed"]


def test_rejected_by_id_joins_reasons_and_keeps_first_detail():
    rows = rejected([("r1", "s", "scrape_duplicate_key", "line 9"), ("r1", "s", "scrape_duplicate_key", "line 3"),
                     ("r2", "s", "b_reason", "x"), ("r2", "s", "a_reason", "y"), (None, "s", "scrape_invalid_utf8", "")])
    assert diff.rejected_by_id(rows).rows() == [("r1", "s", "scrape_duplicate_key", "line 3"),
                                                ("r2", "s", "a_reason+b_reason", "y")]


def test_drops_skip_ids_that_are_also_kept_and_keep_the_first_stage():
    kept = pl.DataFrame({"id": ["r1"]})
    rej = diff.rejected_by_id(rejected([("r1", "s", "scrape_duplicate_key", "dup"), ("r2", "s", "scrape_invalid_json", "bad")]))
    first = diff.stage_drops(kept, rej, "scrape@s", 0)
    assert first["id"].to_list() == ["r2"]
    later = diff.stage_drops(pl.DataFrame({"id": []}, schema={"id": pl.String}),
                             diff.rejected_by_id(rejected([("r2", "s", "clean_x", ""), ("r3", "s", "clean_x", "")])),
                             "clean", 1)
    both = diff.accumulate_drops(first, later)
    assert both.select("id", "stage").rows() == [("r2", "scrape@s"), ("r3", "clean")]


def test_status_is_kept_dropped_or_absent():
    ids = pl.DataFrame({"id": ["r1", "r2", "r3"]})
    drops = pl.DataFrame([{"id": "r2", "stage": "clean", "order": 1, "reason": "clean_too_short", "detail": "d"}],
                         schema=diff.DROPS_SCHEMA)
    out = diff.status(ids, pl.DataFrame({"id": ["r1"]}), drops).sort("id")
    assert out.rows() == [("r1", "kept", None, None, None), ("r2", "dropped", "clean", "clean_too_short", "d"),
                          ("r3", "absent", None, None, None)]


def test_rejected_changes_leave_out_what_the_kept_diff_explains():
    a = diff.rejected_by_id(rejected([("gone", "s", "x", ""), ("moved", "s", "old", ""), ("back", "s", "x", "")]))
    b = diff.rejected_by_id(rejected([("new", "s", "y", ""), ("moved", "s", "new", ""), ("dropped", "s", "z", "")]))
    kept = pl.DataFrame({"id": ["dropped", "back"], "source": ["s", "s"], "change": ["removed", "added"]})
    out = diff.rejected_changes(a, b, kept)
    assert out.select("id", "change", "reason_a", "reason_b").rows() == [
        ("gone", "no_longer_rejected", "x", None), ("moved", "reason_changed", "old", "new"),
        ("new", "newly_rejected", None, "y")]


def test_changed_fields_names_the_columns_that_differ():
    a = records([("r1", "s", "旧", ["通用"], []), ("r2", "s", "同", [], [])])
    b = records([("r1", "s", "新", ["通用"], []), ("r2", "s", "同", [], ["百科"])])
    ids = pl.DataFrame({"id": ["r1", "r2"]})
    ha = diff.field_hashes(a.lazy(), ids, COLUMNS).collect()
    hb = diff.field_hashes(b.lazy(), ids, COLUMNS).collect()
    assert diff.changed_fields(ha, hb, COLUMNS).rows() == [("r1", ["output"]), ("r2", ["task_type"])]


def test_shifts_count_rows_per_value_on_both_sides():
    a = pl.DataFrame({"source": ["zhihu", "zhihu", "wiki"]})
    b = pl.DataFrame({"source": ["zhihu", "xhs"]})
    assert diff.shifts(a, b, "source").rows() == [("wiki", 1, 0), ("xhs", 0, 1), ("zhihu", 2, 1)]


def test_columns_compared_are_the_shared_ones():
    ca = {"id": pl.String, "output": pl.String, "score": pl.Int64}
    cb = {"id": pl.String, "output": pl.String, "score": pl.Float64, "parent_id": pl.String}
    columns, as_json, notes = compared_columns(ca, cb)
    assert columns == ["output", "score"] and as_json == {"score"}
    assert notes == ["columns only in A: none, only in B: ['parent_id'] (not compared)",
                     "columns with different types, compared as JSON: ['score']"]


def test_text_diff_marks_edits_inline_for_similar_single_lines():
    assert inline("北京是中国的首都。", "北京是中华人民共和国的首都。") == "北京是中{+华人民共和+}国的首都。"
    assert inline("ad32bff8", "ff952936") is None
    assert field_diff("raw_sha256", "ad32bff8", "ff952936") == ["raw_sha256:", "  - ad32bff8", "  + ff952936"]
    assert field_diff("input", "a\nb\nc", "a\nB\nc") == ["input:", "  @@ -1,3 +1,3 @@", "    a", "  - b", "  + B", "    c"]
    assert record_diff({"domain": ["通用"], "input": None}, {"domain": ["通用", "地理"], "input": ""}, ["domain", "input"]) == (
        'domain:\n  - ["通用"]\n  + ["通用", "地理"]\n  ~ ["通用"{+, "地理"+}]\ninput:\n  - null\n  + ')


def test_merge_order_keeps_b_order_and_places_a_only_stages_after_their_predecessor():
    a = ["scrape@x", "scrape@old", "clean", "filter", "dedup"]
    b = ["scrape@x", "scrape@new", "clean", "dedup", "validate"]
    assert merge_order(a, b) == ["scrape@x", "scrape@old", "scrape@new", "clean", "filter", "dedup", "validate"]


def test_flatten_and_mapping_diff():
    a = flatten({"sources": {"z": {"path": "a.jsonl"}}, "clean": {"min": 4}, "rows_dropped": {}})
    b = flatten({"sources": {"z": {"path": "b.jsonl"}}, "clean": {"min": 4}, "rule": None})
    assert a == {"sources.z.path": "a.jsonl", "clean.min": 4, "rows_dropped": {}}
    assert mapping_diff(a, b) == [("rows_dropped", {}, None), ("rule", None, None), ("sources.z.path", "a.jsonl", "b.jsonl")]


def test_markdown_escapes_cells_and_svg_has_one_row_per_group():
    md = to_markdown([Table(["a", "b"], [["x|y", "line\nbreak"]], numeric={1})])
    assert md == "| a | b |\n|---|---:|\n| x\\|y | line<br>break |\n"
    svg = funnel_svg([{"group": "scrape", "a_kept": 10, "b_kept": 8, "a_rejected": 1, "b_rejected": 3},
                      {"group": "clean<1>", "a_kept": 5, "b_kept": 0, "a_rejected": 5, "b_rejected": 8}], "A", "B")
    assert svg.startswith("<svg") and svg.endswith("</svg>") and svg.count("<rect") == 2 + 4
    assert "clean&lt;1&gt;" in svg and "B 8 kept (−3)" in svg
