"""Real-data report: `dvc repro assemble` on ../shared/data, and where every record went.

Makes a temporary git repository holding the project (as a clean clone would have it), points
`params.yaml: sources` at the shared reference data where it lies (nothing is copied into the
repository): one `cqia_jsonl` source for the folder of COIG-CQIA subset files and one
`ruozhiba_dump` source per raw Ruozhiba dump. Nothing else in params.yaml changes beyond
`validate.min_rows` (and `by_source`-style keys naming a subset the data lacks, which a params check
would refuse). Then it runs real `dvc repro assemble` (scrape -> clean -> ... -> familiarity ->
assemble, on the default model) and prints, per source and subset: records in, records that reached
the SFT set, dropped per stage and reason, and up to 3 dropped texts per reason.

    python bench/real_data.py                        # ../shared/data beside the repo
    python bench/real_data.py --data /path/to/data --md
    python bench/real_data.py --keep /tmp/real       # keep the repository to look at the outputs
"""

from __future__ import annotations

import os
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
# Stages whose rejected.parquet holds input records, in pipeline order (scrape's are per source).
STAGES = ("clean", "quality", "normalize", "dedup", "validate", "familiarity", "sft")
SUBSET_KEYS = (("clean", "by_source"), ("normalize", "opencc_by_source"), ("assemble", "source_caps"),
               ("rewrite", "sources"), ("familiarity", "sources"))


def shared_sources(data: Path) -> dict[str, dict]:
    """One source for the folder of COIG-CQIA subset files and one per Ruozhiba dump, read where they lie."""
    sources = {}
    if any((data / "coig-cqia-sample").glob("*.jsonl")):
        sources["cqia"] = {"kind": "cqia_jsonl", "path": str(data / "coig-cqia-sample"),
                           "license": "third-party (COIG-CQIA), research use", "fetched_at": "2026-11-01"}
    for file in sorted((data / "ruozhiba-dumps").glob("*.json")):
        name = "ruozhiba_" + file.stem.replace("-", "_")
        sources[name] = {"kind": "ruozhiba_dump", "path": str(file), "subset": "ruozhiba",
                         "license": "third-party (Baidu Tieba), research use", "fetched_at": "2026-11-01"}
    if not sources:
        raise click.ClickException(f"{data}: no coig-cqia-sample/*.jsonl or ruozhiba-dumps/*.json")
    return sources


def run(cmd: list[str], cwd: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.invalid", "DVC_NO_ANALYTICS": "1", "CQIA_NO_PROGRESS": "1"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise click.ClickException(f"{' '.join(cmd[-2:])} failed:\n{tail}")


def project_copy(work: Path) -> None:
    """The project's files as a clean clone has them (code, dvc.yaml, params, samples), nothing run yet."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file() and not name.startswith(("metrics/", "reports/", "dvc.lock")):
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)


def real_params(work: Path, sources: dict[str, dict], subsets: set[str], overrides: tuple[str, ...] = ()) -> None:
    """The shipped params with `overrides` (`dvc exp run -S` syntax) applied, pointed at `sources`."""
    if overrides:
        from dvc.utils.hydra import apply_overrides

        apply_overrides(str(work / "params.yaml"), list(overrides))
    params = yaml.safe_load((work / "params.yaml").read_text(encoding="utf-8"))
    params["sources"] = sources
    params["validate"]["min_rows"] = 1
    for section, key in SUBSET_KEYS:  # keys naming a subset these data lack would fail the params check
        value = params[section][key] if params[section][key] is not None else {}
        kept = [k for k in value if k in subsets]
        params[section][key] = {k: value[k] for k in kept} if isinstance(value, dict) else kept
    (work / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")


def run_pipeline(work: Path, sources: dict[str, dict], subsets: set[str], overrides: tuple[str, ...] = ()) -> None:
    project_copy(work)
    real_params(work, sources, subsets, overrides)
    run(["git", "init", "-q", "-b", "main"], work)
    run(["git", "add", "-A"], work)
    run(["git", "commit", "-qm", "the project, pointed at the real data"], work)
    run([sys.executable, "-m", "stages.check"], work)
    run([sys.executable, "-m", "dvc", "repro", "assemble"], work)


def data_subsets(data: Path) -> set[str]:
    from stages.ingest.sources import parse_sources
    from stages.ingest.subsets import configured_subsets

    return set(configured_subsets(parse_sources(shared_sources(data))))


def text_of(row: dict) -> str:
    parts = [row.get("instruction") or "", row.get("input") or "", row.get("output") or ""]
    text = " | ".join(p for p in parts if p).replace("\n", " ")
    return text if len(text) <= 110 else text[:110] + "..."


def label_of(row: dict) -> str:
    """`<source name>/<subset>`: the id's prefix is the source name, `source` the subset."""
    return f"{row['id'].rsplit('-', 1)[0]}/{row['source']}"


def collect(work: Path, sources: dict[str, dict]) -> tuple[Counter, Counter, dict, dict]:
    """rows in and in the SFT set per source/subset; drops per (source/subset, stage:reason); example texts."""
    rows_in, kept = Counter(), Counter()
    drops: dict[str, Counter] = defaultdict(Counter)
    examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    frames = [(f"data/raw/{name}/{part}.parquet", "scrape") for name in sources for part in ("records", "rejected")]
    for path, stage in frames:
        rows_in.update(label_of(row) for row in pl.read_parquet(work / path, columns=["id", "source"]).to_dicts())
    rejected = [(work / f"data/raw/{name}/rejected.parquet", "scrape") for name in sources]
    rejected += [(work / f"data/{stage}/rejected.parquet", "assemble" if stage == "sft" else stage) for stage in STAGES]
    for path, stage in rejected:
        for row in pl.read_parquet(path).iter_rows(named=True) if path.is_file() else ():
            label, reason = label_of(row), f"{stage}:{row['reason']}"
            drops[label][reason] += 1
            if len(examples[label, reason]) < 3:
                examples[label, reason].append(text_of(row) or (row.get("detail") or "")[:110])
    sft = pl.read_parquet(work / "data/sft/records.parquet", columns=["id", "source"])
    kept.update(label_of(row) for row in sft.to_dicts() if row["id"].rsplit("-", 1)[0] in sources)
    return rows_in, kept, drops, examples


def report(rows_in: Counter, kept: Counter, drops: dict, examples: dict, md: bool) -> str:
    lines = ["| source/subset | in | in the SFT set | dropped (stage:reason count) |", "|---|---:|---:|---|"] if md else []
    for name in sorted(rows_in):
        reasons = ", ".join(f"{label} {n}" for label, n in sorted(drops[name].items())) or "-"
        if md:
            lines.append(f"| {name} | {rows_in[name]} | {kept[name]} | {reasons} |")
        else:
            lines.append(f"{name:<34} in {rows_in[name]:>5}  sft {kept[name]:>5}  dropped: {reasons}")
    total_in, total_kept = sum(rows_in.values()), sum(kept.values())
    lines.append(f"| total | {total_in} | {total_kept} | |" if md else f"total: {total_in} in, {total_kept} in the SFT set")
    lines += ["", "Dropped examples (up to 3 per source and reason):"]
    for (name, label), texts in sorted(examples.items()):
        lines += [f"{'- ' if md else '  '}{name} {label}: {text}" for text in texts]
    return "\n".join(lines)


@click.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              default=ROOT.parent / "shared" / "data", show_default="../shared/data",
              help="Folder with coig-cqia-sample/*.jsonl and ruozhiba-dumps/*.json.")
@click.option("--md", is_flag=True, help="Markdown table (for bench/RESULTS.md).")
@click.option("--keep", "keep_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Build the repository in this (new or empty) folder and keep it (default: a temporary folder).")
@click.option("-S", "--set-param", "overrides", multiple=True,
              help="A params override as `dvc exp run -S` takes it (repeatable), applied before the sources.")
def main(data_dir: Path, md: bool, keep_dir: Path | None, overrides: tuple[str, ...]) -> None:
    """Run `dvc repro assemble` on the shared real data and report where every record went.

    Example: python bench/real_data.py --md -S model.base=tiny
    """
    if not data_dir.is_dir():
        raise click.ClickException(f"{data_dir}: not found (the shared real data lies beside the repository)")
    if keep_dir is not None and keep_dir.exists() and any(keep_dir.iterdir()):
        raise click.ClickException(f"{keep_dir}: not empty; --keep builds a new repository there")
    data = data_dir.resolve()
    sources = shared_sources(data)
    with tempfile.TemporaryDirectory(prefix="real-data-") as tmp:
        work = keep_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        run_pipeline(work, sources, data_subsets(data), overrides)
        click.echo(report(*collect(work, sources), md=md))


if __name__ == "__main__":
    main()
