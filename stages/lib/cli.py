"""One command template for every stage: the same flags, an example in --help, one summary line.

Flag vocabulary (the same name means the same thing in every stage):
    --in        the stage's main input (a records.parquet, a folder of stage outputs; evaluate: the model)
    --out       the output folder, replaced as a whole when the stage succeeds
    --metrics   metrics/<stage>.json
    --reports   the folder of human-readable reports and plot data (reports/<stage>)
    --params    the params file (default params.yaml)
    --base-model the base model folder (models/base); other inputs keep a name that says what they are
                (--suite, --rules, --rewrites, --tasks, --eval-tasks, --cache, --archive, --lock)

A stage is a plain command (`python -m stages.clean --in ...`); only a stage with a second
subcommand is a group with `run` (scrape: run, fetch-hub; rewrite: run, rules).

    @click.command(help=doc_summary(__doc__), epilog=example(__doc__))
    @in_option("records.parquet of the clean stage.")
    @out_option()
    @metrics_option()
    @params_option()
    @clear_errors
    def cli(in_path, out_dir, metrics_path, params_path): ...
        echo_summary("normalize", metrics)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

PATH = click.Path(path_type=Path)


def doc_summary(doc: str | None) -> str:
    """The first paragraph of a module docstring (the command's one-line help)."""
    return (doc or "").strip().split("\n\n")[0]


def example(doc: str | None) -> str:
    """The `Example:` paragraph of a module docstring, for the command's --help epilog (click keeps
    its lines as written after a `\\b` line)."""
    text = doc or ""
    start = text.find("Example:")
    if start < 0:
        start = text.find("Examples:")
    if start < 0:
        raise ValueError("a stage's module docstring must have an 'Example:' paragraph")
    block = text[start:].split("\n\n")[0].rstrip()
    return "\b\n" + block


def example_commands(doc: str | None) -> list[str]:
    """The commands of the `Example:` paragraph, each joined into one line (backslash continuations)."""
    lines = example(doc).splitlines()[2:]
    commands, current = [], ""
    for line in lines:
        part = line.strip()
        if part.startswith("#") or not part:
            continue
        part = part.split("  #")[0].rstrip()
        current = f"{current} {part.rstrip(chr(92)).strip()}".strip()
        if not part.endswith("\\"):
            commands.append(current)
            current = ""
    return commands


def in_option(help: str, **kwargs: Any):
    return click.option("--in", "in_path", required=True, type=PATH, help=help, **kwargs)


def out_option(help: str = "Output folder (replaced as a whole when the stage succeeds).", **kwargs: Any):
    return click.option("--out", "out_dir", required=True, type=PATH, help=help, **kwargs)


def metrics_option(help: str = "Metrics JSON (rows in, kept, dropped per reason).", **kwargs: Any):
    return click.option("--metrics", "metrics_path", required=True, type=PATH, help=help, **kwargs)


def reports_option(help: str = "Folder of reports and plot data.", **kwargs: Any):
    return click.option("--reports", "reports_dir", required=True, type=PATH, help=help, **kwargs)


def params_option(**kwargs: Any):
    return click.option("--params", "params_path", default="params.yaml", show_default=True, type=PATH,
                        help="Params file.", **kwargs)


def base_model_option(help: str = "Base model folder (the base_model stage's output).", **kwargs: Any):
    return click.option("--base-model", "base_model", required=True, type=PATH, help=help, **kwargs)


def summary_line(stage: str, metrics: dict[str, Any], more: str = "") -> str:
    """`clean: 332 in, 300 kept, 32 dropped (clean_too_short 5, clean_pii 27)`, the same for every stage
    that writes through the record contract; `more` adds the stage's own figures after a semicolon."""
    dropped = metrics.get("rows_dropped") or {}
    total = sum(dropped.values())
    line = f"{stage}: {metrics['rows_in']} in, {metrics['rows_kept']} kept, {total} dropped"
    if total:
        line += " (" + ", ".join(f"{reason} {n}" for reason, n in sorted(dropped.items()) if n) + ")"
    return f"{line}; {more}" if more else line


def echo_summary(stage: str, metrics: dict[str, Any], more: str = "") -> None:
    click.echo(summary_line(stage, metrics, more))


def run_main(command: click.Command, module: str) -> None:
    """The module's `main()`: run the command under its `python -m` name."""
    command(prog_name=f"python -m {module}")
