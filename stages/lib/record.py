"""The canonical record shared by every stage, and the rejected-row layout.

`RECORD_SCHEMA` is the polars form of `schemas/record.schema.json`; a test keeps
the two in agreement (same fields, same order, matching types). Rejected rows
carry the same columns, all nullable, plus `reason` (a machine-readable code
such as `scrape_invalid_json`) and `detail` (human-readable, with line numbers).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import polars as pl

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "record.schema.json"

TASK_TYPE = pl.Struct({"major": pl.List(pl.String), "minor": pl.List(pl.String)})

RECORD_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "source": pl.String,
        "source_uri": pl.String,
        "raw_sha256": pl.String,
        "fetched_at": pl.String,
        "license": pl.String,
        "instruction": pl.String,
        "input": pl.String,
        "output": pl.String,
        "task_type": TASK_TYPE,
        "domain": pl.List(pl.String),
        "metadata": pl.String,
        "answer_from": pl.String,
        "human_verified": pl.Boolean,
        "copyright": pl.String,
        "transforms": pl.List(pl.String),
    }
)

REJECTED_SCHEMA = pl.Schema({**RECORD_SCHEMA, "reason": pl.String, "detail": pl.String})

ANSWER_FROM = ("human", "llm")
_SOURCE_NAME = re.compile(r"^[a-z0-9_]+$")


def make_id(source: str, source_key: str) -> str:
    """Stable id from the source name and the source's own key (never the text)."""
    if not _SOURCE_NAME.match(source):
        raise ValueError(f"source name {source!r} must match [a-z0-9_]+")
    digest = hashlib.sha256(f"{source}\x00{source_key}".encode("utf-8")).hexdigest()
    return f"{source}-{digest[:16]}"


def sha256_hex(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema=RECORD_SCHEMA)


def empty_rejected() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTED_SCHEMA)


def records_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Build a record frame from dicts that hold every record field."""
    if not rows:
        return empty_records()
    return pl.DataFrame(rows, schema=RECORD_SCHEMA)


def rejected_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Build a rejected frame; missing record fields are null."""
    if not rows:
        return empty_rejected()
    full = [{name: row.get(name) for name in REJECTED_SCHEMA} for row in rows]
    return pl.DataFrame(full, schema=REJECTED_SCHEMA)


def reject_frame(records: pl.DataFrame, reason: str, detail: str | pl.Expr) -> pl.DataFrame:
    """Turn kept-shaped rows into rejected rows with one reason code."""
    detail_expr = detail if isinstance(detail, pl.Expr) else pl.lit(detail)
    return records.select(
        *RECORD_SCHEMA.names(),
        pl.lit(reason, dtype=pl.String).alias("reason"),
        detail_expr.cast(pl.String).alias("detail"),
    )


def load_json_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
