"""A snapshot of the workspace files an experiment may change, to put back exactly when it fails.

`dvc exp run` applies its `-S` values to params.yaml and runs the stages in the workspace; when a
stage fails, DVC leaves the new params, the outputs of the stages that ran and an emptied output of
the one that failed. `Snapshot.take(paths)` records every given file and folder before the run, and
`restore()` puts each path back as it was (same bytes, same files; a path that did not exist is
removed), `discard()` forgets it after a successful run.

Files are hard-linked into a folder under `.dvc/tmp/` (no copy, whatever the data size): every
stage writes its outputs through new files renamed into place (stages/lib/io.py), so the linked
inodes keep the old bytes. Files that may be changed in place (`copy=True`: persistent outputs
such as a crawl archive or the response cache, params.yaml, dvc.lock) are copied instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SNAPSHOT_ROOT = Path(".dvc") / "tmp"


def _clone(source: Path, target: Path, copy: bool) -> None:
    """Link (or copy) a file or a folder tree to `target`; symlinks are recreated, never followed."""
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        target.mkdir()
        for child in sorted(source.iterdir()):
            _clone(child, target / child.name, copy)
    elif copy:
        shutil.copy2(source, target)
    else:
        try:
            os.link(source, target)
        except OSError:  # another file system, or links not allowed: copy
            shutil.copy2(source, target)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


@dataclass
class Snapshot:
    """The saved state of some workspace paths (relative to the working folder)."""

    folder: Path
    saved: dict[Path, bool] = field(default_factory=dict)  # path -> it existed before

    @classmethod
    def take(cls, paths: list[Path], copied: set[Path] = frozenset()) -> Snapshot:
        SNAPSHOT_ROOT.mkdir(parents=True, exist_ok=True)
        snap = cls(Path(tempfile.mkdtemp(prefix="exp-snapshot-", dir=SNAPSHOT_ROOT)))
        for index, path in enumerate(dict.fromkeys(paths)):
            exists = path.exists() or path.is_symlink()
            snap.saved[path] = exists
            if exists:
                _clone(path, snap.folder / str(index), copy=path in copied)
        return snap

    def restore(self) -> None:
        """Put every saved path back as it was, then forget the snapshot."""
        for index, (path, existed) in enumerate(self.saved.items()):
            _remove(path)
            if existed:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.folder / str(index), path)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
