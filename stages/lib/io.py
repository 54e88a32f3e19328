"""Atomic, deterministic file writes, and output folders that appear whole.

Every file is written to a temporary file in the same directory and then
renamed over the target, so a crashed stage never leaves a half-written file.
Files get the usual mode (0666 minus the umask, i.e. 0644 under the default
umask), not tempfile's 0600.

A stage's output folder is built the same way (`output_dir`): every file goes
into a fresh sibling folder `.<name>.partial`, which replaces the old folder
when the block ends (the old one is first moved aside to `.<name>.old`, the new
one then appears by one rename, the old one is removed). A reader therefore sees
the old complete set, no folder, or the new complete set, never a mix. Leftovers
of an interrupted run (`.<name>.partial`, `.<name>.old`, `.<file>.*.tmp`) are
removed when the next run starts writing.

Parquet files use fixed settings (zstd level 3, statistics on, one row group
per 128k rows) and JSON is written with sorted keys, so the same data gives
byte-identical files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import polars as pl

from stages.lib.errors import StageError

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "statistics": True,
    "row_group_size": 131_072,
}


def file_mode() -> int:
    """0666 minus the current umask (read from /proc where possible: setting it to read it is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            mask = next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def ensure_dir(path: Path) -> None:
    """mkdir -p, with one clear line when a part of the path is a file."""
    for part in [path, *path.parents]:
        if part.exists() and not part.is_dir():
            raise StageError(f"{part}: is a file, but a folder is needed here; move or delete it, or choose "
                             "another output path")
        if part.is_dir():
            break
    path.mkdir(parents=True, exist_ok=True)


def remove_stale_temps(target: Path) -> None:
    """Remove `.<name>.*.tmp` files an interrupted write of `target` left behind."""
    if target.parent.is_dir():
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            stale.unlink(missing_ok=True)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path next to `target`; rename it onto `target` on success."""
    target = Path(target)
    ensure_dir(target.parent)
    if target.is_dir():
        raise StageError(f"{target}: is a folder, but a file is written here; move or delete it")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, file_mode())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            if tmp_path.exists():
                tmp_path.chmod(file_mode())  # a writer that re-created the file gets the usual mode too
            os.replace(tmp_path, target)
        except OSError as exc:
            if exc.filename in (None, str(tmp_path), tmp_path):
                raise OSError(exc.errno, exc.strerror, str(target)) from exc  # name the file the user knows
            raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_open(target: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temp file for writing; it replaces `target` when the block ends."""
    encoding = None if "b" in mode else "utf-8"
    with atomic_path(target) as tmp, open(tmp, mode, encoding=encoding) as handle:
        yield handle


def _sibling(out_dir: Path, suffix: str) -> Path:
    return out_dir.with_name(f".{out_dir.name}.{suffix}")


def remove_leftovers(out_dir: str | Path) -> None:
    """Remove what an interrupted `output_dir` block left next to `out_dir`."""
    out_dir = Path(out_dir)
    for leftover in (_sibling(out_dir, "partial"), _sibling(out_dir, "old")):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        elif leftover.exists() or leftover.is_symlink():
            leftover.unlink()


@contextmanager
def output_dir(out_dir: str | Path) -> Iterator[Path]:
    """Yield a fresh folder; when the block succeeds it replaces `out_dir` as a whole.

    On an error the fresh folder is removed and `out_dir` is left as it was.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise StageError(f"{out_dir}: is a file, but the stage writes a folder here; move or delete it, "
                         "or choose another --out")
    ensure_dir(out_dir.parent)
    remove_leftovers(out_dir)
    partial, old = _sibling(out_dir, "partial"), _sibling(out_dir, "old")
    try:
        partial.mkdir()
    except OSError as exc:  # e.g. a read-only folder: name the folder the user chose, not our temp name
        raise OSError(exc.errno, exc.strerror, str(out_dir.parent)) from exc
    try:
        yield partial
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError) and str(exc.filename or "").startswith(f"{partial}{os.sep}"):
            final = out_dir / Path(exc.filename).relative_to(partial)  # name the file the user knows
            raise OSError(exc.errno, exc.strerror, str(final)) from exc
        raise
    if out_dir.exists():
        os.rename(out_dir, old)
    os.rename(partial, out_dir)  # the new set appears by this one rename
    shutil.rmtree(old, ignore_errors=True)


_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def write_parquet(frame: pl.DataFrame, target: str | Path) -> None:
    with atomic_path(target) as tmp:
        try:
            frame.write_parquet(tmp, **PARQUET_OPTIONS)
        except pl.exceptions.PolarsError as exc:  # polars reports I/O errors as "... (os error 28)"
            match = _OS_ERROR.search(str(exc))
            if match is None:
                raise
            code = int(match.group(1))
            raise OSError(code, os.strerror(code), str(target)) from None


def dumps_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_json(data: Any, target: str | Path) -> None:
    with atomic_open(target) as handle:
        handle.write(dumps_json(data))


def write_text(text: str, target: str | Path) -> None:
    with atomic_open(target) as handle:
        handle.write(text)
