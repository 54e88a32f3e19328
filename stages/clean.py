"""Stage `clean`: repair texts, scrub PII, score and filter every raw record.

Reads `<raw>/<name>/records.parquet` for exactly the sources configured in
`params.yaml: sources` (a removed source's leftover folder is never read) and writes
`records.parquet` and `rejected.parquet` under `--out`, plus `--metrics`.
Per record, on instruction, input and output:
1. repairs (`stages.cleaning.repair`): control characters, mojibake, HTML,
   zero-width characters, markdown escape artefacts, whitespace; code, LaTeX
   and URLs are masked during the prose repairs and come back unchanged;
2. PII (`stages.cleaning.pii`): typed placeholders, counted per type;
3. score columns (`stages.cleaning.scores`), then filters with per-source
   thresholds (`stages.cleaning.filters`), each drop with a `clean_*` reason.
Each repair or scrub that changed a record appends its tag to `transforms`.
Metrics add, per tag, the number of records it changed (`transforms`) and the
PII placeholders inserted per type (`pii`).

Example:
    python -m stages.clean run --raw data/raw --out data/clean --metrics metrics/clean.json \\
        --quality-model models/quality/model.bin
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.cleaning import html, langid, pii, quality, repair
from stages.cleaning.filters import CleanSettings, build_filters, parse_clean_settings
from stages.cleaning.scores import (SCORE_COLUMNS, flagged_count, flagged_words, joined_prose, prose_chars,
                                    quote_aware_share, repeated_share, repetition_text, repetition_units,
                                    total_chars)
from stages.cleaning.segments import CODE, CODE_HINT, INNER_SENTINEL, MATH_URL, MATH_URL_HINT, Masked, mask, unmask
from stages.cleaning.steps import (TEXT_FIELDS, StepTimer, TransformLog, apply_expr, apply_python, candidate_rows,
                                   count_literal)
from stages.ingest.sources import parse_sources
from stages.engine.config import EngineSettings, load_engine
from stages.lib.contract import split_by_filters, write_stage_outputs
from stages.lib.errors import StageError, clear_errors
from stages.lib.params import load_section
from stages.lib.record import RECORD_SCHEMA


@dataclass
class Cleaned:
    """Cleaned texts, the prose view the scores read, and what changed."""

    texts: pl.DataFrame
    prose: pl.DataFrame
    log: TransformLog
    pii_counts: dict[str, int]


def configured_sources(params_path: str | Path) -> list[str]:
    """The source names of `params.yaml: sources` (validated): the scrape outputs to read."""
    return sorted(parse_sources(load_section("sources", params_path)))


def raw_files(raw_dir: Path, sources: Sequence[str]) -> list[Path]:
    """`<raw_dir>/<name>/records.parquet` of each configured source, in name order (nothing else)."""
    files = [raw_dir / name / "records.parquet" for name in sorted(sources)]
    for name, file in zip(sorted(sources), files):
        if not file.is_file():
            raise StageError(f"{file}: not found; source '{name}' is configured but not scraped "
                             f"(run: dvc repro scrape@{name})")
    return files


def load_raw(raw_dir: Path, sources: Sequence[str]) -> pl.DataFrame:
    """The configured sources' scrape outputs, in name order."""
    files = raw_files(raw_dir, sources)
    frames = [pl.read_parquet(file).select(RECORD_SCHEMA.names()).cast(dict(RECORD_SCHEMA)) for file in files]
    return pl.concat(frames, how="vertical")


def repair_texts(texts: pl.DataFrame, log: TransformLog, timer: StepTimer) -> tuple[Masked, Masked, pl.DataFrame]:
    """Run the repairs; return the code mask, the LaTeX/URL mask and the repaired masked prose."""
    def run(tag: str, result: tuple[pl.DataFrame, pl.Series]) -> pl.DataFrame:
        log.record(tag, result[1])
        return result[0]

    with timer.step("repair:rare_characters"):
        rare = candidate_rows(texts, repair.RARE_CHARS)  # plus rows HTML entities changed, below
    with timer.step("repair:noncharacters"):
        texts = run("clean:control", apply_expr(texts, repair.strip_noncharacters, repair.NONCHARACTER_HINT, rare))
    with timer.step("repair:mojibake"):
        texts = run("clean:mojibake", apply_python(texts, repair.fix_mojibake, repair.MOJIBAKE_HINT, rare))
    with timer.step("repair:html"):
        texts, converted = apply_python(texts, html.html_to_text, html.HTML_HINT)
        log.record("clean:html", converted)
        rare = {name: pl.concat([rows, converted.arg_true()]).unique().sort() for name, rows in rare.items()}
    with timer.step("mask"):
        code = mask(texts, CODE, CODE_HINT)
        spans = mask(code.texts, MATH_URL, MATH_URL_HINT, INNER_SENTINEL)
    masked = spans.texts
    with timer.step("repair:control"):
        masked = run("clean:control", apply_expr(masked, repair.remove_control, repair.CONTROL, rare))
    with timer.step("repair:zero_width"):
        masked = run("clean:zero_width", apply_expr(masked, repair.remove_zero_width, repair.ZERO_WIDTH_HINT, rare))
    with timer.step("repair:markdown_unescape"):
        masked = run("clean:markdown_unescape", apply_python(masked, repair.unescape_markdown, repair.ESCAPE_HINT))
    with timer.step("repair:whitespace"):
        masked = run("clean:whitespace", apply_expr(masked, repair.normalise_whitespace, repair.whitespace_hint))
    return code, spans, masked


def tally_pii(old: pl.DataFrame, new: pl.DataFrame, changed: pl.Series, kinds: tuple[str, ...],
              log: TransformLog, counts: dict[str, int]) -> None:
    """Count the placeholders each kind added to the changed records, and tag those records."""
    rows = changed.arg_true()
    for kind in kinds:
        added = pl.Series([0] * rows.len(), dtype=pl.Int64)
        if rows.len():
            subset = {name: frame.select(pl.all().gather(rows)) for name, frame in (("old", old), ("new", new))}
            placeholder = pii.PLACEHOLDERS[kind]
            added = count_literal(subset["new"], placeholder).cast(pl.Int64) - count_literal(
                subset["old"], placeholder).cast(pl.Int64)
        counts[kind] = counts.get(kind, 0) + int(added.sum())
        tagged = pl.Series([False] * old.height, dtype=pl.Boolean)
        if rows.len():
            tagged = tagged.scatter(rows.filter(added > 0), True)
        log.record(f"pii:{kind}", tagged)


def scrub_pii(code: Masked, spans: Masked, masked: pl.DataFrame, log: TransformLog,
              timer: StepTimer) -> tuple[pl.DataFrame, dict[str, int]]:
    """Prose rules on the text with only code masked, then code-wide rules on the full text."""
    counts: dict[str, int] = {}
    none = pl.Series([False] * masked.height, dtype=pl.Boolean)
    for kind in ("id_card", "bank_card", "phone", "secret_url", "secret_key", "email"):
        log.record(f"pii:{kind}", none)  # tags in this order on every record, whichever step finds what
    with timer.step("unmask"):
        texts = unmask(spans, masked)
    with timer.step("pii:contacts"):
        new, changed = apply_python(texts, pii.scrub_contacts, pii.CONTACT_HINT)
        tally_pii(texts, new, changed, ("id_card", "bank_card", "phone", "email"), log, counts)
        texts = new
    with timer.step("unmask"):
        texts = unmask(code, texts)
    rules = (("secret_url", pii.scrub_secret_urls, pii.SECRET_URL_HINT),
             ("secret_key", pii.scrub_secret_keys, pii.SECRET_KEY_HINT), ("email", pii.scrub_emails, pii.EMAIL_HINT),
             ("phone", pii.scrub_code_phones, pii.CODE_PHONE_HINT))
    for kind, rule, hint in rules:
        with timer.step(f"pii:{kind}"):
            new, changed = apply_expr(texts, rule, hint)
            tally_pii(texts, new, changed, (kind,), log, counts)
            texts = new
    return texts, counts


def promote_input(full: pl.DataFrame, masked: pl.DataFrame, log: TransformLog) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A record whose instruction is blank and whose question sits in `input` gets it as its instruction."""
    moved = full.select((pl.col("instruction").str.strip_chars() == "")
                        & (pl.col("input").str.strip_chars() != "")).to_series()
    log.record("clean:input_as_instruction", moved)
    if not moved.any():
        return full, masked
    swap = [pl.when(moved).then(pl.col("input")).otherwise(pl.col("instruction")).alias("instruction"),
            pl.when(moved).then(pl.lit("")).otherwise(pl.col("input")).alias("input")]
    return full.with_columns(swap), masked.with_columns(swap)


def clean_texts(texts: pl.DataFrame, timer: StepTimer) -> Cleaned:
    log = TransformLog()
    code, spans, masked = repair_texts(texts, log, timer)
    full, counts = scrub_pii(code, spans, masked, log, timer)
    full, masked = promote_input(full, masked, log)
    return Cleaned(full, masked, log, counts)


def score_language(texts: pl.Series, settings: CleanSettings, context: pl.Series | None = None) -> pl.Series:
    return langid.chinese_scores(texts, settings.lang_max_chars, settings.chinese_labels,
                                 settings.han_share_chinese, settings.han_share_other, context=context)


def score_records(records: pl.DataFrame, cleaned: Cleaned, settings: CleanSettings, quality_model: Any | None,
                  timer: StepTimer) -> pl.DataFrame:
    """The record frame with cleaned texts and every score column."""
    fields = list(TEXT_FIELDS)
    prose_fields = [f"_prose_{name}" for name in fields]
    view = cleaned.prose.rename(dict(zip(fields, prose_fields)))
    frame = pl.concat([records.drop(fields), cleaned.texts, view], how="horizontal")
    with timer.step("score:text"):
        frame = frame.with_columns(repetition_text("_prose_output", "_prose_instruction").alias("_rep_text"))
        chunks, lines = repetition_units(pl.col("_rep_text"), settings.repetition_chunk, settings.repetition_window)
        frame = frame.with_columns(
            total_chars(fields).alias("score_chars"),
            prose_chars(prose_fields).alias("score_prose_chars"),
            prose_chars(prose_fields[2:]).alias("score_output_prose_chars"),
            flagged_count(prose_fields, flagged_words()).alias("score_flagged"),
            chunks.alias("_chunks"),
            lines.alias("_lines"),
        ).with_columns(
            repeated_share(pl.col("_chunks")).alias("score_char_rep"),
            repeated_share(pl.col("_lines")).alias("score_line_rep"),
        )
        has_answer = frame.select(pl.col("output").str.strip_chars() != "").to_series()
        question = frame.select(pl.when(has_answer).then(joined_prose(prose_fields[:2])).otherwise(pl.lit(""))
                                .alias("q")).to_series()
        frame = frame.with_columns(quote_aware_share(frame["_chunks"], question, frame["score_char_rep"]))
        frame = frame.drop("_rep_text", "_chunks", "_lines")
    with timer.step("score:langid"):
        question = frame.select(joined_prose(prose_fields[:2]).alias("q")).to_series()
        answer = frame.select(joined_prose(prose_fields[2:]).alias("a")).to_series()
        scores = [score_language(question, settings).alias("score_chinese"),
                  score_language(answer, settings, context=question).alias("score_chinese_output")]
    with timer.step("score:quality"):
        if quality_model is None:
            scores.append(pl.Series("score_quality", [None] * frame.height, dtype=pl.Float64))
        else:
            feats = frame.select(quality.features(joined_prose(prose_fields, quality.MAX_CHARS))).to_series()
            scores.append(pl.Series("score_quality", quality.good_probability(quality_model, feats.to_list()),
                                    dtype=pl.Float64))
    return frame.with_columns(scores).drop(prose_fields)


def clean_records(records: pl.DataFrame, settings: CleanSettings, quality_model: Any | None = None,
                  timer: StepTimer | None = None) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Return (kept, rejected, extra metrics) for a frame of raw records."""
    timer = timer or StepTimer()
    texts = records.select(pl.col(name).fill_null("") for name in TEXT_FIELDS)
    cleaned = clean_texts(texts, timer)
    frame = score_records(records, cleaned, settings, quality_model, timer)
    with timer.step("filter"):
        frame = frame.with_columns(cleaned.log.append_to(frame["transforms"]))
        kept, rejected = split_by_filters(frame, build_filters(settings))
    extra = {"transforms": cleaned.log.counts(), "pii": dict(sorted(cleaned.pii_counts.items()))}
    return kept, rejected, extra


def clean_block(frame: pl.DataFrame, settings: CleanSettings, model_path: Path | None):
    """clean_records on one block of raw records (what a Ray worker runs)."""
    records = frame.select(RECORD_SCHEMA.names()).cast(dict(RECORD_SCHEMA))
    return clean_records(records, settings, None if model_path is None else quality.load(model_path))


def run_clean(raw_dir: Path, out_dir: Path, metrics_path: Path, settings: CleanSettings,
              quality_model_path: Path | None, sources: Sequence[str],
              engine: EngineSettings | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    if quality_model_path is not None and not quality_model_path.is_file():
        quality_model_path = None
    if quality_model_path is None and settings.quality_wanted():
        raise StageError("clean: min_quality is set but there is no quality model (--quality-model); "
                         "set train_quality.enabled: true in params.yaml and run the train_quality stage")
    if engine is not None and engine.kind == "ray":
        from stages.engine.frames import map_files, parquet_rows

        files = raw_files(raw_dir, sources)
        block = functools.partial(clean_block, settings=settings, model_path=quality_model_path)
        kept, rejected, extra = map_files(files, block, engine, "clean")
        rows_in = parquet_rows(files)
    else:
        records = load_raw(raw_dir, sources)
        model = None if quality_model_path is None else quality.load(quality_model_path)
        kept, rejected, extra = clean_records(records, settings, model)
        rows_in = records.height
    return write_stage_outputs("clean", out_dir, metrics_path, kept=kept, rejected=rejected, rows_in=rows_in,
                               started=started, extra_columns=SCORE_COLUMNS, extra_metrics=extra)


@click.group(help=__doc__.split("\n\n")[0])
def cli() -> None:
    pass


@cli.command("run")
@click.option("--raw", "raw_dir", required=True, type=click.Path(path_type=Path),
              help="Directory of scrape outputs; <raw>/<name>/records.parquet is read for each name in "
                   "params.yaml: sources.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path), help="Metrics JSON.")
@click.option("--quality-model", "quality_model", type=click.Path(path_type=Path), default=None,
              help="fastText quality model (from train_quality); used when it exists.")
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="Params file.")
@clear_errors
def run_command(raw_dir: Path, out_dir: Path, metrics_path: Path, quality_model: Path | None, params_path: str) -> None:
    """Clean every raw record.

    Example: python -m stages.clean run --raw data/raw --out data/clean --metrics metrics/clean.json
    --quality-model models/quality/model.bin
    """
    settings = parse_clean_settings(load_section("clean", params_path))
    metrics = run_clean(raw_dir, out_dir, metrics_path, settings, quality_model, configured_sources(params_path),
                        load_engine(params_path))
    dropped = sum(metrics["rows_dropped"].values())
    click.echo(f"clean: {metrics['rows_in']} in, {metrics['rows_kept']} kept, {dropped} rejected")


def main() -> None:
    cli(prog_name="python -m stages.clean")


if __name__ == "__main__":
    main()
