"""Errors that stop a stage with one clear line instead of a traceback."""

from __future__ import annotations

import errno
import functools
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
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


# how libraries spell an OS error in their own exception types: polars `(os error 28)`, safetensors and
# other Rust code `Os { code: 28, ... }`, pyarrow `[errno 28]`
_OS_CODE = re.compile(r"\(os error (\d+)\)|\bOs \{ code: (\d+)|\[errno (\d+)\]", re.IGNORECASE)
# numpy's `tofile` on a full disk: a short write, with no error code
_SHORT_WRITE = re.compile(r"^\d+ requested and \d+ written$")


def os_error_in(exc: BaseException, filename: str | os.PathLike[str] | None = None) -> OSError | None:
    """The OS error behind `exc` (an OSError, or a library's exception whose text carries an OS error code),
    naming `filename` when it names no file itself; None when `exc` is not about the system."""
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.filename is not None or filename is None:
            return exc
        return OSError(exc.errno, exc.strerror, str(filename))
    if not isinstance(exc, Exception):
        return None
    match = _OS_CODE.search(str(exc))
    if match is not None:
        code = int(next(group for group in match.groups() if group))
    elif isinstance(exc, OSError) and _SHORT_WRITE.match(str(exc)):
        code = errno.ENOSPC
    else:
        return exc if isinstance(exc, OSError) else None  # ours, with a full message (see os_error_line)
    return OSError(code, os.strerror(code), None if filename is None else str(filename))


@contextmanager
def naming(target: str | Path, temp: Path | None = None) -> Iterator[None]:
    """Raise every OS error of the block, also one a library reports in its own exception type, as an
    OSError naming `target` when it names no file or names `temp` (our temporary stand-in for `target`)."""
    try:
        yield
    except Exception as exc:
        found = os_error_in(exc)
        if found is None or found.errno is None:
            raise
        if found.filename is None or (temp is not None and str(found.filename) == str(temp)):
            raise OSError(found.errno, found.strerror, str(target)) from exc
        if found is not exc:
            raise found from exc
        raise


def clear_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn StageError, config ValueError and OS errors (permissions, full disk, ...; also those a library
    reports in its own exception type) into click's one-line 'Error: ...' exit 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (StageError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            found = os_error_in(exc)
            if found is None:
                raise
            raise click.ClickException(os_error_line(found)) from None

    return wrapper
