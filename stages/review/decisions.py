"""review/decisions.jsonl: every review decision ever imported, one JSON object per line, append-only.

A line: `id` (record id), `sha256` (`text_sha256` of the text the reviewer saw), `decision`
(accept | reject | edit), `edits` ({field: new text} for an edit), `reason` (the reason choice),
`note` (free text), `reviewer` (a pseudonym, stages/review/content.py), `reviewed_at` (UTC,
`YYYY-MM-DDTHH:MM:SSZ`), `tool` (label-studio | argilla), `task_id` and `annotation_id` (the tool's),
`guidelines` (the version the task was exported with) and `revision` (the git commit it was exported from).

`append_decisions` never rewrites the file: it reads it, leaves out decisions it already holds (same tool,
task, annotation and content: re-importing an export adds nothing, an annotation changed in the tool
adds its new version), then appends the rest in one write under an exclusive lock and fsyncs. A file
whose last line has no newline (a torn write) is refused, not repaired.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stages.lib.errors import StageError
from stages.review.content import TEXT_FIELDS, TOOL_PREFIX

DECISIONS = ("accept", "reject", "edit")
LOG_FILE = "decisions.parquet"  # the review stage's per-decision log in its output folder (read by audit)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
STAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Decision:
    id: str
    sha256: str
    decision: str
    reviewer: str
    reviewed_at: str
    tool: str
    task_id: str
    annotation_id: str
    edits: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    note: str | None = None
    guidelines: str | None = None
    revision: str | None = None

    def key(self) -> tuple[str, str, str, str]:
        """Identity for idempotent imports: the tool's task and annotation, and what was decided."""
        content = json.dumps([self.id, self.sha256, self.decision, self.edits, self.reason, self.note, self.reviewer],
                             ensure_ascii=False, sort_keys=True)
        return self.tool, self.task_id, self.annotation_id, hashlib.sha256(content.encode()).hexdigest()

    def line(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True) + "\n"


def utc_stamp(text: Any) -> str | None:
    """An ISO 8601 time as `YYYY-MM-DDTHH:MM:SSZ` in UTC (a time without a zone is taken as UTC); None if not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(STAMP)


def edit_problem(edits: Any) -> str | None:
    """Why an edit cannot be applied: no field, a field that is not instruction/input/output, or one it empties."""
    if not isinstance(edits, dict) or not edits:
        return "an edit must change at least one of instruction, input, output"
    for name, text in sorted(edits.items()):
        if name not in TEXT_FIELDS:
            return f"edits.{name}: not a text field (instruction, input, output)"
        if not isinstance(text, str) or not text.strip():
            return f"edit refused: it empties {name} (reject the record instead)"
    return None


def decision_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with one decision's values, or None."""
    for name in ("id", "sha256", "decision", "reviewer", "reviewed_at", "tool", "task_id", "annotation_id"):
        if not isinstance(data.get(name), str) or not data[name]:
            return f"{name}: missing (a non-empty string is needed)"
    if data["decision"] not in DECISIONS:
        return f"decision: must be accept, reject or edit, got {data['decision']!r}"
    if not SHA256.match(data["sha256"]):
        return f"sha256: must be 64 lower-case hex digits, got {data['sha256']!r}"
    if utc_stamp(data["reviewed_at"]) != data["reviewed_at"]:
        return f"reviewed_at: must be a UTC time as YYYY-MM-DDTHH:MM:SSZ, got {data['reviewed_at']!r}"
    if data["tool"] not in TOOL_PREFIX:
        return f"tool: must be label-studio or argilla, got {data['tool']!r}"
    if data["decision"] == "edit":
        return edit_problem(data.get("edits"))
    if data.get("edits"):
        return f"edits: only an edit carries edits, this is {data['decision']!r}"
    return None


def parse_line(text: str) -> Decision:
    """One line of decisions.jsonl as a Decision, or ValueError saying what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    unknown = sorted(set(data) - set(Decision.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}")
    problem = decision_problem(data)
    if problem:
        raise ValueError(problem)
    return Decision(**{**data, "edits": data.get("edits") or {}})


def read_decisions(path: Path) -> tuple[list[Decision], list[str]]:
    """Every valid decision of the file, and one line per bad one (`path:line: problem`); no file: none."""
    if not path.exists():
        return [], []
    decisions, problems = [], []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            decisions.append(parse_line(text))
        except ValueError as exc:
            problems.append(f"{path}:{number}: {exc}")
    return decisions, problems


def append_decisions(path: Path, new: list[Decision]) -> tuple[int, int]:
    """Append the decisions the file does not hold yet; returns (appended, already there)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        existing = handle.read()
        if existing and not existing.endswith(b"\n"):
            raise StageError(f"{path}: the last line has no newline (an interrupted write?); "
                             "fix that line by hand, then import again (nothing was appended)")
        held = set()
        for text in existing.decode("utf-8").splitlines():
            try:
                held.add(parse_line(text).key())
            except ValueError:
                continue  # a bad line stays as it is; `apply` reports it
        fresh, seen = [], set(held)
        for decision in new:
            if decision.key() not in seen:
                seen.add(decision.key())
                fresh.append(decision)
        if fresh:
            handle.write("".join(d.line() for d in fresh).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    return len(fresh), len(new) - len(fresh)
