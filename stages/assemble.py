"""Stage `assemble`: the SFT set from validated records and rule rewrites.

Reads candidate records (curated records and rewrites; `data/familiarity/records.parquet`
holds both, with their `ppl`). Mixes curated records and rewrites by params (per-source caps, rewrite share,
seed), optionally drops records above a perplexity bound, splits train/eval
from a seeded hash of `id`, and writes into `--out`:
`train.jsonl`, `eval.jsonl` (chat `messages` + Alpaca columns), `README.md`
(a Hugging Face dataset card: splits `train` and `validation` = eval.jsonl),
`manifest.json` (fingerprint, upstream output and stage hashes from dvc.lock),
plus the contract files `records.parquet` (with a `split` column) and
`rejected.parquet` (reasons `assemble_*`, and `decontam_eval_overlap`).

Decontamination runs first: a candidate overlapping any question of the task
files in `--eval-tasks` (the directories `evaluate` scores; n-gram thresholds in
`assemble.decontam`, see stages/sft/decontam.py) is rejected as
`decontam_eval_overlap`, with the task and question in `detail`.

Example:
    python -m stages.assemble --records data/familiarity/records.parquet \\
        --out data/sft --metrics metrics/assemble.json
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.lib.contract import Filter, rows_dropped, split_by_filters, write_stage_outputs
from stages.lib.errors import StageError, clear_errors
from stages.lib.io import write_json, write_text
from stages.lib.params import load_section, require_keys
from stages.ingest.sources import parse_sources
from stages.lib.record import RECORD_SCHEMA
from stages.sft.card import chat_rows, fingerprint, jsonl, stage_hashes, upstream_outputs
from stages.sft.hf_card import curation_steps, dataset_card, kept_dropped_csv
from stages.sft.decontam import REASON as DECONTAM_REASON, DecontamParams, Index, load_eval_questions, parse_decontam
from stages.sft.mix import MixParams, choose
from stages.validate import configured_subsets, zh_share_parameter
from stages.validation import failure_message, run_suite, write_reports
from stages.validation.report import summary_line


def parse_params(raw: Any) -> MixParams:
    where = "params.yaml: assemble"
    raw = {k: v for k, v in (raw or {}).items() if k not in ("decontam", "min_zh_share")}
    require_keys(where, raw, set(MixParams.__dataclass_fields__), set())
    params = MixParams(**raw)
    if not 0 <= params.eval_share < 1:
        raise ValueError(f"{where}.eval_share: must be in [0, 1), got {params.eval_share}")
    if params.rewrite_share is not None and not 0 <= params.rewrite_share <= 1:
        raise ValueError(f"{where}.rewrite_share: must be in [0, 1] or null, got {params.rewrite_share}")
    if any(not isinstance(v, int) or v < 0 for v in params.source_caps.values()):
        raise ValueError(f"{where}.source_caps: caps must be non-negative integers")
    return params


def read_records(path: Path, what: str) -> pl.DataFrame:
    if not path.exists():
        raise StageError(f"{path}: {what} not found")
    return pl.read_parquet(path)


def candidates(frames: list[pl.DataFrame], scores: pl.DataFrame | None) -> pl.DataFrame:
    """Stack record frames; a row is a rewrite when it has a `parent_id`; `ppl` from the frame or `scores`."""
    parts = []
    for frame in frames:
        is_rewrite = pl.col("parent_id").is_not_null() if "parent_id" in frame.columns else pl.lit(False)
        ppl = pl.col("ppl").cast(pl.Float64) if "ppl" in frame.columns else pl.lit(None, pl.Float64)
        parts.append(frame.select(*RECORD_SCHEMA.names(), is_rewrite.alias("is_rewrite"), ppl.alias("ppl")))
    stacked = pl.concat(parts, how="vertical")
    if scores is None:
        return stacked
    joined = stacked.join(scores.select("id", pl.col("ppl").cast(pl.Float64).alias("_score")), on="id", how="left")
    return joined.with_columns(pl.coalesce("_score", "ppl").alias("ppl")).drop("_score")


def summary(kept: pl.DataFrame, params: MixParams, rows: list[dict], lock: Path) -> dict[str, Any]:
    counts = kept.group_by("source", "split").len().sort("source", "split")
    per_source: dict[str, dict[str, int]] = {}
    for row in counts.iter_rows(named=True):
        per_source.setdefault(row["source"], {})[row["split"]] = int(row["len"])
    licenses = kept.group_by("source").agg(pl.col("license").unique().sort()).sort("source")
    return {
        "sources": per_source,
        "licenses": {r["source"]: r["license"] for r in licenses.iter_rows(named=True)},
        "counts": {"train": int((kept["split"] == "train").sum()), "eval": int((kept["split"] == "eval").sum()),
                   "rewrites": int(kept["is_rewrite"].sum())},
        "params": {k: v for k, v in params.__dict__.items()},
        "fingerprint": fingerprint(rows),
        "upstream": upstream_outputs(lock),
        "stage_hashes": stage_hashes(lock),
    }


def check_sft(kept: pl.DataFrame, rows: list[dict[str, Any]], suite: str | Path, reports: Path,
              suite_params: dict[str, Any]) -> None:
    """Run the `sft` expectation suite on the set (records + messages + split); critical failures stop."""
    messages = pl.DataFrame({"id": [r["id"] for r in rows], "messages": [r["messages"] for r in rows]})
    result = run_suite(kept.join(messages, on="id", how="left"), suite, suite_params)
    write_reports(result, reports, "data/sft")
    if not result.success:
        raise StageError(failure_message(result, str(reports / f"{result.suite}.md")))
    click.echo(summary_line(result))


def decontaminate(frame: pl.DataFrame, eval_tasks: list[Path],
                  params: DecontamParams) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(clean candidates, rejected as decontam_eval_overlap, metrics) against the evaluation questions."""
    if not params.enabled or not eval_tasks:
        return frame, frame.head(0).with_columns(reason=pl.lit(None, pl.String), detail=pl.lit(None, pl.String)), {}
    index = Index(load_eval_questions(sorted(set(eval_tasks))), params)
    texts = zip(frame["instruction"].to_list(), frame["input"].to_list(), frame["output"].to_list())
    details = [index.match("\n".join(t or "" for t in row)) for row in texts]
    marked = frame.with_columns(pl.Series("_decontam", details, dtype=pl.String))
    kept, rejected = split_by_filters(marked, [Filter(DECONTAM_REASON, pl.col("_decontam").is_not_null(),
                                                      pl.col("_decontam"))])
    metrics = {"eval_questions": len(index.questions), "short_questions_skipped": index.skipped,
               "decontaminated": rejected.height}
    return kept.drop("_decontam"), rejected.drop("_decontam"), metrics


def assemble(inputs: list[Path], scores: Path | None, out: Path, metrics_path: Path,
             params: MixParams, lock: Path, suite: str | Path, reports: Path,
             suite_params: dict[str, Any], eval_tasks: list[Path] | None = None,
             decontam: DecontamParams | None = None, sources: list[Any] | tuple = ()) -> dict[str, Any]:
    started = time.perf_counter()
    frame = candidates([read_records(path, "records") for path in inputs],
                       read_records(scores, "familiarity scores") if scores else None)
    clean, contaminated, decontam_metrics = decontaminate(frame, list(eval_tasks or []), decontam or DecontamParams())
    kept, rejected = choose(clean, params)
    rejected = pl.concat([contaminated, rejected], how="diagonal_relaxed").select(rejected.columns)
    rows = chat_rows(kept, params.system_prompt)
    check_sft(kept, rows, suite, reports, suite_params)
    split = dict(zip(kept["id"].to_list(), kept["split"].to_list()))
    info = summary(kept, params, rows, lock)
    steps = curation_steps(lock) + [{"stage": "assemble", "rows_in": frame.height, "rows_kept": kept.height,
                                     "rows_dropped": rows_dropped(rejected)}]

    def write_set(folder: Path) -> None:
        write_text(jsonl([r for r in rows if split[r["id"]] == "train"]), folder / "train.jsonl")
        write_text(jsonl([r for r in rows if split[r["id"]] == "eval"]), folder / "eval.jsonl")
        write_json({k: info[k] for k in ("fingerprint", "counts", "upstream", "stage_hashes", "params")},
                   folder / "manifest.json")
        write_text(dataset_card(info, list(sources), steps), folder / "README.md")

    write_text(kept_dropped_csv(steps), reports / "kept_dropped.csv")
    return write_stage_outputs("assemble", out, metrics_path, kept=kept, rejected=rejected,
                               rows_in=frame.height, started=started, extra_columns=("is_rewrite", "ppl", "split"),
                               extra_metrics={"fingerprint": info["fingerprint"], "counts": info["counts"],
                                              "decontam": decontam_metrics},
                               extra_files=write_set)


@click.command(help=__doc__.split("\n\n")[0])
@click.option("--records", "inputs", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Candidate records parquet (repeatable); rows with a parent_id are rewrites.")
@click.option("--scores", type=click.Path(path_type=Path), help="Parquet with id and ppl columns (optional).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output directory (data/sft).")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path))
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--lock", default="dvc.lock", show_default=True, type=click.Path(path_type=Path),
              help="dvc.lock to read upstream output hashes from.")
@click.option("--suite", default="sft", show_default=True,
              help="Expectation suite (a name in schemas/expectations/ or a path) the SFT set must pass.")
@click.option("--reports", default="reports/assemble", show_default=True, type=click.Path(path_type=Path),
              help="Where the suite's reports go.")
@click.option("--eval-tasks", "eval_tasks", multiple=True, type=click.Path(path_type=Path),
              help="Directory of evaluation task CSVs (repeatable); overlapping candidates are removed.")
@clear_errors
def cli(inputs: tuple[Path, ...], scores: Path | None, out: Path, metrics_path: Path,
        params_path: str, lock: Path, suite: str, reports: Path, eval_tasks: tuple[Path, ...]) -> None:
    """Example: python -m stages.assemble --records data/familiarity/records.parquet
    --out data/sft --metrics metrics/assemble.json --eval-tasks data/sample/eval"""
    params = parse_params(load_section("assemble", params_path))
    section = load_section("assemble", params_path)
    sources = parse_sources(load_section("sources", params_path))
    suite_params = {"min_rows": params.min_rows, "configured_sources": configured_subsets(sources),
                    **zh_share_parameter(section, "params.yaml: assemble")}
    decontam = parse_decontam(section.get("decontam"))
    metrics = assemble(list(inputs), scores, out, metrics_path, params, lock, suite, reports, suite_params,
                       list(eval_tasks), decontam, sources=list(sources.values()))
    counts = metrics["counts"]
    click.echo(f"assemble: {counts['train']} train, {counts['eval']} eval ({counts['rewrites']} rewrites), "
               f"fingerprint {metrics['fingerprint'][:12]}")


def main() -> None:
    cli(prog_name="python -m stages.assemble")


if __name__ == "__main__":
    main()
