"""Stage `train_quality`: the optional fastText quality classifier for `clean`.

Off by default (`train_quality.enabled: false`): the stage then only writes
`<out>/info.json` saying so, and `clean` leaves `score_quality` null. When
enabled it reads the raw records, runs the clean stage's repairs, scores and
heuristic filters in memory (with clean's own thresholds, which is why this
stage also reads `params.yaml: clean`; the quality filter itself is not
applied), and labels:
- good: kept records matching every `positive` condition (field: value), e.g.
  `{human_verified: true}`;
- bad: records the heuristics rejected with one of `negative_reasons`.
It trains a supervised fastText model on their prose (`stages.cleaning.quality`)
and writes `<out>/model.bin` and `<out>/info.json` (example counts, training
accuracy), plus `--metrics`. Reading raw records, not clean's output, keeps the
pipeline acyclic: clean depends on this stage's model.

Example:
    python -m stages.train_quality run --raw data/raw --out models/quality --metrics metrics/train_quality.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.clean import clean_records, configured_sources, load_raw
from stages.cleaning import quality
from stages.cleaning.filters import REASONS, parse_clean_settings
from stages.cleaning.scores import joined_prose
from stages.cleaning.segments import CODE_MATH_URL, CODE_MATH_URL_HINT, mask
from stages.cleaning.steps import TEXT_FIELDS
from stages.lib.errors import StageError, clear_errors
from stages.lib.io import write_json
from stages.lib.params import load_section, require_keys
from stages.lib.record import RECORD_SCHEMA

OPTION_KEYS = {"epoch", "lr", "word_ngrams", "dim", "bucket", "min_count", "seed"}
KEYS = {"enabled", "positive", "negative_reasons", "min_examples", *OPTION_KEYS}


def parse_train_settings(section: Any, where: str = "train_quality") -> dict[str, Any]:
    require_keys(where, section, KEYS, KEYS)
    if not isinstance(section["enabled"], bool):
        raise ValueError(f"{where}.enabled: must be true or false")
    positive = section["positive"]
    if not isinstance(positive, dict) or not positive:
        raise ValueError(f"{where}.positive: must be a non-empty mapping of record field to value")
    unknown = sorted(set(positive) - set(RECORD_SCHEMA.names()))
    if unknown:
        raise ValueError(f"{where}.positive: unknown record field(s) {', '.join(unknown)}")
    reasons = section["negative_reasons"]
    if not isinstance(reasons, list) or not reasons or any(r not in REASONS for r in reasons):
        raise ValueError(f"{where}.negative_reasons: must be a non-empty list of {', '.join(REASONS)}")
    for key in ("min_examples", *sorted(OPTION_KEYS - {"lr"})):
        if not isinstance(section[key], int) or isinstance(section[key], bool) or section[key] < 0:
            raise ValueError(f"{where}.{key}: must be a non-negative integer, got {section[key]!r}")
    if not isinstance(section["lr"], (int, float)) or section["lr"] <= 0:
        raise ValueError(f"{where}.lr: must be a positive number, got {section['lr']!r}")
    return section


def feature_texts(frame: pl.DataFrame) -> list[str]:
    hidden = mask(frame.select(pl.col(name).fill_null("") for name in TEXT_FIELDS), CODE_MATH_URL, CODE_MATH_URL_HINT)
    return hidden.texts.select(quality.features(joined_prose(list(TEXT_FIELDS)))).to_series().to_list()


def examples(kept: pl.DataFrame, rejected: pl.DataFrame, settings: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(good, bad) feature strings as configured."""
    condition = pl.all_horizontal(pl.col(field) == value for field, value in settings["positive"].items())
    good = kept.filter(condition)
    bad = rejected.filter(pl.col("reason").is_in(settings["negative_reasons"]))
    return feature_texts(good.sort("id")), feature_texts(bad.sort("id"))


def train_quality(raw_dir: Path, out_dir: Path, metrics_path: Path, settings: dict[str, Any],
                  clean_section: Any, sources: list[str]) -> dict[str, Any]:
    info: dict[str, Any] = {"enabled": settings["enabled"]}
    model_path = out_dir / quality.MODEL_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    if not settings["enabled"]:
        model_path.unlink(missing_ok=True)
    else:
        kept, rejected, _ = clean_records(load_raw(raw_dir, sources), parse_clean_settings(clean_section))
        good, bad = examples(kept, rejected, settings)
        if min(len(good), len(bad)) < settings["min_examples"]:
            raise StageError(f"train_quality: {len(good)} good and {len(bad)} bad examples; each needs at least "
                             f"min_examples ({settings['min_examples']}): adjust positive or negative_reasons")
        options = quality.TrainOptions(**{key: settings[key] for key in sorted(OPTION_KEYS)})
        model = quality.train(good, bad, options, model_path)
        predicted = quality.good_probability(model, good + bad)
        correct = sum(p >= 0.5 for p in predicted[:len(good)]) + sum(p < 0.5 for p in predicted[len(good):])
        info.update({"good_examples": len(good), "bad_examples": len(bad),
                     "train_accuracy": round(correct / (len(good) + len(bad)), 4)})
    write_json(info, out_dir / "info.json")
    write_json(info, metrics_path)
    return info


@click.group(help=__doc__.split("\n\n")[0])
def cli() -> None:
    pass


@cli.command("run")
@click.option("--raw", "raw_dir", required=True, type=click.Path(path_type=Path), help="Directory of scrape outputs.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Model directory.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path), help="Metrics JSON.")
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="Params file.")
@clear_errors
def run_command(raw_dir: Path, out_dir: Path, metrics_path: Path, params_path: str) -> None:
    """Train (or, when disabled, skip) the quality classifier.

    Example: python -m stages.train_quality run --raw data/raw --out models/quality
    --metrics metrics/train_quality.json
    """
    settings = parse_train_settings(load_section("train_quality", params_path))
    clean_section = load_section("clean", params_path) if settings["enabled"] else None
    sources = configured_sources(params_path) if settings["enabled"] else []
    info = train_quality(raw_dir, out_dir, metrics_path, settings, clean_section, sources)
    if not info["enabled"]:
        click.echo("train_quality: off (train_quality.enabled: false); clean leaves score_quality empty")
    else:
        click.echo(f"train_quality: {info['good_examples']} good and {info['bad_examples']} bad examples, "
                   f"train accuracy {info['train_accuracy']:.3f}")


def main() -> None:
    cli(prog_name="python -m stages.train_quality")


if __name__ == "__main__":
    main()
