"""How decisions become a record's fate: the rules `python -m stages.review apply` follows.

For each record with decisions (taken in order of `reviewed_at`, then tool, task and annotation):
1. A reviewer's later decision on the same text replaces their earlier one (`superseded`).
2. Edits apply in order, each only if made on the text as it then reads; its fields replace the
   record's and the record gets the transform `review:edit`. An edit made on other text is `stale`.
3. Accepts and rejects count only when made on the record's final text (after the edits); any other is
   `stale`: text changed upstream (a rerun of clean, a new rule) or by a later edit never inherits a verdict.
4. One counting reject drops the record (`review_rejected`, the reasons and reviewers in `detail`).
   Otherwise a counting accept, or the last edit, verifies it: `human_verified` true, `verified_by` the
   reviewers who vouch for the final text (comma-separated pseudonyms), `verified_at` their latest time.
Decisions for ids the input does not hold are `unknown_id`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from stages.review.content import TEXT_FIELDS, text_sha256
from stages.review.decisions import Decision

EDIT_TRANSFORM = "review:edit"


@dataclass
class Outcome:
    """One record's result: its final text fields (edited ones only), verifiers or reject detail."""

    edits: dict[str, str] = field(default_factory=dict)
    verified_by: list[str] = field(default_factory=list)
    verified_at: str | None = None
    rejected: str | None = None  # the detail of review_rejected


def order(decision: Decision) -> tuple[str, str, str, str]:
    return decision.reviewed_at, decision.tool, decision.task_id, decision.annotation_id


def log_row(decision: Decision, status: str, detail: str, current: str | None) -> dict[str, Any]:
    return {"id": decision.id, "sha256": decision.sha256, "decision": decision.decision,
            "edits": json.dumps(decision.edits, ensure_ascii=False, sort_keys=True) if decision.edits else None,
            "reason": decision.reason, "note": decision.note, "reviewer": decision.reviewer,
            "reviewed_at": decision.reviewed_at, "tool": decision.tool, "task_id": decision.task_id,
            "annotation_id": decision.annotation_id, "guidelines": decision.guidelines,
            "revision": decision.revision, "status": status, "status_detail": detail, "current_sha256": current}


def reject_detail(rejects: list[Decision]) -> str:
    parts = []
    for d in rejects:
        why = d.reason or "no reason given"
        parts.append(f"{why}{': ' + d.note if d.note else ''} ({d.reviewer}, {d.reviewed_at})")
    return "; ".join(parts)


def resolve_record(text: dict[str, str], decisions: list[Decision]) -> tuple[Outcome, list[dict[str, Any]]]:
    """One record's outcome and the log row of each of its decisions."""
    decisions = sorted(decisions, key=order)
    latest = {(d.reviewer, d.sha256): d for d in decisions}
    log: list[tuple[Decision, str, str]] = []
    live = []
    for d in decisions:
        if latest[(d.reviewer, d.sha256)] is d:
            live.append(d)
        else:
            log.append((d, "superseded", "a later decision by the same reviewer on the same text"))
    text = {k: text.get(k) or "" for k in TEXT_FIELDS}
    sha = text_sha256(*(text[k] for k in TEXT_FIELDS))
    outcome, last_edit = Outcome(), None
    for d in live:
        if d.decision != "edit":
            continue
        if d.sha256 != sha:
            log.append((d, "stale", "made on text the record no longer has"))
            continue
        text.update(d.edits)
        outcome.edits.update(d.edits)
        sha = text_sha256(*(text[k] for k in TEXT_FIELDS))
        last_edit = d
        log.append((d, "applied", "edited " + ", ".join(sorted(d.edits))))
    rejects, accepts = [], []
    for d in live:
        if d.decision == "edit":
            continue
        if d.sha256 != sha:
            log.append((d, "stale", "made on text the record no longer has"))
        else:
            (rejects if d.decision == "reject" else accepts).append(d)
    vouch = accepts + ([last_edit] if last_edit else [])
    if rejects:
        outcome.rejected = reject_detail(rejects)
        log += [(d, "applied", "rejected") for d in rejects]
        log += [(d, "overruled", "a reject on the same text drops the record") for d in accepts]
    elif vouch:
        outcome.verified_by = sorted({d.reviewer for d in vouch})
        outcome.verified_at = max(d.reviewed_at for d in vouch)
        log += [(d, "applied", "verified") for d in accepts]
    rows = [log_row(d, status, detail, sha) for d, status, detail in sorted(log, key=lambda item: order(item[0]))]
    return outcome, rows


def resolve(texts: dict[str, dict[str, str]], decisions: list[Decision]) -> tuple[dict[str, Outcome], list[dict]]:
    """Outcomes of the records in `texts` ({id: text fields}) and the log of every decision."""
    by_id: dict[str, list[Decision]] = defaultdict(list)
    for decision in decisions:
        by_id[decision.id].append(decision)
    outcomes, log = {}, []
    for record_id in sorted(by_id):
        if record_id not in texts:
            log += [log_row(d, "unknown_id", "no such record in the input", None) for d in sorted(by_id[record_id], key=order)]
            continue
        outcomes[record_id], rows = resolve_record(texts[record_id], by_id[record_id])
        log += rows
    return outcomes, log
