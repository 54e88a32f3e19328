"""The dedup index: a run that reuses it writes the same files, byte for byte, as a run without it (records
added, removed and changed, a new record outranking an old keeper, small bucket windows); an index built
with other params or code, or damaged, is never reused: the stage says why in one line and computes
everything."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest

from stages.dedup import index as index_files
from stages.dedup.config import DedupParams
from stages.dedup.stage import run_dedup
from tests.dedup.helpers import frame, random_text, record, substitute
from tests.dedup.test_decision import corpus

OUTPUTS = ("records.parquet", "rejected.parquet", "clusters.parquet")


def added_records() -> pl.DataFrame:
    """Records for a second fetch: an exact copy of f00 and a near copy of f01 that outrank their old
    keepers (human verified), near copies of f02, a near copy of the template pair and new texts."""
    rng = random.Random(99)
    old = {row["id"]: row for row in corpus().iter_rows(named=True)}
    rows = [record("n-f00-verified", old["f00"]["output"], human_verified=True),
            record("n-f01-verified", substitute(old["f01"]["output"], 0.01, rng), human_verified=True),
            record("n-f02-a", substitute(old["f02"]["output"], 0.01, rng)),
            record("n-f02-b", substitute(old["f02"]["output"], 0.02, rng), answer_from="human"),
            record("n-t-4", "冻结账户", instruction=old["t-1"]["instruction"] + "吧")]
    rows += [record(f"n-new-{i}", random_text(rng, rng.randint(40, 300))) for i in range(6)]
    return frame(rows)


def run(tmp_path: Path, name: str, records: pl.DataFrame, params: DedupParams, index: Path | None) -> dict:
    records.write_parquet(tmp_path / f"{name}.parquet", row_group_size=8)  # several row groups to skip
    metrics, _ = run_dedup(tmp_path / f"{name}.parquet", tmp_path / name, tmp_path / f"{name}.json", params,
                           index=index)
    return metrics


def assert_same_outputs(tmp_path: Path, a: str, b: str) -> None:
    for file in OUTPUTS:
        assert (tmp_path / a / file).read_bytes() == (tmp_path / b / file).read_bytes(), file
    ma, mb = (json.loads((tmp_path / f"{name}.json").read_text()) for name in (a, b))
    ma.pop("dedup_index", None), mb.pop("dedup_index", None)
    assert ma == mb


@pytest.mark.parametrize(("verify", "bucket_window"), [("exact", 64), ("exact", 2), ("estimate", 64)])
def test_reusing_the_index_writes_what_a_full_run_writes(tmp_path, verify, bucket_window):
    params = DedupParams(verify=verify, bucket_window=bucket_window, batch_size=16)
    index = tmp_path / "index"
    first = corpus()
    run(tmp_path, "a", first, params, index)
    grown = pl.concat([first, added_records()]).sort("id")
    metrics = run(tmp_path, "ab-reused", grown, params, index)
    full = run(tmp_path, "ab-full", grown, params, None)
    assert_same_outputs(tmp_path, "ab-reused", "ab-full")
    note = metrics["dedup_index"]
    assert note["used"] and note["reused_records"] == first.height and note["sketched_records"] == 11
    assert 0 < note["measured_pairs"] and note["reused_pairs"] > note["measured_pairs"]
    kept = pl.read_parquet(tmp_path / "ab-full" / "clusters.parquet")
    assert {"n-f00-verified", "n-f01-verified"} <= set(kept["kept_id"])  # new records became keepers
    assert full["dedup"]["near_duplicates"] > 20

    # then records go (two keepers among them) and one changes its text under the same id
    changed = grown.filter(~pl.col("id").is_in(["n-f00-verified", "f01", "f03", "t-3"])).with_columns(
        output=pl.when(pl.col("id") == "f04").then(pl.lit(random_text(random.Random(5), 200))).otherwise("output"))
    metrics = run(tmp_path, "c-reused", changed, params, index)
    run(tmp_path, "c-full", changed, params, None)
    assert_same_outputs(tmp_path, "c-reused", "c-full")
    assert metrics["dedup_index"]["sketched_records"] == 1  # f04; the others are reused


def damage(index: Path, how: str) -> str:
    """Damage the index; the reason the stage must give."""
    if how == "truncated":
        data = (index / "keys.npy").read_bytes()
        (index / "keys.npy").write_bytes(data[: len(data) // 2])
        return f"{index / 'keys.npy'} is truncated ({len(data) // 2} of {len(data)} bytes)"
    if how == "flipped":
        data = bytearray((index / "records.arrow").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (index / "records.arrow").write_bytes(bytes(data))
        return f"{index / 'records.arrow'} does not match its checksum"
    if how == "missing":
        (index / "texts.arrow").unlink()
        return f"{index / 'texts.arrow'} is missing"
    (index / "index.json").write_text("{not json", encoding="utf-8")
    return f"{index} is unreadable (JSONDecodeError: "


@pytest.mark.parametrize("how", ["truncated", "flipped", "missing", "not json"])
def test_a_damaged_index_is_one_line_and_a_full_computation(tmp_path, capsys, how):
    params = DedupParams(batch_size=16)
    index = tmp_path / "index"
    run(tmp_path, "a", corpus(), params, index)
    reason = damage(index, how)
    capsys.readouterr()
    grown = pl.concat([corpus(), added_records()]).sort("id")
    metrics = run(tmp_path, "ab-damaged", grown, params, index)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"dedup: not reusing the index: {reason}"), err
    assert err[0].endswith("; computing every record")
    assert metrics["dedup_index"]["used"] is False and metrics["dedup_index"]["sketched_records"] == grown.height
    run(tmp_path, "ab-full", grown, params, None)
    assert_same_outputs(tmp_path, "ab-damaged", "ab-full")
    assert run(tmp_path, "again", grown, params, index)["dedup_index"]["used"]  # the index was rebuilt


@pytest.mark.parametrize(("change", "reason"), [
    ({"ngram": 4}, "it was built with ngram 5, now 4"),
    ({"threshold": 0.7}, "it was built with threshold 0.8, now 0.7"),
    ({"scheme": "affine32"}, "it was built with scheme 'oph', now 'affine32'"),
    ({"seed": 2}, "it was built with seed 1, now 2"),
    ({"fields": ("instruction", "output")}, "it was built with fields ['instruction', 'input', 'output'], now "
                                            "['instruction', 'output']"),
    ({}, "it was built by other dedup code (stages/dedup changed)"),
])
def test_an_index_built_otherwise_is_not_reused_and_the_stage_says_why(tmp_path, capsys, monkeypatch, change,
                                                                        reason):
    params = DedupParams(batch_size=16)
    index = tmp_path / "index"
    run(tmp_path, "a", corpus(), params, index)
    if not change:
        monkeypatch.setattr(index_files, "code_digest", lambda: "another version")
    capsys.readouterr()
    other = params.model_copy(update=change)
    metrics = run(tmp_path, "b", corpus(), other, index)
    assert capsys.readouterr().err == f"dedup: not reusing the index: {reason}; computing every record\n"
    assert metrics["dedup_index"] | {} == {"used": False, "reason": reason, "reused_records": 0,
                                           "sketched_records": corpus().height, "reused_pairs": 0,
                                           "measured_pairs": metrics["dedup_index"]["measured_pairs"]}
    run(tmp_path, "b-full", corpus(), other, None)
    assert_same_outputs(tmp_path, "b", "b-full")
