"""Build the `audit diff` report (a JSON-ready dict) from two sides.

Stages are visited in pipeline order (B's `dvc.yaml` order, with stages only A
has placed after their predecessor in A). For each record stage the kept and
rejected sets of both sides are reduced to keys and hashes (`diff.keyed`,
one row group at a time),
compared with joins, and only the first `limit` records of each category (by
id) are expanded into full entries; counts are always exact. One stage's frames
are in memory at a time. The layout is documented in stages/audit/README.md.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import Any

import polars as pl
import yaml

from stages.audit import diff
from stages.audit.revisions import Side
from stages.audit.pipeline import Pipeline, StageInfo, discover, merge_order, require_data
from stages.audit.textdiff import record_diff

REPORT_KIND = "cqia-audit-diff"
REPORT_VERSION = 1
CATEGORIES = ("added", "removed", "changed", "newly_rejected", "no_longer_rejected", "reason_changed")
VOLATILE_METRICS = ("seconds",)  # last key segments left out of metric diffs unless --all-metrics


# -- loading one stage at one side ------------------------------------------------------------


@dataclass
class Loaded:
    kept: pl.DataFrame  # id, source, _h
    rejected: pl.DataFrame  # every rejected row: id, source, reason, detail
    columns: list[str]  # columns of records.parquet
    kept_rows: int
    rejected_rows: int


def empty_loaded() -> Loaded:
    return Loaded(pl.DataFrame(schema=diff.KEYED_SCHEMA), pl.DataFrame(schema=diff.REJECTED_SCHEMA), [], 0, 0)


def stage_columns(side: Side, info: StageInfo | None) -> dict[str, pl.DataType]:
    if info is None or not info.records_path:
        return {}
    return dict(side.scan_parquet(info.records_path).collect_schema())


def load_stage(side: Side, info: StageInfo | None, columns: list[str], as_json: frozenset[str]) -> Loaded:
    if info is None or not info.records_path:
        return empty_loaded()
    records = side.scan_parquet(info.records_path)
    names = records.collect_schema().names()
    all_rows = records.select(pl.len()).collect().item()
    kept = diff.keyed_in_batches(records, all_rows, columns, as_json)
    if info.rejected_path:
        rejected = diff.rejected_rows(side.scan_parquet(info.rejected_path)).collect(engine="streaming")
    else:
        rejected = pl.DataFrame(schema=diff.REJECTED_SCHEMA)
    return Loaded(kept, rejected, names, all_rows, rejected.height)


def full_rows(side: Side, info: StageInfo | None, ids: list[str]) -> dict[str, dict[str, Any]]:
    if info is None or not info.records_path or not ids:
        return {}
    frame = side.scan_parquet(info.records_path).filter(pl.col("id").is_in(pl.Series(ids).implode())).collect()
    return {row["id"]: row for row in frame.iter_rows(named=True)}


# -- entries --------------------------------------------------------------------------------------


def _status_dict(row: dict[str, Any]) -> dict[str, Any]:
    if row["status"] == "dropped":
        return {"status": "dropped", "stage": row["stage"], "reason": row["reason"], "detail": row["detail"]}
    return {"status": row["status"]}


def _limited(frame: pl.DataFrame, limit: int) -> pl.DataFrame:
    return frame if limit <= 0 else frame.head(limit)


def _with_status(frame: pl.DataFrame, st: pl.DataFrame) -> list[dict[str, Any]]:
    rows = frame.join(st, on="id", how="left").sort("id")
    return [row for row in rows.iter_rows(named=True)]


def _category(frame: pl.DataFrame, limit: int, other: Loaded, drops: pl.DataFrame, side: str,
              fields: dict[str, str]) -> dict[str, Any]:
    """One category's entry: its count, and its first `limit` records with `fields` (name: column) and their
    status on the other side (`side`: "a" or "b", whose kept records and drops are `other` and `drops`)."""
    shown = _limited(frame, limit)
    status = diff.status(shown, other.kept, drops)
    rows = _with_status(shown.select("id", "source", *fields.values()), status)
    return {"count": frame.height, "records": [{"id": r["id"], "source": r["source"],
                                                **{name: r[column] for name, column in fields.items()},
                                                side: _status_dict(r)} for r in rows]}


def compare_stage(
    a: Loaded,
    b: Loaded,
    drops_a: pl.DataFrame,
    drops_b: pl.DataFrame,
    limit: int,
) -> tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]:
    """Categories and shifts for one stage. `drops_*` must already include this stage's drops.

    Returns the JSON-ready stage entry (without changed-record diffs, which need full rows)
    and the frame of changed ids (id, source).
    """
    kept = diff.kept_changes(a.kept, b.kept)
    rej_a, rej_b = diff.rejected_by_id(a.rejected), diff.rejected_by_id(b.rejected)
    rejected = diff.rejected_changes(rej_a, rej_b, kept)
    entry: dict[str, Any] = {}

    entry["added"] = _category(kept.filter(pl.col("change") == "added"), limit, a, drops_a, "a", {})
    entry["removed"] = _category(kept.filter(pl.col("change") == "removed"), limit, b, drops_b, "b", {})
    changed_all = kept.filter(pl.col("change") == "changed").select("id", "source")
    entry["changed"] = {"count": changed_all.height, "fields": {}, "records": []}
    entry["newly_rejected"] = _category(rejected.filter(pl.col("change") == "newly_rejected"), limit, a, drops_a, "a",
                                        {"reason": "reason_b", "detail": "detail_b"})
    entry["no_longer_rejected"] = _category(rejected.filter(pl.col("change") == "no_longer_rejected"), limit, b,
                                            drops_b, "b", {"reason": "reason_a", "detail": "detail_a"})
    moved = rejected.filter(pl.col("change") == "reason_changed")
    entry["reason_changed"] = {
        "count": moved.height,
        "records": [
            {"id": r["id"], "source": r["source"], "a_reason": r["reason_a"], "b_reason": r["reason_b"],
             "a_detail": r["detail_a"], "b_detail": r["detail_b"]}
            for r in _limited(moved, limit).iter_rows(named=True)
        ],
    }
    entry["by_source"] = diff.source_shifts(a.kept, b.kept, a.rejected, b.rejected).to_dicts()
    entry["by_reason"] = diff.shifts(a.rejected, b.rejected, "reason").to_dicts()
    return entry, changed_all


def describe_changes(
    entry: dict[str, Any],
    changed: pl.DataFrame,
    side_a: Side,
    side_b: Side,
    info_a: StageInfo | None,
    info_b: StageInfo | None,
    columns: list[str],
    as_json: frozenset[str],
    limit: int,
) -> None:
    """Fill entry['changed']: how often each field changed, and a text diff for the first `limit` records."""
    if changed.is_empty():
        return
    ha = diff.field_hashes(side_a.scan_parquet(info_a.records_path), changed, columns, as_json).collect(engine="streaming")
    hb = diff.field_hashes(side_b.scan_parquet(info_b.records_path), changed, columns, as_json).collect(engine="streaming")
    fields = diff.changed_fields(ha, hb, columns)
    counts = fields.explode("fields").group_by("fields").len().sort("fields")
    entry["changed"]["fields"] = {row["fields"]: int(row["len"]) for row in counts.iter_rows(named=True) if row["fields"]}
    shown = _limited(changed.join(fields, on="id", how="left").sort("id"), limit)
    ids = shown["id"].to_list()
    rows_a, rows_b = full_rows(side_a, info_a, ids), full_rows(side_b, info_b, ids)
    entry["changed"]["records"] = [
        {
            "id": r["id"],
            "source": r["source"],
            "fields": list(r["fields"] or []),
            "diff": record_diff(rows_a.get(r["id"], {}), rows_b.get(r["id"], {}), list(r["fields"] or [])),
        }
        for r in shown.iter_rows(named=True)
    ]


# -- params and metrics ---------------------------------------------------------------------------


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys for nested mappings; lists and scalars are leaf values."""
    if isinstance(data, dict) and (data or not prefix):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def read_structured(side: Side, path: str) -> Any:
    if not side.exists(path):
        return None
    text = side.read_text(path)
    if path.endswith(".toml"):
        import tomllib

        return tomllib.loads(text)
    if path.endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def mapping_diff(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) or (k in a) != (k in b)]


def params_diff(a: Side, b: Side, pa: Pipeline, pb: Pipeline) -> list[dict[str, Any]]:
    out = []
    for path in sorted(set(pa.params_files) | set(pb.params_files)):
        prefix = "" if path == "params.yaml" else f"{path}:"
        fa = flatten(read_structured(a, path) or {})
        fb = flatten(read_structured(b, path) or {})
        out += [{"key": f"{prefix}{k}", "a": va, "b": vb} for k, va, vb in mapping_diff(fa, fb)]
    return out


def metrics_diff(a: Side, b: Side, pa: Pipeline, pb: Pipeline, all_metrics: bool) -> list[dict[str, Any]]:
    out = []
    for path in sorted(set(pa.metric_files) | set(pb.metric_files)):
        fa = flatten(read_structured(a, path) or {})
        fb = flatten(read_structured(b, path) or {})
        for key, va, vb in mapping_diff(fa, fb):
            if not all_metrics and key.rsplit(".", 1)[-1] in VOLATILE_METRICS:
                continue
            delta = vb - va if _numeric(va) and _numeric(vb) else None
            if isinstance(delta, float):
                delta = round(delta, 6)
            out.append({"file": path, "key": key, "a": va, "b": vb, "delta": delta})
    return out


# -- JSONL outputs (the SFT set) ------------------------------------------------------------------


def jsonl_ids(side: Side, path: str) -> pl.DataFrame:
    """The `id` of every line of a JSONL file (null for lines without one)."""
    local = side.local_path(path)
    source = local if local is not None else io.BytesIO(side.read_bytes(path))
    return pl.scan_ndjson(source, schema={"id": pl.String}).collect()


def jsonl_outputs(side: Side, pipeline: Pipeline) -> dict[str, str]:
    """{file: stage} for the *.jsonl files under every stage's outputs (data/sft/train.jsonl, eval.jsonl)."""
    return {f: stage.name for stage in pipeline.stages
            for out in stage.outs for f in side.find(out) if f.endswith(".jsonl")}


def jsonl_moves(a: Side, b: Side, pa: Pipeline, pb: Pipeline, limit: int) -> list[dict[str, Any]]:
    """Ids that left one JSONL file of a stage and entered another of the same stage (train <-> eval)."""
    files_a, files_b = jsonl_outputs(a, pa), jsonl_outputs(b, pb)
    frames = []
    for side, files, key in ((a, files_a, "from"), (b, files_b, "to")):
        parts = [jsonl_ids(side, path).drop_nulls().unique().with_columns(pl.lit(path).alias(key),
                                                                          pl.lit(stage).alias("stage"))
                 for path, stage in sorted(files.items())]
        frames.append(pl.concat(parts) if parts else pl.DataFrame(schema={"id": pl.String, key: pl.String,
                                                                          "stage": pl.String}))
    moved = frames[0].join(frames[1], on=["id", "stage"]).filter(pl.col("from") != pl.col("to"))
    out = []
    for (stage, src, dst), group in sorted(moved.group_by("stage", "from", "to"), key=lambda g: g[0]):
        ids = group.sort("id")
        out.append({"stage": stage, "from": src, "to": dst, "count": ids.height,
                    "ids": _limited(ids, limit)["id"].to_list()})
    return out


def jsonl_diff(a: Side, b: Side, pa: Pipeline, pb: Pipeline, limit: int) -> list[dict[str, Any]]:
    """Lines and ids of each JSONL output (e.g. data/sft/train.jsonl) on both sides: which ids entered or left."""
    files_a, files_b = jsonl_outputs(a, pa), jsonl_outputs(b, pb)
    out = []
    for path in sorted(set(files_a) | set(files_b)):
        ids_a = jsonl_ids(a, path) if path in files_a else pl.DataFrame(schema={"id": pl.String})
        ids_b = jsonl_ids(b, path) if path in files_b else pl.DataFrame(schema={"id": pl.String})
        set_a, set_b = ids_a.drop_nulls().unique(), ids_b.drop_nulls().unique()
        added = set_b.join(set_a, on="id", how="anti").sort("id")
        removed = set_a.join(set_b, on="id", how="anti").sort("id")
        out.append({
            "file": path,
            "stage": files_b.get(path) or files_a.get(path),
            "a": ids_a.height if path in files_a else None,
            "b": ids_b.height if path in files_b else None,
            "added": {"count": added.height, "ids": _limited(added, limit)["id"].to_list()},
            "removed": {"count": removed.height, "ids": _limited(removed, limit)["id"].to_list()},
        })
    return out


# -- the whole report -----------------------------------------------------------------------------


def compared_columns(ca: dict[str, pl.DataType], cb: dict[str, pl.DataType]) -> tuple[list[str], frozenset[str], list[str]]:
    """Columns both sides share (minus id), those whose types differ, and a note on the rest."""
    if not ca or not cb:
        return [c for c in (cb or ca) if c != "id"], frozenset(), []
    common = [c for c in ca if c in cb and c != "id"]
    as_json = frozenset(c for c in common if ca[c] != cb[c])
    notes = []
    only_a, only_b = [c for c in ca if c not in cb], [c for c in cb if c not in ca]
    if only_a or only_b:
        notes.append(f"columns only in A: {only_a or 'none'}, only in B: {only_b or 'none'} (not compared)")
    if as_json:
        notes.append(f"columns with different types, compared as JSON: {sorted(as_json)}")
    return common, as_json, notes


def empty_drops() -> pl.DataFrame:
    return pl.DataFrame(schema=diff.DROPS_SCHEMA)


def diff_stage(
    a: Side,
    b: Side,
    name: str,
    order: int,
    info_a: StageInfo | None,
    info_b: StageInfo | None,
    drops: dict[str, pl.DataFrame],
    limit: int,
) -> dict[str, Any]:
    """The report entry of one record stage; `drops` ({"a": frame, "b": frame}) gains this stage's drops.

    This is the whole per-stage diff core (reading both sides from disk included);
    bench/audit_diff.py times it on two 1M-record stages.
    """
    ra = info_a if info_a and info_a.record_dir else None
    rb = info_b if info_b and info_b.record_dir else None
    stage_notes = []
    for side, info, rec in (("A", info_a, ra), ("B", info_b, rb)):
        if info is None:
            stage_notes.append(f"not in dvc.yaml at {side}")
        elif rec is None:
            stage_notes.append(f"no records.parquet at {side}")
        elif not rec.has_rejected:
            stage_notes.append(f"no rejected.parquet at {side}")
    columns, as_json, column_notes = compared_columns(stage_columns(a, ra), stage_columns(b, rb))
    stage_notes += column_notes
    la, lb = load_stage(a, ra, columns, as_json), load_stage(b, rb, columns, as_json)
    for side, loaded in (("A", la), ("B", lb)):
        if loaded.kept.height != loaded.kept_rows:
            stage_notes.append(f"{side}: {loaded.kept_rows - loaded.kept.height} kept rows without an id (not compared)")
        dup = loaded.kept.height - loaded.kept["id"].n_unique()
        if dup:
            stage_notes.append(f"{side}: {dup} repeated ids in records.parquet (first row compared)")
        loaded.kept = loaded.kept.unique("id", keep="first", maintain_order=True)
    for key, loaded in (("a", la), ("b", lb)):
        new = diff.stage_drops(loaded.kept, diff.rejected_by_id(loaded.rejected), name, order)
        drops[key] = diff.accumulate_drops(drops[key], new)
    entry, changed = compare_stage(la, lb, drops["a"], drops["b"], limit)
    if ra and rb:
        describe_changes(entry, changed, a, b, ra, rb, columns, as_json, limit)
    return {
        "stage": name,
        "group": (info_b or info_a).group,
        "path": (rb or ra).record_dir,
        "a": {"kept": la.kept_rows, "rejected": la.rejected_rows} if ra else None,
        "b": {"kept": lb.kept_rows, "rejected": lb.rejected_rows} if rb else None,
        **entry,
        "notes": stage_notes,
    }


def diff_report(a: Side, b: Side, *, limit: int = 50, all_metrics: bool = False) -> dict[str, Any]:
    pa, pb = discover(a), discover(b)
    require_data(a, pa)
    require_data(b, pb)
    notes = [*pa.notes, *pb.notes]
    by_a, by_b = pa.by_name(), pb.by_name()
    drops = {"a": empty_drops(), "b": empty_drops()}
    stages: list[dict[str, Any]] = []
    for order, name in enumerate(merge_order([s.name for s in pa.stages], [s.name for s in pb.stages])):
        info_a, info_b = by_a.get(name), by_b.get(name)
        unstored = [side.label for side, info in ((a, info_a), (b, info_b)) if info and info.unstored]
        if unstored:
            notes.append(f"stage {name}: not compared: DVC does not keep its output (cache: false), so "
                         f"{' and '.join(unstored)} cannot show it; records are compared from the next stage on")
            continue
        if not (info_a and info_a.record_dir) and not (info_b and info_b.record_dir):
            for side, info in ((a, info_a), (b, info_b)):
                if info and info.outs and not any(side.exists(o) for o in info.outs):
                    notes.append(f"stage {name}: outputs not available at {side.label} (not run, or not in the cache)")
            continue  # not a record stage (train, evaluate, assemble) or not run on either side
        stages.append(diff_stage(a, b, name, order, info_a, info_b, drops, limit))
    return {
        "kind": REPORT_KIND,
        "version": REPORT_VERSION,
        "a": a.describe(),
        "b": b.describe(),
        "limit": limit,
        "stages": stages,
        "funnel": funnel(stages),
        "jsonl": jsonl_diff(a, b, pa, pb, limit),
        "jsonl_moved": jsonl_moves(a, b, pa, pb, limit),
        "params": params_diff(a, b, pa, pb),
        "metrics": metrics_diff(a, b, pa, pb, all_metrics),
        "notes": notes,
    }


def funnel(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kept and rejected rows per dvc.yaml entry (foreach members summed), in pipeline order."""
    groups: dict[str, dict[str, Any]] = {}
    for st in stages:
        g = groups.setdefault(st["group"], {"group": st["group"], "a_kept": 0, "b_kept": 0, "a_rejected": 0, "b_rejected": 0})
        for side in ("a", "b"):
            if st[side]:
                g[f"{side}_kept"] += st[side]["kept"]
                g[f"{side}_rejected"] += st[side]["rejected"]
    return list(groups.values())
