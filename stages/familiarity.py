"""Stage `familiarity`: the base model's perplexity on every SFT candidate response.

Following "I Learn Better If You Speak My Language", a response the model
already finds familiar (low perplexity before tuning) is easier to learn from.
Reads validated records (`--records`) and rewrites (`--rewrites`, optional),
the base model (`--base-model`) and `params.yaml: familiarity`:

```yaml
familiarity:
  batch_size: 8
  max_length: 1024            # prompt + response tokens per sequence
  filter: {max_ppl: null, keep_quantile: null}
```

Every record gets `ppl` (answer-only perplexity, prompt tokens masked out, see
stages/llm/perplexity.py) and `ppl_tokens` (response tokens scored). Records
with an empty output are not SFT candidates: `ppl` is null and no filter
drops them. Rewrites keep their `parent_id`, `rule`, `model`, `prompt_sha256`
columns (null for curated records).

The filter is off by default. With `max_ppl` and/or `keep_quantile` (keep the
most familiar fraction, e.g. 0.8), scored records above the lower of the two
thresholds are rejected as `familiarity_unfamiliar`. Summaries of ppl by
`source` and by `answer_from` (scored records, before the filter) go to
`--reports` as CSV files, which dvc.yaml declares as plots, and `ppl.png`.

Example:
    python -m stages.familiarity run --records data/validate/records.parquet \\
        --rewrites data/rewrite/records.parquet --base-model models/base --out data/familiarity \\
        --reports reports/familiarity --metrics metrics/familiarity.json
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.lib.contract import Filter, split_by_filters, write_stage_outputs
from stages.lib.errors import StageError, clear_errors
from stages.lib.params import load_section, require_keys
from stages.lib.record import RECORD_SCHEMA
from stages.lib.progress import quiet_libraries
from stages.llm.report import write_summaries
from stages.rewrite import EXTRA

PPL_COLUMNS = {"ppl": pl.Float64, "ppl_tokens": pl.Int64}
EXTRA_COLUMNS = (*EXTRA, *PPL_COLUMNS)
WHERE = "params.yaml: familiarity"


@dataclass(frozen=True)
class FamiliaritySettings:
    batch_size: int = 8
    max_length: int = 1024
    max_ppl: float | None = None
    keep_quantile: float | None = None


def parse_familiarity_settings(raw: Any) -> FamiliaritySettings:
    require_keys(WHERE, raw, {"batch_size", "max_length", "filter"}, set())
    flt = raw.get("filter") or {}
    require_keys(f"{WHERE}.filter", flt, {"max_ppl", "keep_quantile"}, set())
    settings = FamiliaritySettings(batch_size=raw.get("batch_size", 8), max_length=raw.get("max_length", 1024),
                                   max_ppl=flt.get("max_ppl"), keep_quantile=flt.get("keep_quantile"))
    for name in ("batch_size", "max_length"):
        value = getattr(settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < (2 if name == "max_length" else 1):
            raise ValueError(f"{WHERE}.{name}: must be a positive integer, got {value!r}")
    if settings.max_ppl is not None and not (isinstance(settings.max_ppl, (int, float)) and settings.max_ppl > 0):
        raise ValueError(f"{WHERE}.filter.max_ppl: must be a positive number or null")
    q = settings.keep_quantile
    if q is not None and not (isinstance(q, (int, float)) and 0 < q <= 1):
        raise ValueError(f"{WHERE}.filter.keep_quantile: must be in (0, 1] or null")
    return settings


def combine(records: pl.DataFrame, rewrites: pl.DataFrame | None) -> pl.DataFrame:
    """Curated records and rewrites in one frame, with the rewrite columns (null for curated records)."""
    frames = [records] if rewrites is None else [records, rewrites]
    frames = [f.with_columns(pl.lit(None, dtype).alias(c) for c, dtype in EXTRA.items() if c not in f.columns)
              for f in frames]
    combined = pl.concat([f.select(*RECORD_SCHEMA.names(), *EXTRA) for f in frames], how="vertical_relaxed")
    duplicated = combined.filter(pl.col("id").is_duplicated())["id"].unique().sort().to_list()
    if duplicated:
        raise StageError(f"familiarity: ids in both records and rewrites: {', '.join(duplicated[:5])}")
    return combined


def threshold(scored: pl.Series, settings: FamiliaritySettings) -> tuple[float | None, str]:
    """The ppl above which records are dropped, and which setting set it."""
    candidates = []
    if settings.max_ppl is not None:
        candidates.append((float(settings.max_ppl), f"max_ppl {settings.max_ppl}"))
    if settings.keep_quantile is not None and scored.len() > 0:
        value = scored.quantile(settings.keep_quantile, interpolation="linear")
        candidates.append((float(value), f"keep_quantile {settings.keep_quantile}"))
    return min(candidates) if candidates else (None, "")


def score(frame: pl.DataFrame, model_dir: Path, settings: FamiliaritySettings) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Add `ppl` and `ppl_tokens`; loads the base model only when some output is non-empty."""
    from stages.llm.base import read_model_dir

    spec = read_model_dir(model_dir)
    rows = frame.select("instruction", "input", "output").rows()
    scores = []
    if any(output and output.strip() for _, _, output in rows):
        from stages.llm.base import load_model
        from stages.llm.perplexity import answer_perplexities

        model, tokenizer = load_model(spec)
        scores = answer_perplexities(model, tokenizer, rows, settings.batch_size, settings.max_length)
    scored = frame.with_columns(
        pl.Series("ppl", [s.ppl for s in scores] if scores else [None] * frame.height, dtype=pl.Float64),
        pl.Series("ppl_tokens", [s.tokens for s in scores] if scores else [0] * frame.height, dtype=pl.Int64),
    )
    return scored, {"model": spec.name, "truncated": sum(s.truncated for s in scores)}


def run_familiarity(settings: FamiliaritySettings, records_path: Path, rewrites_path: Path | None, model_dir: Path,
                    out_dir: Path, reports_dir: Path, metrics_path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    quiet_libraries()  # library progress bars only on a terminal
    for path in (records_path, rewrites_path):
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"{path}: records not found")
    rewrites = pl.read_parquet(rewrites_path) if rewrites_path is not None else None
    frame, info = score(combine(pl.read_parquet(records_path), rewrites), model_dir, settings)
    ppl = frame["ppl"].drop_nulls()
    limit, why = threshold(ppl, settings)
    filters = [] if limit is None else [Filter(
        "familiarity_unfamiliar", pl.col("ppl") > limit,
        pl.format("ppl {} > {} ({})", pl.col("ppl").round(3), pl.lit(round(limit, 3)), pl.lit(why)))]
    kept, rejected = split_by_filters(frame, filters)
    write_summaries(frame.filter(pl.col("ppl").is_not_null()), reports_dir)
    medians = frame.group_by("answer_from").agg(pl.col("ppl").median()).drop_nulls().sort("answer_from")
    extra = {**info, "scored": ppl.len(), "unscored": frame.height - ppl.len(),
             "ppl_median": round(ppl.median(), 4) if ppl.len() else None,
             "threshold": None if limit is None else round(limit, 4),
             "ppl_median_by_answer_from": {k: round(v, 4) for k, v in medians.iter_rows()}}
    return write_stage_outputs("familiarity", out_dir, metrics_path, kept=kept, rejected=rejected,
                               rows_in=frame.height, started=started, extra_columns=EXTRA_COLUMNS,
                               extra_metrics=extra)


@click.group(help=__doc__.split("\n\n")[0])
def cli() -> None:
    pass


@cli.command("run")
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="Params file.")
@click.option("--records", "records_path", required=True, type=click.Path(path_type=Path), help="Validated records.")
@click.option("--rewrites", "rewrites_path", type=click.Path(path_type=Path), help="Rewritten records (optional).")
@click.option("--base-model", "base_model", required=True, type=click.Path(path_type=Path), help="Base model dir.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--reports", "reports_dir", required=True, type=click.Path(path_type=Path),
              help="Directory for the ppl summaries (CSV plots and ppl.png).")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path), help="Metrics JSON.")
@clear_errors
def run_command(params_path: str, records_path: Path, rewrites_path: Path | None, base_model: Path, out_dir: Path,
                reports_dir: Path, metrics_path: Path) -> None:
    """Score every response's perplexity under the base model.

    Example: python -m stages.familiarity run --records data/validate/records.parquet
    --rewrites data/rewrite/records.parquet --base-model models/base --out data/familiarity
    --reports reports/familiarity --metrics metrics/familiarity.json
    """
    settings = parse_familiarity_settings(load_section("familiarity", params_path))
    metrics = run_familiarity(settings, records_path, rewrites_path, base_model, out_dir, reports_dir, metrics_path)
    median = "n/a" if metrics["ppl_median"] is None else f"{metrics['ppl_median']:.1f}"
    click.echo(f"familiarity: {metrics['scored']} scored, median ppl {median}, "
               f"{metrics['rows_kept']} kept of {metrics['rows_in']}")


def main() -> None:
    cli(prog_name="python -m stages.familiarity")


if __name__ == "__main__":
    main()
