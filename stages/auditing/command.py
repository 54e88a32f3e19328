"""What every `python -m stages.audit` subcommand shares: the output options, the repository option,
DVC's exceptions as one-line errors, and writing a report in the chosen format."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from stages.lib.errors import StageError
from stages.lib.io import write_text


def dvc_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """DVC's own exceptions (bad revision, unreadable cache) become one-line errors too."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from dvc.exceptions import DvcException

        try:
            return func(*args, **kwargs)
        except DvcException as exc:
            raise StageError(str(exc)) from None

    return wrapper


def format_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--table", "fmt", flag_value="table", default=True, help="Terminal tables (default)."),
        click.option("--md", "fmt", flag_value="md", help="Markdown."),
        click.option("--json", "fmt", flag_value="json", help="JSON (schema: stages/auditing/README.md)."),
        click.option("--html", "fmt", flag_value="html", help="One self-contained HTML page."),
        click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
                     help="Write to this file instead of standard output."),
        click.option("--width", type=int, default=None,
                     help="Terminal table width when not writing to a terminal (default 160)."),
    ]):
        func = option(func)
    return func


repo_option = click.option("--repo", "repo", type=click.Path(path_type=Path, file_okay=False), default=".",
                           show_default=True, help="The DVC repository (or a directory inside it).")


def emit(blocks: list, result: dict[str, Any], fmt: str, output: Path | None, title: str, width: int | None) -> None:
    """Show the report: rich tables on a terminal, else the chosen format to standard output or `output`."""
    from stages.auditing.formats import render, to_rich

    if output is None and fmt == "table" and sys.stdout.isatty() and width is None:
        from rich.console import Console

        to_rich(blocks, Console(highlight=False, emoji=False))
        return
    text = render(blocks, result, fmt, title, width=width or 160)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(text, output)
        output.chmod(0o644)  # a report to share: readable by others (temp files are created 0600)
        click.echo(f"wrote {output}", err=True)
