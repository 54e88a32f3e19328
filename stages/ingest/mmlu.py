"""The parser of source kind `mmlu_csv` (stages/ingest/kinds/mmlu_csv.py): multiple-choice questions in
MMLU's CSV layout as seed records.

The paper behind the rewrite rules ("Learning from 'Silly' Questions...") applied
each rule to MMLU's *training* questions and evaluated per MMLU subject. This
kind turns such files into canonical records, so `rewrite` can apply a rule to
them and `evaluate` can score the same subjects on the test files.

Layout: one CSV file per subject, named `<subject>_<split>.csv` (MMLU's
`_dev` / `_val` / `_test`, plus `_train` for files we write); rows
`question, A, B, C, D, answer` without a header (MMLU), or with a header row
naming `question`, `A`-`D` and `answer` (CMMLU `,Question,A,B,C,D,Answer`,
C-Eval `id,question,A,B,C,D,answer`). `path` is a file or a directory;
`glob` (default `*_train.csv`) picks the files of a directory; point it at
`*_dev.csv` or `*_val.csv` for real MMLU, CMMLU or C-Eval, never at the test split
you evaluate on (assemble's decontamination would remove those records anyway).

A record: `instruction` = the question and its four lettered options, `output` =
the correct option (`B. Mercury`), `task_type` = {major: [subject], minor:
[`multiple_choice`]}, `domain` = [subject], `metadata` = JSON with the split and
answer letter. Source key (hence id) = `<file name>:<line>`. A row with the wrong
number of fields is rejected as `scrape_schema_mismatch`, an answer outside A-D or
a blank question/option as `scrape_invalid_value`, undecodable bytes as
`scrape_invalid_utf8`; each names the file and line.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from stages.ingest.base import FileSource, Rows
from stages.ingest.build import Captured, Content, raw_preview, record_row, rejected_row

LETTERS = ("A", "B", "C", "D")
_SPLIT = re.compile(r"_(train|dev|val|test)$")


def subject_and_split(path: Path) -> tuple[str, str]:
    match = _SPLIT.search(path.stem)
    return (path.stem[: match.start()], match.group(1)) if match else (path.stem, "")


def format_question(question: str, options: list[str]) -> str:
    """The instruction text: question, then `A. ...` to `D. ...` on their own lines."""
    return "\n".join([question.strip(), *(f"{letter}. {option.strip()}" for letter, option in zip(LETTERS, options))])


def _header(row: list[str]) -> tuple[int, int] | None:
    lowered = [cell.strip().lower() for cell in row]
    if "question" in lowered and "answer" in lowered and all(x.lower() in lowered for x in LETTERS):
        return lowered.index("question"), lowered.index("answer")
    return None


def _raw_rows(path: Path) -> list[tuple[int, bytes, list[str] | None]]:
    """(first line, raw bytes, fields or None when not UTF-8) per CSV row; quoted newlines stay in one row."""
    lines = path.read_bytes().splitlines(keepends=True)
    out, start = [], 0
    while start < len(lines):
        try:
            text = lines[start].decode("utf-8-sig" if start == 0 else "utf-8")
        except UnicodeDecodeError:
            out.append((start + 1, lines[start], None))
            start += 1
            continue
        end = start + 1
        while text.count('"') % 2 and end < len(lines):  # a quoted field runs on
            text += lines[end].decode("utf-8", errors="replace")
            end += 1
        if text.strip():
            out.append((start + 1, b"".join(lines[start:end]), next(csv.reader([text]))))
        start = end
    return out


def parse_row(cfg: FileSource, path: Path, line: int, raw: bytes, fields: list[str] | None,
              columns: tuple[int, int]) -> dict[str, Any]:
    subject, split = subject_and_split(path)
    cap = Captured(origin=cfg.name, source=cfg.subset_of(path), key=f"{path.name}:{line}",
                   uri=f"{path.as_posix()}:{line}", raw=raw, license=cfg.license, fetched_at=cfg.fetched_at)
    where = f"{path.as_posix()}:{line}"
    if fields is None:
        return rejected_row(cap, "scrape_invalid_utf8", f"{where}: not UTF-8: {raw_preview(raw)}")
    q_col, a_col = columns
    if len(fields) != max(a_col, q_col + 4) + 1:
        return rejected_row(cap, "scrape_schema_mismatch",
                            f"{where}: expected question, A, B, C, D, answer; got {len(fields)} fields")
    answer = fields[a_col].strip().upper()
    options = fields[q_col + 1: q_col + 5]
    if answer not in LETTERS:
        return rejected_row(cap, "scrape_invalid_value", f"{where}: answer must be one of A, B, C, D, got "
                                                         f"{fields[a_col]!r}")
    if not fields[q_col].strip() or not all(option.strip() for option in options):
        return rejected_row(cap, "scrape_invalid_value", f"{where}: blank question or option")
    chosen = options[LETTERS.index(answer)].strip()
    content = Content(instruction=format_question(fields[q_col], options), output=f"{answer}. {chosen}",
                      major=[subject], minor=["multiple_choice"], domain=[subject],
                      metadata=json.dumps({"layout": "mmlu_csv", "split": split, "answer": answer},
                                          ensure_ascii=False, sort_keys=True))
    return record_row(cap, content)


def read_mmlu_file(cfg: FileSource, path: Path) -> tuple[Rows, Rows]:
    """(kept rows, rejected rows) of one CSV file; a header row naming the columns is not a question."""
    kept: Rows = []
    rejected: Rows = []
    rows = _raw_rows(path)
    columns = _header(rows[0][2]) if rows and rows[0][2] is not None else None
    body = rows[1:] if columns else rows
    for line, raw, fields in body:
        row = parse_row(cfg, path, line, raw, fields, columns or (0, 5))
        (rejected if "reason" in row else kept).append(row)
    return kept, rejected
