"""Atomic, deterministic file writes.

Every output is written to a temporary file in the same directory and then
renamed over the target, so a crashed stage never leaves a half-written file.
Parquet files use fixed settings (zstd level 3, statistics on, one row group
per 128k rows) and JSON is written with sorted keys, so the same data gives
byte-identical files.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import polars as pl

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "statistics": True,
    "row_group_size": 131_072,
}


_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: mkstemp creates 0600 files, outputs get the usual 0666 & ~umask (0644)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path next to `target`; rename it onto `target` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            tmp_path.chmod(0o666 & ~_UMASK)
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
