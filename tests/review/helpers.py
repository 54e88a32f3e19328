"""Records, decisions and tool exports for the review tests (written here; no real data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.io import write_parquet
from stages.lib.record import records_frame
from stages.review.content import text_sha256
from stages.review.decisions import Decision


def record(rid: str, output: str = "答案是四。", *, source: str = "zhihu", instruction: str = "二加二等于几？",
           input_: str = "", human_verified: bool | None = False) -> dict[str, Any]:
    return {"id": rid, "source": source, "source_uri": f"{source}.jsonl:1", "raw_sha256": "0" * 64,
            "fetched_at": "2026-11-01", "license": "CC0-1.0", "instruction": instruction, "input": input_,
            "output": output, "task_type": {"major": ["问答"], "minor": []}, "domain": ["通用"], "metadata": "",
            "answer_from": "human", "human_verified": human_verified, "copyright": "", "transforms": ["opencc:t2s"]}


def sha(row: dict[str, Any]) -> str:
    return text_sha256(row["instruction"], row["input"], row["output"])


def write_records(path: Path, rows: list[dict[str, Any]], **extra: list[Any]) -> Path:
    frame = records_frame(rows).with_columns(pl.Series(name, values) for name, values in extra.items())
    write_parquet(frame, path)
    return path


def decision(row: dict[str, Any], verdict: str, reviewer: str = "ls-aaaaaaaaaaaa", at: str = "2026-11-02T10:00:00Z",
             task: str = "1", annotation: str = "1", **more: Any) -> Decision:
    return Decision(id=row["id"], sha256=more.pop("sha256", sha(row)), decision=verdict, reviewer=reviewer,
                    reviewed_at=at, tool="label-studio", task_id=task, annotation_id=annotation, **more)


def write_decisions(path: Path, decisions: list[Decision]) -> Path:
    path.write_text("".join(d.line() for d in decisions), encoding="utf-8")
    return path


def ls_result(decision: str | None, reason: str | None = None, note: str | None = None,
              **edits: str) -> list[dict[str, Any]]:
    """A Label Studio annotation result for schemas/review/label_config.xml."""
    result = []
    if decision:
        result.append({"from_name": "decision", "to_name": "output", "type": "choices", "value": {"choices": [decision]}})
    if reason:
        result.append({"from_name": "reason", "to_name": "output", "type": "choices", "value": {"choices": [reason]}})
    for name, text in [*((f"edit_{k}", v) for k, v in edits.items()), ("note", note)]:
        if text is not None:
            result.append({"from_name": name, "to_name": name.removeprefix("edit_"), "type": "textarea",
                           "value": {"text": [text]}})
    return result


def ls_task(task_id: int, row: dict[str, Any], annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """One task of a Label Studio JSON export (the shape Label Studio 1.23 writes)."""
    data = {"record_id": row["id"], "sha256": sha(row), "source": row["source"], "revision": "workspace",
            "guidelines": "1", "instruction": row["instruction"], "input": row["input"], "output": row["output"]}
    return {"id": task_id, "data": data, "annotations": annotations, "predictions": []}


def ls_annotation(annotation_id: int, user: int, result: list[dict[str, Any]],
                  at: str = "2026-11-02T10:00:00.123456Z", cancelled: bool = False) -> dict[str, Any]:
    return {"id": annotation_id, "completed_by": user, "result": result, "was_cancelled": cancelled,
            "created_at": at, "updated_at": at}


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
