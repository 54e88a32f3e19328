"""Real-data report: scrape -> clean -> normalize -> dedup -> validate on ../shared/data.

Points one source at every COIG-CQIA subset file and every raw Ruozhiba dump
in the shared reference data (read in place, nothing is copied into the
repository), runs the stage commands exactly as `dvc.yaml` does in a temporary
workspace with the repository's params (sources replaced), and prints, per
source: records in, kept after validate, dropped per stage and reason, and up
to 3 dropped texts per reason.

    python bench/real_data.py                        # ../shared/data beside the repo
    python bench/real_data.py --data /path/to/data --examples 5 --md
    python bench/real_data.py --keep /tmp/real       # keep the workspace to look at the outputs
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import click
import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("clean", "normalize", "dedup", "validate")


def shared_sources(data: Path) -> dict[str, dict]:
    """One source per COIG-CQIA subset file and per Ruozhiba dump, read where they lie."""
    sources = {}
    for file in sorted((data / "coig-cqia-sample").glob("*.jsonl")):
        sources[f"cqia_{file.stem}"] = {"kind": "cqia_jsonl", "path": str(file), "subset": file.stem,
                                        "license": "third-party (COIG-CQIA), research use", "fetched_at": "2026-11-01"}
    for file in sorted((data / "ruozhiba-dumps").glob("*.json")):
        name = "ruozhiba_" + file.stem.replace("-", "_")
        sources[name] = {"kind": "ruozhiba_dump", "path": str(file), "subset": "ruozhiba",
                         "license": "third-party (Baidu Tieba), research use", "fetched_at": "2026-11-01"}
    if not sources:
        raise click.ClickException(f"{data}: no coig-cqia-sample/*.jsonl or ruozhiba-dumps/*.json")
    return sources


def run_stage(args: list[str], work: Path) -> None:
    result = subprocess.run([sys.executable, "-m", *args], cwd=work, capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"{' '.join(args[:2])} failed:\n{result.stdout}{result.stderr}")


def run_pipeline(work: Path, sources: dict[str, dict]) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["sources"] = sources
    params["validate"]["min_rows"] = 1
    subsets = {source["subset"] for source in sources.values()}  # by_source keys must name configured subsets
    params["clean"]["by_source"] = {k: v for k, v in params["clean"]["by_source"].items() if k in subsets}
    params["normalize"]["opencc_by_source"] = {k: v for k, v in (params["normalize"]["opencc_by_source"] or {}).items()
                                               if k in subsets}
    (work / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    shutil.copytree(ROOT / "schemas", work / "schemas", dirs_exist_ok=True)
    for name in sources:
        run_stage(["stages.scrape", "run", name, "--out", f"data/raw/{name}", "--archive", f"data/archive/{name}",
                   "--metrics", f"metrics/scrape/{name}.json"], work)
    run_stage(["stages.clean", "--in", "data/raw", "--out", "data/clean", "--metrics", "metrics/clean.json"], work)
    run_stage(["stages.train_quality", "--in", "data/clean", "--out", "data/quality",
               "--metrics", "metrics/train_quality.json"], work)
    run_stage(["stages.normalize", "--in", "data/quality/records.parquet", "--out", "data/normalize",
               "--metrics", "metrics/normalize.json"], work)
    run_stage(["stages.dedup", "--in", "data/normalize/records.parquet", "--out", "data/dedup",
               "--metrics", "metrics/dedup.json"], work)
    run_stage(["stages.validate", "--in", "data/dedup/records.parquet", "--out", "data/validate",
               "--reports", "reports/validate", "--metrics", "metrics/validate.json",
               "--suite", "schemas/expectations/records.json"], work)


def origin(record_id: str) -> str:
    return record_id.rsplit("-", 1)[0]


def text_of(row: dict) -> str:
    parts = [row.get("instruction") or "", row.get("input") or "", row.get("output") or ""]
    text = " | ".join(p for p in parts if p).replace("\n", " ")
    return text if len(text) <= 110 else text[:110] + "..."


def collect(work: Path, sources: dict[str, dict]) -> tuple[Counter, Counter, dict, dict]:
    """rows in and kept per source; drops per (source, stage:reason); example texts per (source, stage:reason)."""
    rows_in, kept = Counter(), Counter()
    drops: dict[str, Counter] = defaultdict(Counter)
    examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    frames = {name: work / f"data/raw/{name}/rejected.parquet" for name in sources}
    frames.update({stage: work / f"data/{stage}/rejected.parquet" for stage in STAGES})
    for name in sources:
        rows_in[name] += pl.read_parquet(work / f"data/raw/{name}/records.parquet").height
        rows_in[name] += pl.read_parquet(frames[name]).height
    for key, path in frames.items():
        if not path.is_file():
            continue
        stage = "scrape" if key in sources else key
        for row in pl.read_parquet(path).iter_rows(named=True):
            label = f"{stage}:{row['reason']}"
            src = origin(row["id"])
            drops[src][label] += 1
            if len(examples[src, label]) < 3:
                detail = row.get("detail") or ""
                examples[src, label].append(text_of(row) or detail[:110])
    validated = work / "data/validate/records.parquet"
    if validated.is_file():
        kept.update(origin(i) for i in pl.read_parquet(validated, columns=["id"])["id"])
    return rows_in, kept, drops, examples


def report(rows_in: Counter, kept: Counter, drops: dict, examples: dict, md: bool) -> str:
    lines = []
    if md:
        lines += ["| source | in | kept | dropped (stage:reason count) |", "|---|---:|---:|---|"]
    for name in sorted(rows_in):
        reasons = ", ".join(f"{label} {n}" for label, n in sorted(drops[name].items())) or "-"
        if md:
            lines.append(f"| {name} | {rows_in[name]} | {kept[name]} | {reasons} |")
        else:
            lines.append(f"{name:<30} in {rows_in[name]:>5}  kept {kept[name]:>5}  dropped: {reasons}")
    total_in, total_kept = sum(rows_in.values()), sum(kept.values())
    lines.append(f"{'| total | ' if md else 'total: '}{total_in}{' | ' if md else ' in, '}{total_kept}"
                 f"{' | |' if md else ' kept'}")
    lines.append("")
    lines.append("Dropped examples (up to 3 per source and reason):")
    for (name, label), texts in sorted(examples.items()):
        for text in texts:
            lines.append(f"{'- ' if md else '  '}{name} {label}: {text}")
    return "\n".join(lines)


@click.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              default=ROOT.parent / "shared" / "data", show_default="../shared/data",
              help="Folder with coig-cqia-sample/*.jsonl and ruozhiba-dumps/*.json.")
@click.option("--md", is_flag=True, help="Markdown table (for bench/RESULTS.md).")
@click.option("--keep", "keep_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Run in this folder and keep it (default: a temporary folder, removed after).")
def main(data_dir: Path, md: bool, keep_dir: Path | None) -> None:
    """Run scrape -> validate on the shared real data and report every drop.

    Example: python bench/real_data.py --md
    """
    if not data_dir.is_dir():
        raise click.ClickException(f"{data_dir}: not found (the shared real data lies beside the repository)")
    sources = shared_sources(data_dir.resolve())
    with tempfile.TemporaryDirectory(prefix="real-data-") as tmp:
        work = keep_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        run_pipeline(work, sources)
        click.echo(report(*collect(work, sources), md=md))


if __name__ == "__main__":
    main()
