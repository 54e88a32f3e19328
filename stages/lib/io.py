"""Atomic, deterministic file writes, and output folders that appear whole.

Every file is written to a temporary file in the same directory and then
renamed over the target, so a crashed stage never leaves a half-written file.
Files get the usual mode (0666 minus the umask, i.e. 0644 under the default
umask), not tempfile's 0600; so does every file a library writes into an output
folder (safetensors writes its weights 0600), and folders get 0777 minus the umask.

A stage's output folder is built the same way (`output_dir`): every file goes
into a fresh sibling folder `.<name>.partial`, which replaces the old folder
when the block ends (the old one is first moved aside to `.<name>.old`, the new
one then appears by one rename, the old one is removed). A reader therefore sees
the old complete set, no folder, or the new complete set, never a mix. Leftovers
of an interrupted run (`.<name>.partial`, `.<name>.old`, `.<file>.*.tmp`) are
removed when the next run starts writing. Folders that belong together (a
stage's data and its reports: `output_dirs`) are all built fresh and swapped in
one after the other, the data first, so a failed run never leaves new reports
beside the old data.

Nothing is written through a symbolic link (the output itself, or a folder on its
way inside the working folder) or onto a device, FIFO or socket, and no folder
that holds the working folder is replaced: each is refused with one line. Every
OS error while writing, also one a library reports in its own exception type
(polars, pyarrow, safetensors), becomes an OSError naming the output the user
chose (`stages.lib.errors.naming`), which `clear_errors` prints as one line.

Parquet files use fixed settings (zstd level 3, statistics on, one row group
per 128k rows) and JSON is written with sorted keys, so the same data gives
byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import polars as pl

from stages.lib.errors import StageError, naming

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "statistics": True,
    "row_group_size": 131_072,
}


def umask() -> int:
    """The current umask (read from /proc where possible: setting it to read it is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def file_mode() -> int:
    """0666 minus the current umask."""
    return 0o666 & ~umask()


def usual_modes(folder: Path) -> None:
    """Give every file below `folder` 0666 and every folder (itself included) 0777, minus the umask."""
    mask = umask()
    folder.chmod(0o777 & ~mask)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), 0o777 & ~mask)
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), 0o666 & ~mask)


_SPECIAL = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
            (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def _checked_parts(target: Path) -> list[Path]:
    """`target`, and the folders on its way from the working folder (those of a path inside it)."""
    parts = [target]
    if target.is_absolute():
        try:
            inside = target.relative_to(Path.cwd())
        except ValueError:
            return parts
        parts += [Path.cwd() / parent for parent in inside.parents if parent != Path(".")]
    else:
        parts += [parent for parent in target.parents if parent != Path(".")]
    return parts


def refuse_unsafe(target: str | Path, want: str = "file") -> None:
    """Refuse (one line) an output that is a symbolic link or lies behind one, or is a device, FIFO or
    socket; `want` ("file" or "folder") is what the stage writes there."""
    target = Path(target)
    for part in _checked_parts(target):
        if part.is_symlink():
            raise StageError(f"{part}: is a symbolic link; a stage never writes through a link: replace it with "
                             "a real folder or file, or choose another path")
    try:
        mode = target.lstat().st_mode
    except OSError:
        return
    for special, what in _SPECIAL:
        if special(mode):
            raise StageError(f"{target}: is {what}, not a {'regular file' if want == 'file' else want}; "
                             "a stage writes only regular files and folders: choose another path")


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
    refuse_unsafe(target)
    ensure_dir(target.parent)
    if target.is_dir():
        raise StageError(f"{target}: is a folder, but a file is written here; move or delete it")
    with naming(target.parent):
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, file_mode())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        with naming(target, tmp_path):  # name the file the user knows, not our temp name
            yield tmp_path
            if tmp_path.exists():
                tmp_path.chmod(file_mode())  # a writer that re-created the file gets the usual mode too
            os.replace(tmp_path, target)
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
    refuse_unsafe(out_dir, "folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise StageError(f"{out_dir}: is a file, but the stage writes a folder here; move or delete it, "
                         "or choose another --out")
    if out_dir.exists() and Path.cwd().resolve().is_relative_to(out_dir.resolve()):
        raise StageError(f"{out_dir}: holds the working folder, and an output folder is replaced as a whole; "
                         "choose a folder of its own")
    ensure_dir(out_dir.parent)
    remove_leftovers(out_dir)
    partial, old = _sibling(out_dir, "partial"), _sibling(out_dir, "old")
    with naming(out_dir.parent, partial):  # e.g. a read-only folder: name the folder the user chose
        partial.mkdir()
    try:
        with naming(out_dir):
            yield partial
            usual_modes(partial)
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


@contextmanager
def output_dirs(*dirs: str | Path) -> Iterator[list[Path]]:
    """`output_dir` for folders that belong together (a stage's data and its reports): one fresh folder
    each; when the block succeeds they are swapped in in the order given, so a failure (in the block or
    at a swap) never leaves a later folder new beside an earlier one old."""
    if len({Path(d).resolve() for d in dirs}) < len(dirs):
        raise StageError(f"{', '.join(map(str, dirs))}: a stage's output folders must be different folders")
    with ExitStack() as stack:  # entered last = swapped first
        fresh = [stack.enter_context(output_dir(d)) for d in reversed(dirs)]
        yield fresh[::-1]


def write_parquet(frame: pl.DataFrame, target: str | Path) -> None:
    with atomic_path(target) as tmp:
        frame.write_parquet(tmp, **PARQUET_OPTIONS)


def dumps_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_json(data: Any, target: str | Path) -> None:
    with atomic_open(target) as handle:
        handle.write(dumps_json(data))


def write_text(text: str, target: str | Path) -> None:
    with atomic_open(target) as handle:
        handle.write(text)
