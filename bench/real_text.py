"""clean + normalize speed on the real text of ../shared/data, next to OpenCC's own t2s speed and a baseline.

Ingests every COIG-CQIA subset file and Ruozhiba dump of the shared reference data with the scrape
code (nothing is copied into the repository), repeats the records (ids made unique) to about
`--target-mb` MB of UTF-8 text, and then, in fresh processes taking turns, runs clean and normalize in
memory with this checkout's code and params and with a baseline git revision's (its `stages/` and
params.yaml extracted to a temporary folder). In the same run it times OpenCC's t2s converter alone
on the same text. Prints medians over `--repeats` rounds and every round's figures (speed, and its
ratio to OpenCC's in the same round), and where this checkout's time goes, step by step. A round
times OpenCC's and fastText's loading (about 0.15 s each) unless `--warm`; OpenCC alone is timed
after loading its converter.

    python bench/real_text.py                          # 100 MB, 3 rounds, baseline 18475cb
    python bench/real_text.py --target-mb 30 --repeats 5 --baseline a3cb8ec --warm
    python bench/real_text.py --target-mb 20 --repeats 1 --baseline none
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("BENCH_CODE", str(ROOT)))

import click  # noqa: E402
import polars as pl  # noqa: E402

BASELINE = "18475cb"  # main before issue 11
FIELDS = ("instruction", "input", "output")


def real_records(data: Path) -> pl.DataFrame:
    """Every record of the shared data, through this checkout's scrape code."""
    from stages.ingest.sources import parse_source
    from stages.lib.record import records_frame

    rows = []
    for file in sorted((data / "coig-cqia-sample").glob("*.jsonl")):
        rows += parse_source(f"cqia_{file.stem}", {"kind": "cqia_jsonl", "path": str(file)}).read_files()[0]
    for file in sorted((data / "ruozhiba-dumps").glob("*.json")):
        name = "rzb_" + file.stem.replace("-", "_")
        rows += parse_source(name, {"kind": "ruozhiba_dump", "path": str(file)}).read_files()[0]
    return records_frame(rows)


def text_mb(frame: pl.DataFrame) -> float:
    return frame.select(pl.sum_horizontal(pl.col(c).fill_null("").str.len_bytes() for c in FIELDS).sum()).item() / 1e6


def repeated(records: pl.DataFrame, target_mb: float) -> pl.DataFrame:
    times = max(1, round(target_mb / text_mb(records)))
    copies = [records.with_columns(pl.concat_str(pl.col("id"), pl.lit(f"#{k}")).alias("id")) for k in range(times)]
    return pl.concat(copies)


def measure(corpus: Path, params: Path, warm: bool = False) -> dict:
    """One round in this process: clean then normalize in memory (no writes), seconds and MB, and the
    wall seconds of each step (`StepTimer`; the steps of a baseline may be named otherwise). `warm`: load
    OpenCC and fastText before the clock starts, as `opencc_mb_s` does with its converter."""
    import yaml

    from stages.clean.filters import CleanParams
    from stages.clean.normalize_text import NormalizeParams
    from stages.clean.normalizing import normalize_records
    from stages.clean.records import clean_records
    from stages.clean.steps import StepTimer
    from stages.lib.params import parse_section

    config = yaml.safe_load(params.read_text(encoding="utf-8"))
    records = pl.read_parquet(corpus)
    clean_settings = parse_section(CleanParams, config["clean"], "clean")
    norm_settings = parse_section(NormalizeParams, config["normalize"], "normalize")
    timer, norm_timer = StepTimer(), StepTimer()
    if warm:
        from stages.clean.langid import load_model
        from stages.clean.normalize_text import converter

        load_model()
        converter(norm_settings.opencc_default)
    started = time.perf_counter()
    kept, rejected, _ = clean_records(records, clean_settings, timer)
    clean_s = time.perf_counter() - started
    started = time.perf_counter()
    if "timer" in inspect.signature(normalize_records).parameters:
        normalize_records(kept, norm_settings, norm_timer)
    else:  # a baseline without it
        normalize_records(kept, norm_settings)
    normalize_s = time.perf_counter() - started
    langid_s = sum(v for k, v in timer.seconds.items() if k in ("score:langid", "score:score_chinese",
                                                                   "score:score_chinese_output"))
    steps = {**{f"clean {k}": v for k, v in timer.seconds.items()},
             **{f"normalize {k}": v for k, v in norm_timer.seconds.items()}}
    return {"mb": text_mb(records), "clean_s": clean_s, "normalize_s": normalize_s, "langid_s": langid_s,
            "kept": kept.height, "rejected": rejected.height, "steps": steps}


def opencc_mb_s(corpus: Path) -> float:
    """OpenCC t2s alone on the same text, in 1 MB pieces (its own speed, no pipeline around it)."""
    import opencc

    converter = opencc.OpenCC("t2s.json")
    frame = pl.read_parquet(corpus, columns=list(FIELDS))
    text = "\n".join(frame.select(pl.concat_str([pl.col(c).fill_null("") for c in FIELDS], separator="\n"))
                     .to_series().to_list())
    pieces = [text[i:i + 1_000_000] for i in range(0, len(text), 1_000_000)]
    started = time.perf_counter()
    for piece in pieces:
        converter.convert(piece)
    return len(text.encode("utf-8")) / 1e6 / (time.perf_counter() - started)


def settled_share(records: pl.DataFrame) -> float:
    """Share of texts (questions and answers of the real records) the Han share settles without fastText."""
    from stages.clean import langid

    class Counting:
        sent = 0

        def predict(self, texts, k=1):
            Counting.sent += len(texts)
            return langid.load_model().predict(texts, k=k)

    question = records.select(pl.concat_str([pl.col("instruction"), pl.col("input")], separator="\n")).to_series()
    judged = 0
    for texts, context in ((question, None), (records["output"], question)):
        scores = langid.chinese_scores(texts, 200, ("zh", "yue", "wuu"), 0.6, 0.1, model=Counting(), context=context)
        judged += scores.is_not_null().sum()
    return 1 - Counting.sent / judged


def extract(rev: str, into: Path) -> Path:
    """`stages/` and params.yaml of a git revision, in a folder of their own."""
    archive = subprocess.run(["git", "archive", rev, "stages", "params.yaml"], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        raise click.ClickException(f"git archive {rev} failed: {archive.stderr.decode().strip()}")
    tarfile.open(fileobj=BytesIO(archive.stdout)).extractall(into, filter="data")
    return into


def run_round(code: Path, corpus: Path, warm: bool) -> dict:
    env = {**os.environ, "BENCH_CODE": str(code)}
    cmd = [sys.executable, __file__, "--measure", str(corpus), "--params", str(code / "params.yaml")]
    cmd += ["--warm"] if warm else []
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"round with {code} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


@click.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              default=ROOT.parent / "shared" / "data", show_default="../shared/data")
@click.option("--target-mb", default=100.0, show_default=True, help="Repeat the real records to about this size.")
@click.option("--repeats", default=3, show_default=True, help="Rounds per code version (medians are reported).")
@click.option("--baseline", "rev", default=BASELINE, show_default=True, help="Git revision, or 'none'.")
@click.option("--warm", is_flag=True, help="Load OpenCC and fastText before the clock starts (as OpenCC alone is "
                                           "timed after loading its converter); default: their loading is timed.")
@click.option("--measure", "measure_path", type=click.Path(path_type=Path), hidden=True)
@click.option("--params", "params_path", type=click.Path(path_type=Path), hidden=True)
def main(data_dir: Path, target_mb: float, repeats: int, rev: str, warm: bool, measure_path: Path | None,
         params_path: Path | None) -> None:
    """Time clean + normalize on real text. Example: python bench/real_text.py --target-mb 100"""
    if measure_path is not None:
        click.echo(json.dumps(measure(measure_path, params_path, warm)))
        return
    with tempfile.TemporaryDirectory(prefix="real-text-") as tmp:
        corpus = Path(tmp) / "corpus.parquet"
        base = repeated(real_records(data_dir), target_mb)
        base.write_parquet(corpus)
        click.echo(f"corpus: {base.height} records, {text_mb(base):.1f} MB of text; load average {load_average()}")
        click.echo(f"texts settled by the Han share alone (no fastText): {settled_share(real_records(data_dir)):.1%}")
        versions = {"this checkout": ROOT}
        if rev != "none":
            versions[f"baseline {rev}"] = extract(rev, Path(tmp) / "baseline")
        rounds: dict[str, list[dict]] = {name: [] for name in versions}
        opencc_speeds = []
        for _ in range(repeats):
            for name, code in versions.items():
                rounds[name].append(run_round(code, corpus, warm))
            opencc_speeds.append(opencc_mb_s(corpus))
        for name, results in rounds.items():
            speeds = [r["mb"] / (r["clean_s"] + r["normalize_s"]) for r in results]
            clean = [r["mb"] / r["clean_s"] for r in results]
            langid = [r["langid_s"] / r["clean_s"] for r in results]
            ratios = [speed / opencc for speed, opencc in zip(speeds, opencc_speeds)]
            click.echo(f"{name}: clean + normalize {statistics.median(speeds):.1f} MB/s (rounds: "
                       f"{', '.join(f'{s:.1f}' for s in speeds)}); {statistics.median(ratios):.3f} of OpenCC t2s "
                       f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)}); clean alone {statistics.median(clean):.1f} "
                       f"MB/s; language step {statistics.median(langid):.0%} of clean; kept {results[0]['kept']}, "
                       f"rejected {results[0]['rejected']}")
        click.echo(f"OpenCC t2s alone: {statistics.median(opencc_speeds):.1f} MB/s (rounds: "
                   f"{', '.join(f'{s:.1f}' for s in opencc_speeds)}); load average now {load_average()}")
        click.echo(where_the_time_goes(rounds["this checkout"]))


def where_the_time_goes(results: list[dict], shown: int = 14) -> str:
    """This checkout's steps by median wall seconds, with their share of clean + normalize."""
    total = statistics.median(r["clean_s"] + r["normalize_s"] for r in results)
    steps = {name: statistics.median(r["steps"].get(name, 0.0) for r in results) for name in results[0]["steps"]}
    glue = statistics.median(r["clean_s"] + r["normalize_s"] - sum(r["steps"].values()) for r in results)
    ranked = sorted(steps.items(), key=lambda item: -item[1])
    rows = ranked[:shown] + [(f"{len(ranked) - shown} other steps", sum(s for _, s in ranked[shown:])),
                             ("outside any step (frames, filters' glue)", glue)]
    lines = [f"where the time goes (this checkout, medians of {len(results)} rounds, {total:.2f} s in all):"]
    lines += [f"  {name:42s} {seconds:6.2f} s {seconds / total:6.1%}" for name, seconds in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
