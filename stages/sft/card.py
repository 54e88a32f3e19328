"""The SFT files, their dataset card and their manifest.

- `chat_rows`: one JSON object per record with the chat `messages` (user turn =
  instruction, plus input when present; assistant turn = output) and the
  Alpaca-style `instruction`/`input`/`output` columns, keyed by the record `id`.
- `fingerprint`: sha256 over the sorted lines `id<TAB>sha256(messages)`, so two
  sets with the same records and texts have the same fingerprint whatever the
  file layout.
- `upstream_outputs`: the hash of every stage output upstream of `assemble`,
  read from `dvc.lock` (DVC writes each stage's entry when the stage finishes,
  so upstream entries are current when `assemble` runs).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import yaml


def messages_of(row: dict[str, Any], system_prompt: str | None) -> list[dict[str, str]]:
    user = row["instruction"] if not row["input"] else f"{row['instruction']}\n\n{row['input']}"
    turns = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return turns + [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]


def chat_rows(kept: pl.DataFrame, system_prompt: str | None) -> list[dict[str, Any]]:
    rows = []
    for row in kept.sort("id").iter_rows(named=True):
        rows.append({
            "id": row["id"], "source": row["source"], "answer_from": row["answer_from"],
            "messages": messages_of(row, system_prompt),
            "instruction": row["instruction"], "input": row["input"], "output": row["output"],
        })
    return rows


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def content_sha256(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row["messages"], ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def fingerprint(rows: list[dict[str, Any]]) -> str:
    lines = sorted(f"{r['id']}\t{content_sha256(r)}\n" for r in rows)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


NOT_DATA = ("metrics/", "reports/")  # timings and reports change run to run; they are not inputs


def upstream_outputs(lock_path: Path, stage: str = "assemble", sft_dir: str = "data/sft") -> dict[str, str]:
    """{output path: md5} of every data output in dvc.lock, except this stage's and those reading the SFT set."""
    if not lock_path.exists():
        return {}
    lock = yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}
    outputs: dict[str, str] = {}
    for name, entry in (lock.get("stages") or {}).items():
        deps = [d["path"] for d in entry.get("deps", [])]
        if name == stage or any(d.startswith(sft_dir) for d in deps):
            continue
        for out in entry.get("outs", []):
            if not out["path"].startswith(NOT_DATA):
                outputs[out["path"]] = out.get("md5", "")
    return dict(sorted(outputs.items()))


def code_revision(root: Path = Path(".")) -> str:
    """The git commit the code came from, with '+dirty' when stages/ has uncommitted edits."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "stages"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev.stdout.strip() + ("+dirty" if dirty else "")


def dataset_card(summary: dict[str, Any]) -> str:
    """A Hugging Face style card: YAML header (machine-readable) and a short body."""
    header = {
        "language": ["zh"],
        "task_categories": ["text-generation"],
        "pretty_name": "Curated Chinese SFT set",
        "license": "other",
        "configs": [{"config_name": "default", "data_files": [
            {"split": "train", "path": "train.jsonl"}, {"split": "eval", "path": "eval.jsonl"}]}],
        **summary,
    }
    body = (
        "# Curated Chinese SFT set\n\n"
        "Built by the cqia-sft-pipeline `assemble` stage. Each line of `train.jsonl` / `eval.jsonl` holds a record\n"
        "`id` (stable from ingestion; trace it with `python -m stages.audit trace ID`), chat `messages`, and\n"
        "Alpaca-style `instruction` / `input` / `output`. `manifest.json` has the dataset fingerprint and the hash of\n"
        "every upstream stage output.\n\n"
        "Licenses are per source (see `licenses` above); check them before redistributing.\n"
    )
    return "---\n" + yaml.safe_dump(header, allow_unicode=True, sort_keys=True) + "---\n\n" + body
