"""`audit summary [REV]`: every stage's rows in, kept and dropped per reason, with examples.

For each record stage (pipeline order; `foreach` members such as `scrape@<key>`
summed into their group): rows in (the stage's metrics file, else kept +
rejected), rows kept, rows dropped per `reason`, and up to `examples` rejected
records per reason (id, source, text, detail). Where the stage edited text, the
kept records whose instruction, input or output differ from the version an
earlier stage left (or, for a rewrite, from its parent) are counted under
each transform tag the stage added (`edited` when it added none), with up to
`examples` before/after pairs per tag. Rows are read one stage at a time; only
the id and text columns of the latest version of each record are held. Review: the review stage's
decisions per status, and every stale decision (made on text the record no longer has) listed.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from stages.audit.render import Block, Diff, Heading, Items, Para, Table, short, value
from stages.audit.revisions import Side
from stages.audit.pipeline import StageInfo, discover, require_data, review_logs
from stages.audit.textdiff import record_diff

SUMMARY_KIND = "cqia-audit-summary"
SUMMARY_VERSION = 1
TEXT = ("instruction", "input", "output")
EXCERPT = 120  # characters of text shown per rejected example


def excerpt(row: dict[str, Any], limit: int = EXCERPT) -> str:
    parts = [f"{k}: {row[k]}" for k in TEXT if row.get(k)]
    text = " | ".join(parts).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read(side: Side, path: str | None, want: list[str]) -> pl.DataFrame:
    if not path:
        return pl.DataFrame()
    lf = side.scan_parquet(path)
    names = lf.collect_schema().names()
    return lf.select([c for c in want if c in names]).collect()


def _metrics_rows_in(side: Side, info: StageInfo) -> int | None:
    for path in info.metrics:
        try:
            data = json.loads(side.read_text(path))
        except Exception:  # noqa: BLE001 - a missing or foreign metrics file: count from the parquet files
            continue
        if isinstance(data, dict) and isinstance(data.get("rows_in"), int):
            return data["rows_in"]
    return None


def rejected_examples(rejected: pl.DataFrame, examples: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if rejected.is_empty():
        return out
    for row in rejected.sort("reason", "id").iter_rows(named=True):
        shown = out.setdefault(row["reason"], [])
        if len(shown) < examples:
            shown.append({"id": row["id"], "source": row.get("source"), "text": excerpt(row),
                          "detail": row.get("detail")})
    return out


def edits(kept: pl.DataFrame, latest: pl.DataFrame, examples: int) -> tuple[dict[str, int], dict[str, list]]:
    """Kept rows whose text differs from their previous version (or their parent's), per added transform tag."""
    if kept.is_empty() or latest.is_empty():
        return {}, {}
    key = pl.col("parent_id") if "parent_id" in kept.columns else pl.lit(None, pl.String)
    prev = latest.rename({c: f"_{c}" for c in latest.columns if c != "id"})
    joined = kept.with_columns(pl.coalesce(pl.when(pl.col("id").is_in(latest["id"].implode())).then(pl.col("id")),
                                           key).alias("_prev_id"))
    joined = joined.join(prev.rename({"id": "_prev_id"}), on="_prev_id", how="inner")
    changed = joined.filter(pl.any_horizontal(pl.col(c).fill_null("") != pl.col(f"_{c}").fill_null("") for c in TEXT))
    counts: dict[str, int] = {}
    shown: dict[str, list[dict[str, Any]]] = {}
    for row in changed.sort("id").iter_rows(named=True):
        before, after = list(row.get("_transforms") or []), list(row.get("transforms") or [])
        added = [t for t in after if t not in before]
        tags = added or ["rewrite" if row["_prev_id"] != row["id"] else "edited"]
        old = {c: row[f"_{c}"] for c in TEXT}
        new = {c: row[c] for c in TEXT}
        fields = [c for c in TEXT if (old[c] or "") != (new[c] or "")]
        for tag in tags:  # a record with several new transforms counts (and may be shown) under each
            counts[tag] = counts.get(tag, 0) + 1
            bucket = shown.setdefault(tag, [])
            if len(bucket) < examples:
                bucket.append({"id": row["id"], "source": row.get("source"), "from": row["_prev_id"],
                               "transforms": added, "diff": record_diff(old, new, fields)})
    return dict(sorted(counts.items())), dict(sorted(shown.items()))


def _merge(into: dict[str, Any], counts: dict[str, int], examples: dict[str, list], n: int, key: str) -> None:
    for name, count in counts.items():
        into[f"{key}_counts"][name] = into[f"{key}_counts"].get(name, 0) + count
    for name, rows in examples.items():
        bucket = into[f"{key}_examples"].setdefault(name, [])
        bucket.extend(rows[: max(n - len(bucket), 0)])


def summary(side: Side, examples: int = 3) -> dict[str, Any]:
    pipeline = discover(side)
    require_data(side, pipeline)
    notes = list(pipeline.notes)
    groups: dict[str, dict[str, Any]] = {}
    latest = pl.DataFrame(schema={"id": pl.String, **{c: pl.String for c in TEXT}, "transforms": pl.List(pl.String)})
    for info in pipeline.stages:
        if not info.record_dir:
            if info.outs and not any(side.exists(o) for o in info.outs):
                notes.append(f"stage {info.name}: outputs not available at {side.label} (not run)")
            continue
        columns = ["id", "source", *TEXT, "transforms", "parent_id"]
        kept = _read(side, info.records_path, columns)
        rejected = _read(side, info.rejected_path, [*columns, "reason", "detail"])
        rows_in = _metrics_rows_in(side, info)
        g = groups.setdefault(info.group, {"stage": info.group, "members": [], "rows_in": 0, "rows_kept": 0,
                                           "rows_dropped": {}, "edited_counts": {}, "dropped_examples": {},
                                           "edited_examples": {}})
        g["members"].append(info.name)
        g["rows_in"] += rows_in if rows_in is not None else kept.height + rejected.height
        g["rows_kept"] += kept.height
        dropped = (dict(rejected.group_by("reason").len().sort("reason").iter_rows())
                   if not rejected.is_empty() else {})
        for reason, n in dropped.items():
            g["rows_dropped"][reason] = g["rows_dropped"].get(reason, 0) + n
        for reason, rows in rejected_examples(rejected, examples).items():
            bucket = g["dropped_examples"].setdefault(reason, [])
            bucket.extend(rows[: max(examples - len(bucket), 0)])
        _merge(g, *edits(kept, latest, examples), examples, "edited")
        if not kept.is_empty():
            fresh = kept.select(pl.col(c) if c in kept.columns else pl.lit(None).alias(c)
                                for c in latest.columns).cast(latest.schema)
            latest = pl.concat([latest.join(fresh.select("id"), on="id", how="anti"), fresh])
    stages = []
    for g in groups.values():
        g["rows_dropped"] = dict(sorted(g["rows_dropped"].items()))
        g["edited"] = g.pop("edited_counts")
        g["dropped_examples"] = dict(sorted(g["dropped_examples"].items()))
        g["edited_examples"] = dict(sorted(g["edited_examples"].items()))
        if g["rows_in"] != g["rows_kept"] + sum(g["rows_dropped"].values()):
            notes.append(f"stage {g['stage']}: rows_in {g['rows_in']} != kept {g['rows_kept']} + dropped "
                         f"{sum(g['rows_dropped'].values())} (metrics and parquet files disagree)")
        stages.append(g)
    return json.loads(json.dumps({"kind": SUMMARY_KIND, "version": SUMMARY_VERSION, "rev": side.describe(),
                                  "examples": examples, "stages": stages, "review": review_section(side, pipeline),
                                  "notes": notes},
                                 ensure_ascii=False, default=str))


STALE_COLUMNS = ["id", "reviewer", "reviewed_at", "decision", "reason", "sha256", "current_sha256", "tool", "task_id"]


def review_section(side: Side, pipeline: Any) -> dict[str, Any] | None:
    """Decisions per status and the stale ones, from the review stage's log; None without a review stage."""
    logs = review_logs(side, pipeline)
    if not logs:
        return None
    stage, path = logs[0]
    log = _read(side, path, [*STALE_COLUMNS, "status"])
    statuses = dict(log.group_by("status").len().sort("status").iter_rows()) if log.height else {}
    stale = log.filter(pl.col("status") == "stale").sort("id", "reviewed_at") if log.height else log
    return {"stage": stage, "decisions": log.height, "statuses": statuses,
            "stale": stale.select([c for c in STALE_COLUMNS if c in stale.columns]).to_dicts()}


# -- layout (formats.py writes the blocks as a table, Markdown or HTML) ---------------------------


def _counts(counts: dict[str, int]) -> str:
    return "; ".join(f"{k} {v}" for k, v in counts.items()) or "–"


def summary_blocks(result: dict[str, Any]) -> list[Block]:
    n = result["examples"]
    blocks: list[Block] = [
        Heading(1, f"Summary at {short(result['rev'])}"),
        Para("Rows in, kept and dropped per reason at every stage; edited: kept records whose text the stage "
             f"changed, per transform it added. Up to {n} examples per reason below."),
        Table(["stage", "in", "kept", "dropped", "dropped per reason", "edited"],
              [[st["stage"], str(st["rows_in"]), str(st["rows_kept"]), str(sum(st["rows_dropped"].values())),
                _counts(st["rows_dropped"]), _counts(st["edited"])] for st in result["stages"]],
              numeric={1, 2, 3}),
    ]
    for st in result["stages"]:
        if not st["dropped_examples"] and not st["edited_examples"]:
            continue
        blocks.append(Heading(2, f"{st['stage']}"))
        for reason, rows in st["dropped_examples"].items():
            blocks.append(Heading(3, f"dropped: {reason} ({st['rows_dropped'][reason]}, {len(rows)} shown)"))
            blocks.append(Table(["id", "source", "text", "detail"],
                                [[r["id"], value(r["source"]), r["text"], value(r["detail"])] for r in rows]))
        for tag, rows in st["edited_examples"].items():
            blocks.append(Heading(3, f"edited: {tag} ({st['edited'][tag]}, {len(rows)} shown)"))
            for r in rows:
                origin = f", from {r['from']}" if r["from"] != r["id"] else ""
                blocks.append(Diff(f"{r['id']} ({value(r['source'])}{origin})", r["diff"]))
    review = result.get("review")
    if review is not None:
        blocks += [Heading(2, f"Review ({review['stage']})"),
                   Para(f"{review['decisions']} decisions: {_counts(review['statuses'])}. Stale: made on text the "
                        "record no longer has (changed upstream or by a later edit), so not applied; review them again.")]
        if review["stale"]:
            blocks.append(Table(["id", "reviewer", "reviewed at", "decision", "seen sha256", "now"],
                                [[r["id"], value(r["reviewer"]), value(r["reviewed_at"]), value(r["decision"]),
                                  value(r["sha256"])[:12], value(r["current_sha256"])[:12]] for r in review["stale"]]))
    if result["notes"]:
        blocks += [Heading(2, "Notes"), Items(list(result["notes"]))]
    return blocks
