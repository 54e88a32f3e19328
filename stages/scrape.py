"""Stage `scrape`: ingest one configured source into canonical records.

One DVC stage per entry of `params.yaml: sources` (dvc.yaml `foreach`). Reads
the source's raw input, writes `records.parquet` and `rejected.parquet` under
`--out`, the raw capture (WARC files for http sources, an input manifest for
file sources) under `--archive`, and `--metrics`. Every non-blank input line,
array element or crawled URL ends up as exactly one kept or rejected row;
records whose id repeats an earlier one in the same source are rejected as
`scrape_duplicate_key`. The work lives in stages/ingest/ (scrape.py dispatches
on the source kind).

Example:
    python -m stages.scrape run cqia_douban --out data/raw/cqia_douban \\
        --archive data/archive/cqia_douban --metrics metrics/scrape/cqia_douban.json
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.ingest.scrape import fetch_hub, pick_source, scrape
from stages.ingest.subsets import load_sources
from stages.lib.cli import PATH, doc_summary, echo_summary, example, metrics_option, out_option, params_option, run_main
from stages.lib.errors import clear_errors


@click.group(help=doc_summary(__doc__), epilog=example(__doc__))
def cli() -> None:
    pass


@cli.command("run", epilog=example(__doc__))
@click.argument("source")
@out_option()
@click.option("--archive", "archive_dir", required=True, type=PATH,
              help="Raw capture folder (kept between runs: WARC files, input manifest).")
@metrics_option()
@params_option()
@clear_errors
def run_command(source: str, out_dir: Path, archive_dir: Path, metrics_path: Path, params_path: Path) -> None:
    """Ingest SOURCE (a key of params.yaml: sources)."""
    sources = load_sources(params_path)
    metrics = scrape(pick_source(sources, source, params_path), out_dir, archive_dir, metrics_path)
    echo_summary(f"scrape[{source}]", metrics)


@cli.command("fetch-hub")
@click.argument("subset")
@click.option("--to", "target", required=True, type=PATH, help="JSONL file to write.")
@click.option("--split", default="train", show_default=True)
@clear_errors
def fetch_hub_command(subset: str, target: Path, split: str) -> None:
    """Download SUBSET of the hub dataset m-a-p/COIG-CQIA to a JSONL file (needs network).

    \b
    Example:
        python -m stages.scrape fetch-hub zhihu --to data/external/cqia/zhihu.jsonl
        # then add a source {kind: cqia_jsonl, path: data/external/cqia/zhihu.jsonl}
    """
    fetch_hub(subset, target, split)
    click.echo(f"wrote {target}")


def main() -> None:
    run_main(cli, "stages.scrape")


if __name__ == "__main__":
    main()
