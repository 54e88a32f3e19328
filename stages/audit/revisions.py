"""One side of a comparison: a git revision, a DVC experiment, or the workspace.

`open_side(root, spec)` resolves `spec`:

- `workspace`: files are read from disk under the repository root;
- a git revision (sha, branch, tag, `HEAD~1`) or a DVC experiment name (a git
  ref under `refs/exps`, resolved with DVC's own `resolve_rev`): files are read
  with `dvc.api.DVCFileSystem` at that commit, which serves git-tracked files
  from the commit and DVC-tracked outputs from the cache (or the remote).

For parquet files already in the local DVC cache the cache file itself is
scanned (no copy into memory), so a 1M-record file is read lazily either way.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl

from stages.lib.errors import StageError

WORKSPACE = "workspace"


@dataclass
class Side:
    """Read access to the project at one revision (or the workspace)."""

    root: Path
    spec: str
    kind: str  # "workspace" | "git" | "experiment"
    rev: str | None
    _fs: Any = field(default=None, repr=False)
    _cache: Any = field(default=None, repr=False)

    # -- description -------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": self.kind, "rev": self.rev}

    @property
    def label(self) -> str:
        if self.kind == "workspace" or self.rev is None:
            return self.spec
        short = self.rev[:7]
        return self.spec if self.spec.startswith(short) else f"{self.spec} ({short})"

    # -- files ---------------------------------------------------------------------------------
    def _disk(self, path: str) -> Path:
        return self.root / path

    def exists(self, path: str) -> bool:
        if self.kind == "workspace":
            return self._disk(path).exists()
        try:
            return bool(self._fs.exists(path))
        except Exception:  # noqa: BLE001 - a missing cache entry or remote reads as absent
            return False

    def is_file(self, path: str) -> bool:
        if self.kind == "workspace":
            return self._disk(path).is_file()
        try:
            return bool(self._fs.isfile(path))
        except Exception:  # noqa: BLE001
            return False

    def find(self, path: str) -> list[str]:
        """Files under `path` (or `path` itself when it is a file), repo-relative, sorted."""
        if self.kind == "workspace":
            base = self._disk(path)
            if base.is_file():
                return [path]
            if not base.is_dir():
                return []
            return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        try:
            if self._fs.isfile(path):
                return [path]
            found = self._fs.find(path, detail=False)
        except Exception:  # noqa: BLE001
            return []
        return sorted(str(PurePosixPath(p)).lstrip("/") for p in found)

    def local_path(self, path: str) -> Path | None:
        """A file on this machine holding `path`'s bytes: the workspace file or the DVC cache object."""
        if self.kind == "workspace":
            disk = self._disk(path)
            return disk if disk.is_file() else None
        try:
            md5 = self._fs.info(path).get("md5")
        except Exception:  # noqa: BLE001
            return None
        if not md5 or self._cache is None:
            return None
        cached = Path(self._cache.oid_to_path(md5))
        return cached if cached.is_file() else None

    def uncached(self, path: str) -> bool:
        """True when `path` is a DVC output at this revision whose data is not in the local cache."""
        if self.kind == "workspace" or self._cache is None:
            return False
        try:
            md5 = self._fs.info(path).get("md5")
        except Exception:  # noqa: BLE001 - not an output at this revision
            return False
        return bool(md5) and not Path(self._cache.oid_to_path(md5)).exists()

    def read_bytes(self, path: str) -> bytes:
        if self.kind == "workspace":
            try:
                return self._disk(path).read_bytes()
            except FileNotFoundError:
                raise StageError(f"{path}: not found in the workspace") from None
        local = self.local_path(path)
        if local is not None:
            return local.read_bytes()
        try:
            with self._fs.open(path, mode="rb") as handle:
                return handle.read()
        except Exception as exc:  # noqa: BLE001
            raise StageError(f"{path}: cannot read at {self.label}: {exc}") from None

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8")

    def scan_parquet(self, path: str) -> pl.LazyFrame:
        """A lazy scan of a parquet file at this side (the file on disk when there is one)."""
        local = self.local_path(path)
        if local is not None:
            return pl.scan_parquet(local)
        return pl.scan_parquet(io.BytesIO(self.read_bytes(path)))

    # -- DVC --------------------------------------------------------------------------------------
    @cached_property
    def dvc_repo(self) -> Any:
        """The DVC `Repo` bound to this side (its index is this side's dvc.yaml)."""
        if self.kind == "workspace":
            from dvc.repo import Repo

            return Repo(str(self.root))
        return self._fs.repo

    def close(self) -> None:
        if "dvc_repo" in self.__dict__ and self.kind == "workspace":
            self.dvc_repo.close()
        if self._fs is not None:
            self._fs.close()


def find_root(start: str | Path = ".") -> Path:
    from dvc.repo import Repo
    from dvc.exceptions import NotDvcRepoError

    try:
        return Path(Repo.find_root(str(start)))
    except NotDvcRepoError:
        raise StageError(f"{Path(start).resolve()}: not inside a DVC repository (no .dvc directory)") from None


def resolve(root: Path, spec: str) -> tuple[str, str | None]:
    """Return (kind, commit sha) for `spec`; raises StageError for an unknown revision."""
    if spec == WORKSPACE:
        return "workspace", None
    from scmrepo.exceptions import RevError as ScmRevError
    from scmrepo.git import Git

    from dvc.scm import RevError, resolve_rev

    scm = Git(str(root))
    try:
        try:
            return "git", scm.resolve_rev(spec)
        except ScmRevError:
            pass
        try:
            return "experiment", resolve_rev(scm, spec)
        except RevError:
            raise StageError(
                f"unknown revision '{spec}': not a git revision, a DVC experiment name, or 'workspace'"
            ) from None
    finally:
        scm.close()


def open_side(root: str | Path, spec: str) -> Side:
    root = Path(root).resolve()
    kind, rev = resolve(root, spec)
    if kind == "workspace":
        return Side(root=root, spec=spec, kind=kind, rev=None)
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(repo=str(root), rev=rev)
    return Side(root=root, spec=spec, kind=kind, rev=rev, _fs=fs, _cache=fs.repo.cache.local)
