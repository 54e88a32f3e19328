"""`audit trace ID`: one record's path through every stage at one side.

For each stage (pipeline order) the record is `kept` (with the transforms and
fields that stage changed), `rejected` (reason and detail), `not reached`
(dropped earlier) or `absent`. Members of a `foreach` group in which the record
does not appear (the other sources' `scrape@<key>`) are left out. Also: the
raw location (`source_uri`), `raw_sha256` and the stage's other outputs (the
raw capture archive), the duplicate cluster (any `clusters.parquet` output) and
kept partner, rewrites derived from it (records with `parent_id` = ID), and
where it is in the SFT set (`*.jsonl` outputs whose lines carry `"id"`), and its review history (every
decision of the review stage's `decisions.parquet` log: who, when, what, applied, stale or other status).
`texts`: the instruction, input and output as each stage left them, with a
marked diff (`- old`, `+ new`, `~` inline `[-del-]{+ins+}`) where they changed.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from stages.audit.revisions import Side
from stages.audit.textdiff import record_diff
from stages.audit.pipeline import CLUSTERS, Pipeline, StageInfo, discover, require_data, review_logs

TRACE_KIND = "cqia-audit-trace"
TRACE_VERSION = 1
STAGE_DEFAULTS: dict[str, Any] = {"stage": None, "path": None, "status": None, "transforms_added": [],
                                  "fields_changed": [], "reason": None, "detail": None, "also_rejected": []}
PROVENANCE = ("source", "source_uri", "raw_sha256", "fetched_at", "license")
TEXT = ("instruction", "input", "output")


def _rows(side: Side, path: str | None, column: str, value: str) -> list[dict[str, Any]]:
    if not path:
        return []
    lf = side.scan_parquet(path)
    names = lf.collect_schema().names()
    if column not in names:
        return []
    order = [c for c in ("id", "reason", "detail", "source_uri") if c in names]
    return lf.filter(pl.col(column) == value).collect().sort(order, nulls_last=True).to_dicts()


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _transforms_added(previous: list[str] | None, current: list[str] | None) -> list[str]:
    previous, current = list(previous or []), list(current or [])
    if current[: len(previous)] == previous:
        return current[len(previous):]
    return [t for t in current if t not in previous] or current


def cluster_files(side: Side, pipeline: Pipeline) -> list[tuple[str, str]]:
    """(stage, path) of every clusters.parquet output."""
    found = []
    for stage in pipeline.stages:
        for out in stage.outs:
            for path in (out, f"{out}/{CLUSTERS}"):
                if path.endswith(CLUSTERS) and side.is_file(path):
                    found.append((stage.name, path))
    return found


def jsonl_files(side: Side, pipeline: Pipeline) -> list[str]:
    return sorted({f for stage in pipeline.stages for out in stage.outs
                   for f in side.find(out) if f.endswith(".jsonl")})


def find_in_jsonl(side: Side, path: str, ids: set[str]) -> list[tuple[str, int]]:
    """(id, line number) for lines of `path` whose JSON object has "id" in `ids`."""
    hits = []
    needles = [i.encode() for i in ids]
    for number, line in enumerate(side.read_bytes(path).split(b"\n"), start=1):
        if not any(n in line for n in needles):
            continue
        try:
            record_id = json.loads(line).get("id")
        except (ValueError, AttributeError):
            continue
        if record_id in ids:
            hits.append((record_id, number))
    return hits


def text_entry(stage: str, status: str, row: dict[str, Any], before: list[dict[str, Any]]) -> dict[str, Any]:
    """The record's text as `stage` left it, and a marked diff against the previous stage's text."""
    text = {k: row.get(k) for k in TEXT}
    previous = before[-1]["text"] if before else None
    changed = [k for k in TEXT if previous is not None and (previous[k] or "") != (text[k] or "")]
    return {"stage": stage, "status": status, "text": text, "changed": changed,
            "diff": record_diff(previous, text, changed) if changed else ""}


def stage_row(info: StageInfo, side: Side, record_id: str) -> tuple[dict | None, list[dict]]:
    kept = _rows(side, info.records_path, "id", record_id)
    rejected = _rows(side, info.rejected_path, "id", record_id)
    return (kept[0] if kept else None), rejected


def trace(side: Side, record_id: str) -> dict[str, Any]:
    pipeline = discover(side)
    require_data(side, pipeline)
    notes = list(pipeline.notes)
    stages: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    first_stage: StageInfo | None = None
    previous: dict[str, Any] | None = None
    dropped: dict[str, Any] | None = None
    rewrites: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    parent = None
    groups_seen: dict[str, bool] = {}
    pending_absent: dict[str, dict[str, Any]] = {}
    for info in pipeline.stages:
        if not info.record_dir:
            if info.outs and not any(side.exists(o) for o in info.outs):
                notes.append(f"stage {info.name}: outputs not available at {side.label}")
            continue
        kept, rejected = stage_row(info, side, record_id)
        for row in _rows(side, info.records_path, "parent_id", record_id):
            rewrites.append({"stage": info.name, "id": row["id"], "rule": row.get("rule"), "model": row.get("model")})
        is_member = "@" in info.name
        if kept is None and not rejected:
            entry = {"stage": info.name, "status": "not reached" if dropped else "absent"}
            if is_member:
                groups_seen.setdefault(info.group, False)
                pending_absent.setdefault(info.group, {"stage": f"{info.group}@*", "status": entry["status"],
                                                       "_index": len(stages)})
                continue
            stages.append(entry)
            continue
        if is_member:
            groups_seen[info.group] = True
        row = kept or rejected[0]
        texts.append(text_entry(info.name, "kept" if kept is not None else "rejected", row, texts))
        if first is None:
            first, first_stage = row, info
        entry: dict[str, Any] = {"stage": info.name, "path": info.record_dir}
        if kept is not None:
            entry["status"] = "kept"
            entry["transforms_added"] = _transforms_added(previous and previous.get("transforms"), kept.get("transforms"))
            if previous is not None:
                entry["fields_changed"] = [k for k in kept if k in previous and k != "transforms" and kept[k] != previous[k]]
            if rejected:
                entry["also_rejected"] = [{"reason": r["reason"], "detail": r["detail"]} for r in rejected]
            if kept.get("parent_id"):
                parent = {"id": kept["parent_id"], "rule": kept.get("rule"), "model": kept.get("model"), "stage": info.name}
            previous = kept
        else:
            entry["status"] = "rejected"
            entry["reason"], entry["detail"] = rejected[0]["reason"], rejected[0]["detail"]
            if dropped is None:
                dropped = {"stage": info.name, "reason": entry["reason"], "detail": entry["detail"]}
        stages.append(entry)
    for group, seen in sorted(groups_seen.items(), key=lambda g: -pending_absent.get(g[0], {}).get("_index", 0)):
        if not seen:
            absent = pending_absent[group]
            stages.insert(absent.pop("_index"), absent)
    stages = [{**STAGE_DEFAULTS, **st} for st in stages]
    result: dict[str, Any] = {
        "kind": TRACE_KIND,
        "version": TRACE_VERSION,
        "id": record_id,
        "rev": side.describe(),
        "found": first is not None,
        "raw": None,
        "parent": parent,
        "stages": stages,
        "dropped": dropped,
        "duplicates": None,
        "rewrites": sorted(rewrites, key=lambda r: (r["stage"], r["id"])),
        "sft": [],
        "review": [{"stage": name, **row} for name, path in review_logs(side, pipeline)
                   for row in _rows(side, path, "id", record_id)],
        "texts": texts,
        "notes": notes,
    }
    result["review"].sort(key=lambda r: (r["reviewed_at"], r["tool"], r["task_id"], r["annotation_id"]))
    if first is None:
        result["notes"].append(f"{record_id}: not found in any stage's records or rejected rows at {side.label}")
        return _json_safe(result)
    result["raw"] = {
        **{k: first.get(k) for k in PROVENANCE},
        "stage": first_stage.name,
        "archive": [o for o in first_stage.outs if o != first_stage.record_dir and side.exists(o)],
    }
    for stage_name, path in cluster_files(side, pipeline):
        mine = _rows(side, path, "id", record_id)
        if mine:
            cluster = mine[0]
            members = _rows(side, path, "cluster_id", cluster["cluster_id"])
            result["duplicates"] = {
                "stage": stage_name,
                "cluster_id": cluster["cluster_id"],
                "kept_id": cluster.get("kept_id"),
                "jaccard_to_kept": cluster.get("jaccard_to_kept"),
                "members": sorted(({"id": m["id"], "jaccard_to_kept": m.get("jaccard_to_kept")} for m in members),
                                  key=lambda m: m["id"]),
            }
            break
    wanted = {record_id, *(r["id"] for r in rewrites)}
    for path in jsonl_files(side, pipeline):
        for found_id, line in find_in_jsonl(side, path, wanted):
            result["sft"].append({"id": found_id, "file": path, "line": line})
    result["sft"].sort(key=lambda s: (s["id"] != record_id, s["id"], s["file"], s["line"]))
    return _json_safe(result)
