"""The stage contract helper: invariant, filters, deterministic atomic writes."""

import json
from pathlib import Path

import polars as pl
import pytest

from stages.lib.contract import Filter, check_invariant, split_by_filters, write_stage_outputs
from stages.lib.errors import StageError
from stages.lib.record import RECORD_SCHEMA, empty_rejected, records_frame
from stages.lib.timings import timings_path
from tests.lib.test_record import sample_row


def frame_of(n: int) -> pl.DataFrame:
    rows = []
    for i in range(n):
        row = sample_row()
        rows.append(row | {"id": f"zhihu-{i:016x}", "output": "答" * i})
    return records_frame(rows)


def test_invariant_holds_and_breaks_with_a_clear_message():
    check_invariant("clean", 5, 3, {"clean_too_short": 2})
    with pytest.raises(StageError, match=r"clean: rows_in \(5\) != rows_kept \(3\) \+ rows_dropped \(1\)"):
        check_invariant("clean", 5, 3, {"clean_too_short": 1})


def test_split_by_filters_first_reason_wins_and_nothing_is_lost():
    frame = frame_of(6)
    filters = [
        Filter("clean_empty_output", pl.col("output").str.len_chars() == 0, pl.lit("output is empty")),
        Filter("clean_too_short", pl.col("output").str.len_chars() < 3,
               pl.format("output has {} chars", pl.col("output").str.len_chars())),
    ]
    kept, rejected = split_by_filters(frame, filters)
    assert kept.height + rejected.height == 6
    assert kept["id"].to_list() == [f"zhihu-{i:016x}" for i in (3, 4, 5)]
    assert rejected.select("reason", "detail").rows() == [
        ("clean_empty_output", "output is empty"),
        ("clean_too_short", "output has 1 chars"),
        ("clean_too_short", "output has 2 chars"),
    ]


def test_outputs_are_byte_identical_across_runs_and_sorted(tmp_path):
    frame = frame_of(5)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=7)
    for name, data in (("a", frame), ("b", shuffled)):
        write_stage_outputs("t", tmp_path / name, tmp_path / f"{name}.json", kept=data,
                            rejected=empty_rejected(), rows_in=5, started=0.0)
    for file in ("records.parquet", "rejected.parquet"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    written = pl.read_parquet(tmp_path / "b" / "records.parquet")
    assert written.schema == RECORD_SCHEMA
    assert written["id"].to_list() == sorted(frame["id"].to_list())
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["records.parquet", "rejected.parquet"]


def test_metrics_file_has_the_contract_keys(tmp_path):
    frame = frame_of(4)
    kept, rejected = split_by_filters(frame, [Filter("clean_too_short", pl.col("output").str.len_chars() < 2)])
    write_stage_outputs("t", tmp_path / "out", tmp_path / "m.json", kept=kept, rejected=rejected,
                        rows_in=4, started=0.0, extra_metrics={"pii": {"phone": 0}})
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["rows_in"] == 4 and metrics["rows_kept"] == 2
    assert metrics["rows_dropped"] == {"clean_too_short": 2}
    assert metrics["pii"] == {"phone": 0} and "seconds" not in metrics
    timings = json.loads((tmp_path / "m.timings.json").read_text())
    assert isinstance(timings["seconds"], float)


def test_metrics_are_deterministic_and_timings_go_to_reports(tmp_path):
    frame = frame_of(3)
    texts = []
    for started in (0.0, 123.0):
        write_stage_outputs("t", tmp_path / "out", tmp_path / "metrics" / "t.json", kept=frame,
                            rejected=empty_rejected(), rows_in=3, started=started)
        texts.append((tmp_path / "metrics" / "t.json").read_text())
    assert texts[0] == texts[1]
    assert json.loads((tmp_path / "reports" / "timings" / "t.json").read_text())["seconds"] > 0
    assert sorted(p.name for p in (tmp_path / "metrics").iterdir()) == ["t.json"]


def test_timings_path_mirrors_the_metrics_path():
    assert timings_path("metrics/scrape/a.json") == Path("reports/timings/scrape/a.json")
    assert timings_path("/r/metrics/clean.json") == Path("/r/reports/timings/clean.json")
    assert timings_path("out/m.json") == Path("out/m.timings.json")


def test_write_refuses_to_lose_a_row(tmp_path):
    with pytest.raises(StageError, match="a record was lost or duplicated"):
        write_stage_outputs("t", tmp_path / "out", tmp_path / "m.json", kept=frame_of(3),
                            rejected=empty_rejected(), rows_in=4, started=0.0)
    assert not (tmp_path / "out" / "records.parquet").exists()


def test_extra_columns_missing_from_rejected_are_written_as_typed_nulls(tmp_path):
    kept = frame_of(2).with_columns(pl.lit(0.5).alias("score"))
    write_stage_outputs("t", tmp_path / "out", tmp_path / "m.json", kept=kept, rejected=empty_rejected(),
                        rows_in=2, started=0.0, extra_columns=("score",))
    rejected = pl.read_parquet(tmp_path / "out" / "rejected.parquet")
    assert rejected.columns[-1] == "score" and rejected.schema["score"] == pl.Float64


def test_outputs_are_readable_by_others(tmp_path):
    """Atomic writes go through mkstemp (0600); the written file gets 0666 & ~umask like any other."""
    import os

    from stages.lib import io as io_module

    write_stage_outputs("t", tmp_path / "out", tmp_path / "m.json", kept=frame_of(2),
                        rejected=empty_rejected(), rows_in=2, started=0.0)
    expected = io_module.file_mode()
    for path in (tmp_path / "out" / "records.parquet", tmp_path / "m.json", tmp_path / "m.timings.json"):
        assert os.stat(path).st_mode & 0o777 == expected, path


# ---- the streaming writer (write_stage_outputs_streaming): same files, one row group in memory ----------

def split_frame(frame: pl.DataFrame, sizes: list[int]):
    """(kept, rejected) batches of `frame` in id order, cut at the given sizes (cycled); every third
    record rejected."""
    from stages.lib.record import reject_frame

    frame = frame.sort("id").with_row_index("_n")
    lo, k = 0, 0
    while lo < frame.height:
        part = frame.slice(lo, sizes[k % len(sizes)])
        drop = pl.col("_n") % 3 == 0
        yield (part.filter(~drop).drop("_n"),
               reject_frame(part.filter(drop).drop("_n"), "t_third", pl.format("row {}", pl.col("id"))))
        lo, k = lo + part.height, k + 1


def whole(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The (kept, rejected) split of a non-empty frame as one batch."""
    return next(split_frame(frame, [frame.height]))


def small_ids_frame(n: int) -> pl.DataFrame:
    base = sample_row()
    rows = [base | {"id": f"t-{i:08d}", "output": f"答{i}", "domain": [f"d{i % 7}"] * (i % 3),
                    "transforms": ["x"] * (i % 2)} for i in range(n)]
    return records_frame(rows)


@pytest.mark.parametrize("sizes", [[1], [2, 5], [7]])
def test_streaming_writes_the_same_bytes_as_the_whole_frame_writer(tmp_path, sizes):
    from stages.lib.contract import write_stage_outputs_streaming

    frame = frame_of(7).sample(fraction=1.0, shuffle=True, seed=3)
    kept, rejected = whole(frame)
    whole_metrics = write_stage_outputs("t", tmp_path / "a", tmp_path / "a.json", kept=kept, rejected=rejected,
                                        rows_in=7, started=0.0, extra_metrics={"x": 1})
    stream_metrics = write_stage_outputs_streaming("t", tmp_path / "b", tmp_path / "b.json",
                                                   batches=split_frame(frame, sizes), rows_in=7, started=0.0,
                                                   extra_metrics=lambda: {"x": 1})
    assert whole_metrics == stream_metrics == {"rows_in": 7, "rows_kept": 4, "rows_dropped": {"t_third": 3}, "x": 1}
    for file in ("records.parquet", "rejected.parquet"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["records.parquet", "rejected.parquet"]


def test_streaming_an_empty_input_writes_the_same_empty_files(tmp_path):
    from stages.lib.contract import write_stage_outputs_streaming

    write_stage_outputs("t", tmp_path / "a", tmp_path / "a.json", kept=frame_of(0), rejected=empty_rejected(),
                        rows_in=0, started=0.0)
    write_stage_outputs_streaming("t", tmp_path / "b", tmp_path / "b.json", batches=iter([]), rows_in=0, started=0.0)
    for file in ("records.parquet", "rejected.parquet"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_streaming_beyond_one_row_group_gives_the_same_bytes_whatever_the_batches(tmp_path):
    from stages.lib.contract import ROW_GROUP, write_stage_outputs_streaming

    frame = small_ids_frame(ROW_GROUP + 1000)
    for name, sizes in (("a", [50_000]), ("b", [7, 70_001, 3])):
        write_stage_outputs_streaming("t", tmp_path / name, tmp_path / f"{name}.json",
                                      batches=split_frame(frame, sizes), rows_in=frame.height, started=0.0)
    for file in ("records.parquet", "rejected.parquet"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    import pyarrow.parquet as pq

    assert pq.read_metadata(tmp_path / "a" / "records.parquet").num_row_groups == 1  # 2/3 of the rows are kept
    written = pl.read_parquet(tmp_path / "a" / "rejected.parquet")
    assert written.height == (frame.height + 2) // 3 and written["id"].is_sorted()
    kept = pl.read_parquet(tmp_path / "a" / "records.parquet")
    assert kept.equals(whole(frame)[0].sort("id"))


def test_streaming_refuses_to_lose_a_row_and_leaves_the_old_folder(tmp_path):
    from stages.lib.contract import write_stage_outputs_streaming

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    with pytest.raises(StageError, match="a record was lost or duplicated"):
        write_stage_outputs_streaming("t", tmp_path / "out", tmp_path / "m.json",
                                      batches=split_frame(frame_of(3), [3]), rows_in=4, started=0.0)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.txt"]


def test_streaming_refuses_batches_out_of_id_order(tmp_path):
    from stages.lib.contract import write_stage_outputs_streaming

    batches = list(split_frame(frame_of(4), [2]))
    with pytest.raises(StageError, match=r"internal: rejected batches are not in id order \(.zhihu-0000000000000000. after"):
        write_stage_outputs_streaming("t", tmp_path / "out", tmp_path / "m.json", batches=reversed(batches),
                                      rows_in=4, started=0.0)
    assert not (tmp_path / "out").exists()
