"""The dataset card of data/sft: a standard Hugging Face card (huggingface_hub's DatasetCard).

Header (`DatasetCardData`): `license` (an SPDX-style id when every source has
the same known license, else `other` with `license_name`/`license_link`),
`language: zh`, `task_categories`, `size_categories`, `source_datasets`, and
`configs` mapping the splits `train` and `validation` to `train.jsonl` and
`eval.jsonl`, so `datasets.load_dataset("data/sft")` loads both. Body: summary,
structure, sources, curation steps with counts per reason (from the upstream
stages' metrics named in dvc.lock), known limitations, provenance.
Everything is derived from the data, params and dvc.lock: no clock, no git revision.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from stages.sft.card import upstream_entries

SPLITS = {"train": "train.jsonl", "validation": "eval.jsonl"}  # card split name -> file (`split` column: eval)
KNOWN_LICENSES = {"cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "apache-2.0", "mit",
                  "odc-by", "odbl", "gpl-3.0", "openrail"}
SIZE_BOUNDS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
               (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]
COIG_CQIA = "m-a-p/COIG-CQIA"


def size_category(n: int) -> str:
    return next((label for bound, label in SIZE_BOUNDS if n < bound), "n>100M")


def license_id(text: str) -> str | None:
    """`CC0-1.0 (sample written for this project)` -> `cc0-1.0`; None when not a known id."""
    head = text.strip().split(" ")[0].split("(")[0].lower()
    return head if head in KNOWN_LICENSES else None


def license_fields(licenses: dict[str, list[str]]) -> dict[str, str]:
    ids = {license_id(text) for texts in licenses.values() for text in texts}
    if len(ids) == 1 and None not in ids:
        return {"license": ids.pop()}
    return {"license": "other", "license_name": "per-source-licenses", "license_link": "README.md#licenses"}


def source_datasets(sources: list[Any]) -> list[str]:
    """COIG-CQIA files outside data/sample come from m-a-p/COIG-CQIA; the rest (our sample, dumps, crawls)
    are original."""
    names = {COIG_CQIA if s.kind == "cqia_jsonl" and not str(s.path).startswith("data/sample") else "original"
             for s in sources}
    return sorted(names) or ["original"]


def curation_steps(lock_path: Path) -> list[dict[str, Any]]:
    """Rows in/kept/dropped per reason of each upstream stage, from the metrics files dvc.lock names."""
    steps: dict[str, dict[str, Any]] = {}
    for name, entry in upstream_entries(lock_path).items():
        group = name.split("@")[0]
        for out in entry.get("outs", []):
            path = lock_path.parent / out["path"]
            if not out["path"].startswith("metrics/") or not path.is_file():
                continue
            metrics = json.loads(path.read_text(encoding="utf-8"))
            if "rows_in" not in metrics:
                continue
            step = steps.setdefault(group, {"stage": group, "rows_in": 0, "rows_kept": 0, "rows_dropped": {}})
            step["rows_in"] += metrics["rows_in"]
            step["rows_kept"] += metrics.get("rows_kept", metrics["rows_in"])
            for reason, n in (metrics.get("rows_dropped") or {}).items():
                step["rows_dropped"][reason] = step["rows_dropped"].get(reason, 0) + n
    return list(steps.values())


def card_data(info: dict[str, Any], sources: list[Any]) -> DatasetCardData:
    total = info["counts"]["train"] + info["counts"]["eval"]
    return DatasetCardData(
        pretty_name="Curated Chinese SFT set", language=["zh"], task_categories=["text-generation"],
        task_ids=["dialogue-modeling"], size_categories=[size_category(total)],
        source_datasets=source_datasets(sources), tags=["sft", "instruction-tuning", "cqia-sft-pipeline"],
        configs=[{"config_name": "default", "data_files": [{"split": s, "path": p} for s, p in SPLITS.items()]}],
        **license_fields(info["licenses"]))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]) + "\n"


def body(info: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    counts = info["counts"]
    sources = [[s, c.get("train", 0), c.get("eval", 0), "; ".join(info["licenses"].get(s, []))]
               for s, c in info["sources"].items()]
    curation = [[s["stage"], s["rows_in"], s["rows_kept"],
                 ", ".join(f"{r}: {n}" for r, n in sorted(s["rows_dropped"].items())) or "-"] for s in steps]
    hashes = [[f"`{path}`", f"`{md5}`"] for path, md5 in info["upstream"].items()]
    return (
        "# Curated Chinese SFT set\n\n## Dataset summary\n\n"
        f"{counts['train']} training and {counts['eval']} validation examples ({counts['rewrites']} of them "
        "rule rewrites) of Chinese instruction/answer pairs, built by the cqia-sft-pipeline `assemble` stage.\n\n"
        "## Dataset structure\n\n"
        "Splits: `train` (`train.jsonl`) and `validation` (`eval.jsonl`; the pipeline's `split` column calls it "
        "`eval`). Each line: `id` (stable from ingestion; `python -m stages.audit trace ID` follows it), `source`, "
        "`answer_from` (`human`|`llm`), chat `messages` (user, assistant), and Alpaca-style `instruction`, "
        "`input`, `output`. Records sharing an instruction stay in one split.\n\n"
        "## Sources\n\n" + _table(["source", "train", "validation", "license"], sources) +
        "\n## Curation\n\nRows in, kept and dropped per reason at each stage (from `metrics/`; "
        "`python -m stages.audit summary` shows examples of each reason):\n\n"
        + _table(["stage", "in", "kept", "dropped (reason: rows)"], curation) +
        "\n## Known limitations\n\n"
        "- Built from the project's shipped sample (small, written by the project) or with the default tiny "
        "base model, the rewrites and perplexities only show that the plumbing works.\n- Filters are heuristics (length, language id, repetition, a word "
        "list, MinHash near-duplicates); they miss some bad records and drop some good ones.\n"
        "- Personal data is scrubbed by patterns (phones, e-mails, ID and bank cards), not by a model.\n\n"
        "## Provenance\n\n"
        f"Fingerprint (sha256 over sorted `id` + content hash): `{info['fingerprint']}`. "
        "`manifest.json` has it with the hash of every upstream output (DVC's md5; `dvc.lock` ties each to the "
        "code and params that made it):\n\n" + _table(["output", "md5"], hashes) +
        "\n## Licenses\n\nPer source (above); check them before redistributing.\n")


def dataset_card(info: dict[str, Any], sources: list[Any], steps: list[dict[str, Any]]) -> str:
    card = DatasetCard("---\n" + card_data(info, sources).to_yaml() + "\n---\n\n" + body(info, steps))
    return str(card)


def kept_dropped_csv(steps: list[dict[str, Any]]) -> str:
    """`stage,kind,rows` (kind: kept | dropped) per curation step: the kept/dropped chart of `dvc plots show`."""
    lines = ["stage,kind,rows"]
    for step in steps:
        lines += [f"{step['stage']},kept,{step['rows_kept']}",
                  f"{step['stage']},dropped,{sum(step['rows_dropped'].values())}"]
    return "\n".join(lines) + "\n"
