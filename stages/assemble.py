"""Stage `assemble`: the SFT set from validated records and rule rewrites.

Reads candidate records (curated records and rewrites; `data/review/records.parquet`
holds both, with their `ppl`, `ifd` and judge scores and the human review applied: `verified_by`;
`--scores` adds train_quality's `score_quality`).
Mixes curated records and rewrites by params
(per-source caps, rewrite share, seed), optionally drops records above a perplexity bound, selects by
score (`assemble.select`: min / max / keep-quantile of ppl, ifd, judge_score, score_quality, overall
and per source; reasons `select_<score>_*`, stages/sft/select.py), splits train/eval
from a seeded hash of `id`, and writes into `--out`:
`train.jsonl`, `eval.jsonl` (chat `messages` + Alpaca columns), `README.md`
(a Hugging Face dataset card: splits `train` and `validation` = eval.jsonl),
`manifest.json` (fingerprint, upstream output hashes from dvc.lock, the selection applied, the judge),
plus the contract files `records.parquet` (with the score and `split` columns) and
`rejected.parquet` (reasons `assemble_*`, `select_*` and `decontam_eval_overlap`).

Decontamination runs first: a candidate overlapping any question of the task
files in `--eval-tasks` (the directories `evaluate` scores; n-gram thresholds in
`assemble.decontam`, see stages/sft/decontam.py) is rejected as
`decontam_eval_overlap`, with the task and question in `detail`. The set must
pass the `sft` expectation suite (`--suite`; reports in `--reports`). Params:
`assemble` (stages/sft/mix.py) and `sources` (for the configured subsets).

Example:
    # dvc.yaml passes data/sample/eval and ${evaluate.tasks} (data/sample/mmlu/test by default)
    python -m stages.assemble --in data/review/records.parquet --scores data/quality/records.parquet \\
        --out data/sft --metrics metrics/assemble.json \\
        --suite schemas/expectations/sft.json --reports reports/assemble \\
        --eval-tasks data/sample/eval --eval-tasks data/sample/mmlu/test
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.ingest.subsets import load_sources, subset_context
from stages.lib.cli import (PATH, doc_summary, echo_summary, example, in_option, metrics_option, out_option,
                            params_option, reports_option, run_main)
from stages.lib.errors import clear_errors
from stages.lib.params import load_section
from stages.sft.build import assemble, set_line
from stages.sft.mix import AssembleParams
from stages.validate.suites import clean_bounds


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@in_option("Candidate records parquet (repeatable); rows with a parent_id are rewrites.", multiple=True)
@click.option("--scores", type=PATH, help="Parquet with `id` and score columns (ppl, ifd, judge_score, score_quality) "
              "whose values replace the candidates' (optional; dvc.yaml passes data/quality for score_quality).")
@out_option("Output folder (data/sft), replaced as a whole when the stage succeeds.")
@metrics_option()
@params_option()
@click.option("--lock", default="dvc.lock", show_default=True, type=PATH,
              help="dvc.lock to read upstream output hashes from.")
@click.option("--suite", default="sft", show_default=True,
              help="Expectation suite (a name in schemas/expectations/ or a path) the SFT set must pass.")
@reports_option("Where the suite's reports and kept_dropped.csv go (reports/assemble).")
@click.option("--eval-tasks", "eval_tasks", multiple=True, type=PATH,
              help="Directory of evaluation task CSVs (repeatable); overlapping candidates are removed.")
@clear_errors
def cli(in_path: tuple[Path, ...], scores: Path | None, out_dir: Path, metrics_path: Path, params_path: Path,
        lock: Path, suite: str, reports_dir: Path, eval_tasks: tuple[Path, ...]) -> None:
    sources = load_sources(params_path)
    context = subset_context(sources)
    params = load_section(AssembleParams, params_path, context=context)
    metrics = assemble(list(in_path), scores, out_dir, metrics_path, params, lock, suite, reports_dir,
                       params.suite_parameters(context["subsets"], clean_bounds(params_path, context["subsets"])),
                       list(eval_tasks), sources=list(sources.values()))
    echo_summary("assemble", metrics, set_line(metrics))


def main() -> None:
    run_main(cli, "stages.assemble")


if __name__ == "__main__":
    main()
