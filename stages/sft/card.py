"""The SFT files, their dataset card and their manifest.

- `chat_rows`: one JSON object per record with the chat `messages` (user turn =
  instruction, plus input when present; assistant turn = output) and the
  Alpaca-style `instruction`/`input`/`output` columns, keyed by the record `id`.
- `fingerprint`: sha256 over the sorted lines `id<TAB>sha256(messages)`, so two
  sets with the same records and texts have the same fingerprint whatever the
  file layout.
- `upstream_outputs`: the hash of every stage data output upstream of `assemble`,
  read from `dvc.lock` (DVC writes each stage's entry when the stage finishes,
  so upstream entries are current when `assemble` runs). Every one of them is
  also a dependency of `assemble` in dvc.yaml (tests/test_dvc_deps.py checks it),
  so a changed upstream output re-runs assemble and the manifest never names a
  stale hash. Code and params are not named here: an upstream code change that
  leaves every output as it was does not re-run assemble, and must not change
  its files (a fresh clone would otherwise rebuild a different manifest);
  `dvc.lock` ties each output hash to its code and params. Caches that persist
  between runs (`cache/`, `data/archive/`) are left out: they are not the data.
  No git revision: data files name their content, so a fresh clone rebuilds them byte for byte.
  Only stages of the current `dvc.yaml` count: DVC keeps the entry of a removed
  stage (say `scrape@<a source removed from params.yaml>`) in `dvc.lock`, and
  that stale entry is ignored.
The dataset card (README.md) is built in `stages/sft/hf_card.py`.
"""

from __future__ import annotations

import hashlib
import json
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


NOT_DATA = ("metrics/", "reports/", "cache/", "data/archive/", "data/dedup_index")  # not the data: reports, caches, indexes


def _foreach_keys(value: Any, params: dict[str, Any]) -> list[str]:
    """The names DVC gives the instances of `foreach: value` (a `${dotted.key}` into params, a dict or a list)."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        for part in value[2:-1].strip().split("."):
            params = params.get(part) if isinstance(params, dict) else None  # type: ignore[assignment]
        value = params
    if isinstance(value, dict):
        return [str(key) for key in value]
    if isinstance(value, list):
        return [str(item) if not isinstance(item, (dict, list)) else str(i) for i, item in enumerate(value)]
    return []


def pipeline_stages(dvc_yaml: Path) -> list[str]:
    """Stage names of `dvc_yaml` as DVC names them (`scrape@cqia_zhihu` for a foreach over params.yaml beside
    it), in the file's order (the pipeline's order: reports list stages so, whatever dvc.lock's order)."""
    if not dvc_yaml.is_file():
        return []
    stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages") or {}
    params_file = dvc_yaml.with_name("params.yaml")
    params = (yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}) if params_file.is_file() else {}
    names: list[str] = []
    for name, stage in stages.items():
        if isinstance(stage, dict) and "foreach" in stage:
            names += [f"{name}@{key}" for key in sorted(_foreach_keys(stage["foreach"], params))]
        else:
            names.append(name)
    return names


def upstream_entries(lock_path: Path, stage: str = "assemble", sft_dir: str = "data/sft") -> dict[str, dict]:
    """dvc.lock entries of every stage except `stage`, those downstream of it (transitively: train
    reads data/sft, evaluate reads models/sft), whether or not the downstream ones have run yet, and those
    that write no data (`writes_data`)."""
    if not lock_path.exists():
        return {}
    entries = (yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}).get("stages") or {}
    current = pipeline_stages(lock_path.with_name("dvc.yaml"))
    entries = {name: entries[name] for name in current if name in entries}  # pipeline order; stale ones ignored
    below = {sft_dir, *(o["path"] for o in (entries.get(stage) or {}).get("outs", []))}
    excluded = {stage}
    grew = True
    while grew:
        grew = False
        for name, entry in entries.items():
            if name not in excluded and any(d["path"].startswith(p) for d in entry.get("deps", []) for p in below):
                excluded.add(name)
                below |= {o["path"] for o in entry.get("outs", [])}
                grew = True
    return {name: entry for name, entry in entries.items() if name not in excluded and writes_data(entry)}


def writes_data(entry: dict) -> bool:
    """Whether a stage writes data (an output outside `NOT_DATA`): a stage of reports and metrics only
    (`calibration`) is beside the set, not upstream of it."""
    return any(not out["path"].startswith(NOT_DATA) for out in entry.get("outs", []))


def upstream_outputs(lock_path: Path, stage: str = "assemble", sft_dir: str = "data/sft") -> dict[str, str]:
    """{output path: md5} of every upstream data output in dvc.lock (metrics and reports left out)."""
    outputs = {out["path"]: out.get("md5", "") for entry in upstream_entries(lock_path, stage, sft_dir).values()
               for out in entry.get("outs", []) if not out["path"].startswith(NOT_DATA)}
    return dict(sorted(outputs.items()))
