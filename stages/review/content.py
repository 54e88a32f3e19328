"""What a reviewer saw, and who they are, in the forms every part of the review stage compares.

- `text_sha256`: THE hash of the text shown for review: sha256 of the canonical JSON
  `{"input": ..., "instruction": ..., "output": ...}` (keys sorted, no spaces, UTF-8, null as "").
  A task carries it; a decision keeps it; `apply` applies a decision only while the record's text
  still has it, so a decision never lands on text the reviewer did not see.
- `pseudonym`: a reviewer's id in decisions, reports and the dataset card: the tool's prefix and 12 hex
  of sha256 over the tool and the tool's user id (never an e-mail or a name).
- `revision`: the git commit of the workspace an export was made from (`workspace` outside git).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import polars as pl

TEXT_FIELDS = ("instruction", "input", "output")
TOOL_PREFIX = {"label-studio": "ls", "argilla": "ag"}


def canonical_text(instruction: Any, input_text: Any, output: Any) -> str:
    shown = {"instruction": instruction or "", "input": input_text or "", "output": output or ""}
    return json.dumps(shown, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def text_sha256(instruction: Any, input_text: Any, output: Any) -> str:
    return hashlib.sha256(canonical_text(instruction, input_text, output).encode("utf-8")).hexdigest()


def text_sha256_expr() -> pl.Expr:
    """`text_sha256` of every row of a frame with the three text columns."""
    return pl.struct(*TEXT_FIELDS).map_elements(
        lambda row: text_sha256(row["instruction"], row["input"], row["output"]), return_dtype=pl.String)


def pseudonym(tool: str, user_key: Any) -> str:
    digest = hashlib.sha256(f"{tool}\x00{user_key}".encode()).hexdigest()
    return f"{TOOL_PREFIX[tool]}-{digest[:12]}"


def revision(root: Path = Path(".")) -> str:
    """The git HEAD of `root`, or `workspace` when it is not a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "workspace"
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and len(sha) == 40 else "workspace"
