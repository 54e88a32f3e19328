"""The dataset card of data/sft: a standard Hugging Face card (huggingface_hub's DatasetCard).

Header (`DatasetCardData`, written with `yaml.safe_dump`): `license` (an
SPDX-style id when every source has the same known license, else `other` with
`license_name`/`license_link`), `pretty_name` and `language` (the languages the
records hold, most rows first), `task_categories`, `size_categories` (Hugging
Face's bands, from the row count), `source_datasets`, and `configs` mapping the
splits `train` and `validation` to `train.jsonl` and `eval.jsonl`, so
`datasets.load_dataset("data/sft")` loads both. Body: summary (the title and
the languages with their shares when there is more than one), structure,
sources, human review (per source: the share `human_verified`, the share verified by this pipeline's
reviewers and their pseudonymous ids, from the review stage's `verified_by`), selection and scores (the
`assemble.select` bounds applied, the judge model and rubric hash, score distributions per source:
stages/sft/score_summary.py), curation steps with counts
per reason (from the upstream stages' metrics named in dvc.lock), known limitations, provenance.
Everything is derived from the data, params and dvc.lock: no clock, no git
revision. A record's language is measured by `record_languages`
(stages/validate/derived.py: the Han share of its prose, as the suites'
`zh_share`). Every value from params or data is escaped for Markdown
(stages/lib/escape.py), so a license with `<script>` or a line break stays text
in its table cell.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import DatasetCardData

from stages.lib import escape
from stages.sft.card import upstream_entries
from stages.sft.score_summary import scores_section
from stages.validate.derived import ZH_RECORD_SHARE

SPLITS = {"train": "train.jsonl", "validation": "eval.jsonl"}  # card split name -> file (`split` column: eval)
KNOWN_LICENSES = {"cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "apache-2.0", "mit",
                  "odc-by", "odbl", "gpl-3.0", "openrail"}
SIZE_BOUNDS = [(10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M"),
               (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"), (10**10, "1B<n<10B"),
               (10**11, "10B<n<100B"), (10**12, "100B<n<1T")]
COIG_CQIA = "m-a-p/COIG-CQIA"
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English"}  # the codes record_languages gives


def size_category(n: int) -> str:
    """Hugging Face's `size_categories` band of `n` rows (`1K<n<10K` holds 1,000 to 9,999)."""
    return next((label for bound, label in SIZE_BOUNDS if n < bound), "n>1T")


def language_counts(languages: list[str | None]) -> dict[str, int]:
    """{code: rows}, most rows first (then by code); `None` (no Han, no Latin letters) is left out."""
    counts = Counter(code for code in languages if code is not None)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def title(languages: dict[str, int]) -> str:
    """`Curated Chinese SFT set`, `Curated Chinese and English SFT set`, ..."""
    names = " and ".join(LANGUAGE_NAMES[code] for code in languages)
    return f"Curated {names} SFT set" if names else "Curated SFT set"


def pairs_text(languages: dict[str, int], total: int) -> str:
    """`Chinese instruction/answer pairs` when every row is in one language, else the languages with their shares."""
    if len(languages) == 1 and sum(languages.values()) == total:
        return f"{LANGUAGE_NAMES[next(iter(languages))]} instruction/answer pairs"
    parts = [f"{LANGUAGE_NAMES[code]} {n} ({100 * n / total:.1f}%)" for code, n in languages.items()]
    unmeasured = total - sum(languages.values())
    if unmeasured:
        parts.append(f"{unmeasured} with neither Han characters nor Latin letters ({100 * unmeasured / total:.1f}%)")
    return ("instruction/answer pairs: " + ", ".join(parts) + f" (a record is Chinese when Han characters are at "
            f"least {ZH_RECORD_SHARE:.0%} of its prose's Han characters and Latin letters, else English)")


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


def review_summary(kept: Any) -> dict[str, dict[str, Any]]:
    """{source: {rows, human_verified, reviewed, reviewers: {pseudonym: records}}} of the set's records."""
    summary: dict[str, dict[str, Any]] = {}
    for row in kept.select("source", "human_verified", "verified_by").sort("source").iter_rows(named=True):
        entry = summary.setdefault(row["source"], {"rows": 0, "human_verified": 0, "reviewed": 0, "reviewers": {}})
        entry["rows"] += 1
        entry["human_verified"] += bool(row["human_verified"])
        if row["verified_by"]:
            entry["reviewed"] += 1
            for reviewer in row["verified_by"].split(","):
                entry["reviewers"][reviewer] = entry["reviewers"].get(reviewer, 0) + 1
    for entry in summary.values():
        entry["reviewers"] = dict(sorted(entry["reviewers"].items()))
    return summary


def _share(n: int, total: int) -> str:
    return f"{n} ({100 * n / total:.1f}%)" if total else "0"


def review_section(review: dict[str, dict[str, Any]]) -> str:
    rows = [[source, e["rows"], _share(e["human_verified"], e["rows"]), _share(e["reviewed"], e["rows"]),
             ", ".join(f"{who} ({n})" for who, n in e["reviewers"].items()) or "-"] for source, e in review.items()]
    return ("\n## Human review\n\n`human_verified`: checked by a person, by the source's publisher or by this "
            "pipeline's reviewers; reviewed here: accepted or edited in this pipeline's review (`python -m "
            "stages.review`, decisions in `review/decisions.jsonl`), by pseudonymous reviewers (records each):\n\n"
            + _table(["source", "records", "human_verified", "reviewed here", "reviewers"], rows))


def card_data(info: dict[str, Any], sources: list[Any]) -> DatasetCardData:
    total = info["counts"]["train"] + info["counts"]["eval"]
    return DatasetCardData(
        pretty_name=title(info["languages"]), language=list(info["languages"]) or None,
        task_categories=["text-generation"], task_ids=["dialogue-modeling"], size_categories=[size_category(total)],
        source_datasets=source_datasets(sources), tags=["sft", "instruction-tuning", "cqia-sft-pipeline"],
        configs=[{"config_name": "default", "data_files": [{"split": s, "path": p} for s, p in SPLITS.items()]}],
        **license_fields(info["licenses"]))


def _table(header: list[str], rows: list[list[Any]], code: bool = False) -> str:
    """A Markdown table; every cell escaped (as inline code when `code`)."""
    cell = escape.markdown_code if code else escape.markdown
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(str(c)) for c in row) + " |" for row in rows]) + "\n"


def body(info: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    counts = info["counts"]
    sources = [[s, c.get("train", 0), c.get("eval", 0), "; ".join(info["licenses"].get(s, []))]
               for s, c in info["sources"].items()]
    curation = [[s["stage"], s["rows_in"], s["rows_kept"],
                 ", ".join(f"{r}: {n}" for r, n in sorted(s["rows_dropped"].items())) or "-"] for s in steps]
    hashes = [[path, md5] for path, md5 in info["upstream"].items()]
    total = counts["train"] + counts["eval"]
    return (
        f"# {title(info['languages'])}\n\n## Dataset summary\n\n"
        f"{counts['train']} training and {counts['eval']} validation examples ({counts['rewrites']} of them "
        f"rule rewrites) of {pairs_text(info['languages'], total)}, built by the cqia-sft-pipeline `assemble` "
        "stage.\n\n"
        "## Dataset structure\n\n"
        "Splits: `train` (`train.jsonl`) and `validation` (`eval.jsonl`; the pipeline's `split` column calls it "
        "`eval`). Each line: `id` (stable from ingestion; `python -m stages.audit trace ID` follows it), `source`, "
        "`answer_from` (`human`|`llm`), chat `messages` (user, assistant), and Alpaca-style `instruction`, "
        "`input`, `output`. Records sharing an instruction stay in one split.\n\n"
        "## Sources\n\n" + _table(["source", "train", "validation", "license"], sources) +
        review_section(info.get("review") or {}) +
        scores_section(info.get("params", {}).get("select") or {}, info.get("judge") or {"models": [], "rubrics": []},
                       info.get("scores") or {}) +
        "\n## Curation\n\nRows in, kept and dropped per reason at each stage (from `metrics/`; "
        "`python -m stages.audit summary` shows examples of each reason):\n\n"
        + _table(["stage", "in", "kept", "dropped (reason: rows)"], curation) +
        "\n## Known limitations\n\n"
        "- Built from the project's shipped sample (small, written by the project) or with the tiny "
        "base model, the rewrites and perplexities only show that the plumbing works.\n- Filters are heuristics (length, language id, repetition, a word "
        "list, MinHash near-duplicates); they miss some bad records and drop some good ones.\n"
        "- Personal data is scrubbed by patterns (phones, e-mails, ID and bank cards), not by a model.\n\n"
        "## Provenance\n\n"
        f"Fingerprint (sha256 over sorted `id` + content hash): {escape.markdown_code(info['fingerprint'])}. "
        "`manifest.json` has it with the hash of every upstream output (DVC's md5; `dvc.lock` ties each to the "
        "code and params that made it):\n\n" + _table(["output", "md5"], hashes, code=True) +
        "\n## Licenses\n\nPer source (above); check them before redistributing.\n")


def dataset_card(info: dict[str, Any], sources: list[Any], steps: list[dict[str, Any]]) -> str:
    header = yaml.safe_dump(card_data(info, sources).to_dict(), sort_keys=False, allow_unicode=True)
    return "---\n" + header + "---\n\n" + body(info, steps)


def kept_dropped_csv(steps: list[dict[str, Any]]) -> str:
    """`stage,kind,rows` (kind: kept | dropped) per curation step: the kept/dropped chart of `dvc plots show`."""
    lines = ["stage,kind,rows"]
    for step in steps:
        lines += [f"{step['stage']},kept,{step['rows_kept']}",
                  f"{step['stage']},dropped,{sum(step['rows_dropped'].values())}"]
    return "\n".join(lines) + "\n"
