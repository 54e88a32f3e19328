"""Errors that stop a stage with one clear line instead of a traceback."""

from __future__ import annotations

import errno
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


_WHAT_TO_DO = {
    errno.EACCES: "permission denied; make it (and its folder) writable for you, e.g. chmod u+w, "
                  "or choose another path",
    errno.EPERM: "operation not permitted; check its owner and permissions, or choose another path",
    errno.EROFS: "read-only file system; choose a path on a writable disk",
    errno.ENOSPC: "no space left on device; free some space (or use another disk) and run the stage again",
    errno.EDQUOT: "disk quota exceeded; free some space (or use another disk) and run the stage again",
    errno.ENOTDIR: "a part of this path is a file, not a folder; move or delete that file, or choose another path",
    errno.EISDIR: "is a folder, but a file is needed here; move or delete it, or choose another path",
    errno.ENOENT: "not found; check the path",
}


def os_error_line(exc: OSError) -> str:
    """One line naming the file and what to do, for an OSError raised by the system or by us."""
    if exc.errno is None:
        return str(exc)  # raised by our code with a full message, e.g. FileNotFoundError("x: records not found")
    where = exc.filename if exc.filename is not None else "(file unknown)"
    what = _WHAT_TO_DO.get(exc.errno) or f"{exc.strerror or errno.errorcode.get(exc.errno, 'error')}"
    return f"{where}: {what}"


def clear_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn StageError, config ValueError and OSError (permissions, full disk, ...) into click's
    one-line 'Error: ...' exit 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (StageError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(os_error_line(exc)) from None

    return wrapper
