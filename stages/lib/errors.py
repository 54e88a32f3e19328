"""Errors that stop a stage with one clear line instead of a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

P = ParamSpec("P")
R = TypeVar("R")


class StageError(Exception):
    """A problem with inputs or configuration that the user must fix."""


def input_error(path: str, line: int | None, message: str) -> StageError:
    where = f"{path}:{line}" if line is not None else path
    return StageError(f"{where}: {message}")


def clear_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn StageError and config ValueError into click's one-line 'Error: ...' exit 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (StageError, ValueError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper
