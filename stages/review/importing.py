"""`python -m stages.review import`: decisions from a Label Studio or Argilla export, appended to decisions.jsonl.

Label Studio: the project's JSON export (a list of tasks, each with `data` as `export` wrote it and
`annotations`); every annotation not cancelled is one decision. The reviewer is `completed_by` (a user id,
or a user object whose id is used), pseudonymised; `reviewed_at` is the annotation's `updated_at`.
Argilla: `dataset.records.to_json(...)` (a list of records with `fields`, `metadata` and `responses`
{question: [{value, user_id, status?}]}); each user's responses to one record are one decision, `draft` and
`discarded` ones left out; without a time in the export, `reviewed_at` is the import's time.

Every bad entry is one line naming the file, the task or entry and the annotation; the other decisions
are still imported. A file that is not JSON, or not a list, is one line and nothing is imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.errors import StageError
from stages.review.content import TEXT_FIELDS, pseudonym
from stages.review.decisions import STAMP, Decision, append_decisions, decision_problem, utc_stamp

EDIT_PREFIX = "edit_"  # the labelling config's text areas: edit_instruction, edit_input, edit_output


@dataclass
class Parsed:
    decisions: list[Decision] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: int = 0  # cancelled annotations, draft or discarded responses


def read_export(path: Path) -> list[Any]:
    if not path.is_file():
        raise StageError(f"{path}: export not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise StageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise StageError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, list):
        raise StageError(f"{path}: not a Label Studio or Argilla export (expected a JSON list of tasks or records, "
                         f"got a JSON {type(data).__name__})")
    return data


def build(parsed: Parsed, where: str, values: dict[str, Any]) -> None:
    """Check one decision's values; keep it, or add one problem line."""
    edits = {name: values.pop(f"{EDIT_PREFIX}{name}") for name in TEXT_FIELDS if f"{EDIT_PREFIX}{name}" in values}
    if not values.get("decision"):
        parsed.problems.append(f"{where}: no decision chosen (accept, reject or edit)")
        return
    if edits and values["decision"] != "edit":
        parsed.problems.append(f"{where}: corrections typed but the decision is {values['decision']!r}; "
                               "choose edit, or clear the correction boxes")
        return
    record = {**values, "edits": edits}
    problem = decision_problem(record)
    if problem:
        parsed.problems.append(f"{where}: {problem}")
        return
    parsed.decisions.append(Decision(**record))


def task_fields(where: str, source: Any, names: dict[str, str], parsed: Parsed) -> dict[str, Any] | None:
    """record id, sha256, guidelines and revision from a task's data (or a record's metadata)."""
    source = source if isinstance(source, dict) else {}
    missing = [key for key in ("record_id", "sha256") if not isinstance(source.get(key), str) or not source[key]]
    if missing:
        parsed.problems.append(f"{where}: {names['what']} lacks {', '.join(missing)} (not a task written by "
                               "`python -m stages.review export`)")
        return None
    return {"id": source["record_id"], "sha256": source["sha256"],
            "guidelines": source.get("guidelines"), "revision": source.get("revision")}


def ls_values(result: Any) -> dict[str, Any]:
    """{control name: chosen value or typed text} of one annotation's result."""
    values: dict[str, Any] = {}
    for item in result if isinstance(result, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            continue
        value = item["value"]
        if value.get("choices"):
            values[item.get("from_name")] = value["choices"][0]
        elif "text" in value:
            text = value["text"]
            values[item.get("from_name")] = "\n".join(text) if isinstance(text, list) else text
    return values


def label_studio_task(path: Path, task: dict[str, Any], parsed: Parsed) -> None:
    task_id = task.get("id")
    where = f"{path}: task {task_id}"
    known = task_fields(where, task.get("data"), {"what": "data"}, parsed)
    if known is None:
        return
    for annotation in task.get("annotations") or []:
        if not isinstance(annotation, dict):
            parsed.problems.append(f"{where}: an annotation that is not an object")
            continue
        if annotation.get("was_cancelled"):
            parsed.skipped += 1
            continue
        here = f"{where} annotation {annotation.get('id')}"
        user = annotation.get("completed_by")
        user = user.get("id") if isinstance(user, dict) else user
        if user is None or isinstance(user, (dict, list)):
            parsed.problems.append(f"{here}: no reviewer (completed_by)")
            continue
        values = ls_values(annotation.get("result"))
        build(parsed, here, {**known, "decision": values.pop("decision", None), "reason": values.pop("reason", None),
                             "note": values.pop("note", None) or None, **_edits(values),
                             "reviewer": pseudonym("label-studio", user), "tool": "label-studio",
                             "reviewed_at": utc_stamp(annotation.get("updated_at") or annotation.get("created_at")) or "",
                             "task_id": str(task_id), "annotation_id": str(annotation.get("id"))})


def _edits(values: dict[str, Any]) -> dict[str, Any]:
    return {key: text for key, text in values.items() if key.startswith(EDIT_PREFIX)}


def argilla_record(path: Path, record: dict[str, Any], parsed: Parsed, now: str) -> None:
    where = f"{path}: record {record.get('id')}"
    known = task_fields(where, record.get("metadata"), {"what": "metadata"}, parsed)
    if known is None:
        return
    by_user: dict[str, dict[str, Any]] = {}
    for question, answers in sorted((record.get("responses") or {}).items()):
        for answer in answers if isinstance(answers, list) else []:
            if not isinstance(answer, dict) or not answer.get("user_id"):
                parsed.problems.append(f"{where}: a response to {question} without a user_id")
                continue
            if answer.get("status") in ("draft", "discarded"):
                parsed.skipped += 1
                continue
            values = by_user.setdefault(str(answer["user_id"]), {"_time": None})
            values[question] = answer.get("value")
            values["_time"] = max(filter(None, [values["_time"], utc_stamp(answer.get("updated_at"))]), default=None)
    for user, values in sorted(by_user.items()):
        reviewed_at = values.pop("_time") or now
        build(parsed, f"{where} user {pseudonym('argilla', user)}",
              {**known, "decision": values.pop("decision", None), "reason": values.pop("reason", None) or None,
               "note": values.pop("note", None) or None, **_edits(values), "reviewer": pseudonym("argilla", user),
               "tool": "argilla", "reviewed_at": reviewed_at, "task_id": str(record.get("id")),
               "annotation_id": pseudonym("argilla", user)})


def parse_export(path: Path, now: str | None = None) -> Parsed:
    """The decisions of a Label Studio or Argilla export, and one problem line per bad entry."""
    now = now or datetime.now(UTC).strftime(STAMP)
    parsed = Parsed()
    for index, entry in enumerate(read_export(path), start=1):
        if isinstance(entry, dict) and isinstance(entry.get("data"), dict) and "annotations" in entry:
            label_studio_task(path, entry, parsed)
        elif isinstance(entry, dict) and ("responses" in entry or "fields" in entry):
            argilla_record(path, entry, parsed, now)
        else:
            parsed.problems.append(f"{path}: entry {index}: neither a Label Studio task (data, annotations) "
                                   "nor an Argilla record (fields, metadata, responses)")
    return parsed


def drop_unknown(parsed: Parsed, path: Path, records: Path) -> None:
    """Decisions for records that `records` (the review stage's input) does not hold become problems."""
    if not records.is_file():
        raise StageError(f"{records}: records not found (--records)")
    ids = set(pl.read_parquet(records, columns=["id"])["id"].to_list())
    kept = []
    for decision in parsed.decisions:
        if decision.id in ids:
            kept.append(decision)
        else:
            parsed.problems.append(f"{path}: task {decision.task_id} annotation {decision.annotation_id}: record "
                                   f"{decision.id} does not exist in {records}")
    parsed.decisions = kept


def run_import(export: Path, decisions: Path, candidates: Path | None) -> dict[str, Any]:
    """Parse the export, leave out decisions for records `candidates` lacks, append the rest."""
    parsed = parse_export(export)
    if candidates is not None:
        drop_unknown(parsed, export, candidates)
    appended, present = append_decisions(decisions, parsed.decisions)
    return {"problems": parsed.problems, "decisions": len(parsed.decisions), "appended": appended,
            "already": present, "skipped": parsed.skipped}


def import_line(export: Path, decisions: Path, counts: dict[str, Any]) -> str:
    """`import: export.json: 3 decisions: 2 appended to review/decisions.jsonl, 1 already there; 1 skipped
    (cancelled or draft); 2 bad entries (listed above)`."""
    line = (f"import: {export}: {counts['decisions']} decisions: {counts['appended']} appended to {decisions}, "
            f"{counts['already']} already there")
    if counts["skipped"]:
        line += f"; {counts['skipped']} skipped (cancelled, draft or discarded)"
    bad = len(counts["problems"])
    return line + (f"; {bad} bad {'entry' if bad == 1 else 'entries'} (listed above, not imported)" if bad else "")
