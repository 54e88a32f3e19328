"""Stage `normalize`: one script and one punctuation style, before dedup.

Reads the `clean` stage's records and writes `records.parquet` (every input
row: normalisation drops nothing, `rejected.parquet` is empty) under `--out`,
plus `--metrics`. Runs after `clean` and before dedup, so a traditional and a
simplified copy of the same text become equal and collapse in dedup.

On instruction, input and output, with code, LaTeX and URLs masked
(`stages.cleaning.segments`), in order (`stages.cleaning.normalize_text`):
1. OpenCC with the record's source config (`opencc:<config>`);
2. full-width letters and digits to ASCII (`normalize:width`);
3. ASCII punctuation between Han characters to the Chinese form (`normalize:punct`).
A tag is appended to `transforms` only when the step changed the record. Score
columns from `clean` are carried through. Normalising twice gives the same
result as once.

Example:
    python -m stages.normalize run --input data/clean/records.parquet --out data/normalize \\
        --metrics metrics/normalize.json
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.cleaning.normalize_text import (OPENCC_CONFIGS, PUNCT_HINT, WIDTH_HINT, convert_script, normalise_punct,
                                           normalise_width)
from stages.cleaning.segments import CODE_MATH_URL, CODE_MATH_URL_HINT, SENTINEL, mask, unmask
from stages.cleaning.steps import TEXT_FIELDS, StepTimer, TransformLog, apply_expr, changed_rows
from stages.engine.config import EngineSettings, load_engine
from stages.lib.contract import write_stage_outputs
from stages.lib.errors import StageError, clear_errors
from stages.lib.params import load_section, require_keys
from stages.lib.record import RECORD_SCHEMA, empty_rejected


@dataclass(frozen=True)
class NormalizeSettings:
    opencc_default: str
    opencc_by_source: dict[str, str]
    width: bool
    punct: bool

    def config_for(self, source: str | None) -> str:
        return self.opencc_by_source.get(source or "", self.opencc_default)


def parse_normalize_settings(section: Any, where: str = "normalize") -> NormalizeSettings:
    keys = {"opencc_default", "opencc_by_source", "width", "punct"}
    require_keys(where, section, keys, keys)
    by_source = section["opencc_by_source"] or {}
    if not isinstance(by_source, dict):
        raise ValueError(f"{where}.opencc_by_source: must be a mapping of source name to OpenCC config")
    for key, config in [("opencc_default", section["opencc_default"]),
                        *((f"opencc_by_source.{s}", c) for s, c in by_source.items())]:
        if config not in OPENCC_CONFIGS:
            raise ValueError(f"{where}.{key}: unknown OpenCC config {config!r}; available: {', '.join(OPENCC_CONFIGS)}")
    for key in ("width", "punct"):
        if not isinstance(section[key], bool):
            raise ValueError(f"{where}.{key}: must be true or false, got {section[key]!r}")
    return NormalizeSettings(section["opencc_default"], dict(by_source), section["width"], section["punct"])


def convert_masked(masked: pl.DataFrame, configs: pl.Series, log: TransformLog) -> pl.DataFrame:
    """OpenCC per config group; records whose text changed get `opencc:<config>`."""
    columns = {name: masked[name] for name in masked.columns}
    for config in sorted(set(configs.to_list())):
        rows = (configs == config).arg_true()
        group = masked.select(pl.all().gather(rows))
        converted = pl.DataFrame([pl.Series(name, convert_script(group[name].to_list(), config), dtype=pl.String)
                                  for name in masked.columns])
        flags = pl.Series([False] * masked.height, dtype=pl.Boolean)
        flags = flags.scatter(rows, changed_rows(group, converted))
        log.record(f"opencc:{config}", flags)
        for name in masked.columns:
            columns[name] = columns[name].clone().scatter(rows, converted[name])
    return pl.DataFrame(list(columns.values()))


def normalize_texts(texts: pl.DataFrame, configs: pl.Series, settings: NormalizeSettings,
                    timer: StepTimer) -> tuple[pl.DataFrame, TransformLog]:
    """Normalise the text columns; `configs` gives each row's OpenCC config."""
    log = TransformLog()
    with timer.step("mask"):
        hidden = mask(texts, CODE_MATH_URL, CODE_MATH_URL_HINT)
    masked = hidden.texts
    with timer.step("opencc"):
        masked = convert_masked(masked, configs, log)
    if settings.width:
        with timer.step("width"):
            masked, changed = apply_expr(masked, normalise_width, WIDTH_HINT)
            log.record("normalize:width", changed)
    if settings.punct:
        with timer.step("punct"):
            masked, changed = apply_expr(masked, normalise_punct, PUNCT_HINT)
            log.record("normalize:punct", changed)
    with timer.step("unmask"):
        return unmask(hidden, masked), log


def normalize_records(records: pl.DataFrame, settings: NormalizeSettings,
                      timer: StepTimer | None = None) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Return (normalised records, extra metrics); extra columns of `records` are kept."""
    timer = timer or StepTimer()
    texts = records.select(pl.col(name).fill_null("") for name in TEXT_FIELDS)
    if texts.select(pl.any_horizontal(pl.col(name).str.contains(SENTINEL, literal=True).any()
                                      for name in TEXT_FIELDS)).item():
        raise StageError("normalize: input contains U+FDD0 (a noncharacter); run the clean stage first")
    configs = records.select(
        pl.col("source").replace_strict(settings.opencc_by_source, default=settings.opencc_default,
                                        return_dtype=pl.String)
    ).to_series()
    normalised, log = normalize_texts(texts, configs, settings, timer)
    out = records.with_columns(normalised.get_columns())
    out = out.with_columns(log.append_to(out["transforms"]))
    by_config = configs.value_counts().sort(configs.name)
    extra = {"transforms": log.counts(), "opencc_records": {config: int(n) for config, n in by_config.iter_rows()}}
    return out, extra


def normalize_block(records: pl.DataFrame, settings: NormalizeSettings):
    """normalize_records on one block, as (kept, rejected, extra metrics) (what a Ray worker runs)."""
    out, extra = normalize_records(records, settings)
    return out, empty_rejected(), extra


def run_normalize(input_path: Path, out_dir: Path, metrics_path: Path, settings: NormalizeSettings,
                  engine: EngineSettings | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    if not input_path.is_file():
        raise StageError(f"{input_path}: input not found (run the clean stage first)")
    if engine is not None and engine.kind == "ray":
        from stages.engine.frames import map_files, parquet_rows

        columns = pl.read_parquet_schema(input_path)
        block = functools.partial(normalize_block, settings=settings)
        out, _, extra = map_files([input_path], block, engine, "normalize")
        out = out.select(pl.col(name).cast(dtype) for name, dtype in columns.items())
        rows_in = parquet_rows([input_path])
    else:
        records = pl.read_parquet(input_path)
        columns, rows_in = records.schema, records.height
        out, extra = normalize_records(records, settings)
    extra_columns = tuple(name for name in columns if name not in RECORD_SCHEMA)
    return write_stage_outputs("normalize", out_dir, metrics_path, kept=out, rejected=empty_rejected(),
                               rows_in=rows_in, started=started, extra_columns=extra_columns,
                               extra_metrics=extra)


@click.group(help=__doc__.split("\n\n")[0])
def cli() -> None:
    pass


@cli.command("run")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path),
              help="records.parquet of the clean stage.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path), help="Metrics JSON.")
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="Params file.")
@clear_errors
def run_command(input_path: Path, out_dir: Path, metrics_path: Path, params_path: str) -> None:
    """Normalise script, width and punctuation of every cleaned record.

    Example: python -m stages.normalize run --input data/clean/records.parquet --out data/normalize
    --metrics metrics/normalize.json
    """
    settings = parse_normalize_settings(load_section("normalize", params_path))
    metrics = run_normalize(input_path, out_dir, metrics_path, settings, load_engine(params_path))
    click.echo(f"normalize: {metrics['rows_in']} in, {metrics['rows_kept']} kept")


def main() -> None:
    cli(prog_name="python -m stages.normalize")


if __name__ == "__main__":
    main()
