"""What every source kind is: one `Source` subclass that owns its params, its files, its subsets and its loading.

A kind is a class in one module of stages/ingest/kinds/ (datatrove's `BaseDiskReader` + `read_file` is the
model): its pydantic fields are the keys of a `params.yaml: sources` entry of that kind, and naming the kind
(`kind: Literal["cqia_jsonl"]`) registers it. Registering one name twice fails at import with one line naming
both classes (`module:Class`).

- `Source.subsets()`: the `source` values its records carry (what `by_source` keys must name);
- `Source.load(archive_dir)`: (kept rows, rejected rows); only the scrape stage calls it (stages/ingest/scrape.py);
- `FileSource`: a kind that reads files: `files()` (the file, or `glob` matches of a folder), `subset_of(file)`,
  `read_file(file)`; `read_files()` reads them all, and `load` writes the input manifest (`inputs.json`: files,
  sizes, sha256) into the archive folder first.

A kind imports its parser (and heavy packages such as httpx) inside `load`/`read_file`: the later stages read
the kinds' params and subsets only, so they neither import nor depend on it (tests/test_dvc_deps.py).
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PrivateAttr

from stages.lib.errors import StageError
from stages.lib.io import write_json
from stages.lib.params import Params, check, rule
from stages.lib.record import sha256_hex

Rows = list[dict[str, Any]]
_SUBSET = re.compile(r"^[a-z0-9_]+$")
_FETCHED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?Z?)?$")
GLOB_RULE = ("must stay inside the source's path (a pattern such as *.jsonl or sub/*.jsonl; no '..', no leading "
             "'/' or '~')")


def glob_stays_inside(glob: str) -> bool:
    """A glob is matched under the source's `path` (which DVC tracks) and may not leave it."""
    parts = PurePosixPath(glob).parts
    return not (not glob or PurePosixPath(glob).is_absolute() or PureWindowsPath(glob).is_absolute()
                or glob.startswith("~") or ".." in parts or "\\" in glob)


def _date_text(value: Any) -> Any:
    """An unquoted YAML date (2026-11-01) arrives as a date: keep it as the text it was written as."""
    return str(value) if isinstance(value, (dt.date, dt.datetime)) else value


Subset = Annotated[str, rule(_SUBSET.fullmatch, "must match [a-z0-9_]+")]
Glob = Annotated[str, rule(glob_stays_inside, GLOB_RULE)]
FetchedAt = Annotated[str, BeforeValidator(_date_text), check(_FETCHED_AT.match, "an ISO date such as 2024-01-31")]

_KINDS: dict[str, type[Source]] = {}
KINDS = MappingProxyType(_KINDS)  # kind name -> its class, in registration order


def place(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def kind_name(cls: type[Params]) -> str | None:
    """The name a class's `kind: Literal["<name>"]` gives it; None for a base (`kind: str`)."""
    annotation = cls.model_fields["kind"].annotation
    args = typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
    return args[0] if len(args) == 1 and isinstance(args[0], str) else None


class Source(Params):
    """The keys every source has; `name` is its key in `sources` (given as context when parsed)."""

    kind: str
    path: str
    subset: Subset | None = None
    license: str = "unknown"
    _name: str = PrivateAttr("")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        name = kind_name(cls)
        if name is None:
            return
        known = _KINDS.get(name)
        if known is not None and place(known) != place(cls):
            raise TypeError(f"source kind '{name}' is registered twice: {place(known)} and {place(cls)}")
        _KINDS[name] = cls

    def model_post_init(self, context: Any, /) -> None:
        self._name = (context or {}).get("name", "")

    @property
    def name(self) -> str:
        return self._name

    def subsets(self) -> list[str]:
        """The `source` values of this source's records."""
        return [self.subset] if self.subset else []

    def load(self, archive_dir: Path) -> tuple[Rows, Rows]:
        """(kept rows, rejected rows); the raw capture goes to `archive_dir`."""
        raise NotImplementedError(f"{place(type(self))} does not say how it loads")


class FileSource(Source):
    """A kind whose input is files under `path`; `fetched_at` says when they were captured."""

    fetched_at: FetchedAt | None = None

    def files(self) -> list[Path]:
        """The input files, in reading order."""
        raise NotImplementedError(f"{place(type(self))} does not list its files")

    def read_file(self, file: Path) -> tuple[Rows, Rows]:
        """(kept rows, rejected rows) of one input file."""
        raise NotImplementedError(f"{place(type(self))} does not read a file")

    def subset_of(self, file: Path) -> str:
        """The `source` value of the records read from `file`: `subset`, else the file's stem (a kind with a
        default subset overrides this)."""
        return self.subset or file.stem.lower().replace("-", "_")

    def subsets(self) -> list[str]:
        """`subset_of` each input file (a missing `path`: of itself; the scrape stage names the problem)."""
        if self.subset:
            return [self.subset]
        files = self.files() if Path(self.path).is_dir() else [Path(self.path)]
        return sorted({self.subset_of(file) for file in files})

    def read_files(self, files: list[Path] | None = None) -> tuple[Rows, Rows]:
        """(kept rows, rejected rows) of the input files (`files()` unless given), in order; progress per file
        (records read, and the share of the input bytes that gives the ETA)."""
        from stages.lib.progress import tracker

        kept: Rows = []
        rejected: Rows = []
        files = self.files() if files is None else files
        sizes = [file.stat().st_size if file.is_file() else 0 for file in files]
        with tracker(f"scrape[{self.name}]", unit="record") as shown:
            for index, file in enumerate(files):
                more_kept, more_rejected = self.read_file(file)
                kept += more_kept
                rejected += more_rejected
                shown.update(len(more_kept) + len(more_rejected), fraction=sum(sizes[:index + 1]) / (sum(sizes) or 1))
        return kept, rejected

    def load(self, archive_dir: Path) -> tuple[Rows, Rows]:
        """The input manifest into `archive_dir`, then the rows of every input file."""
        files = self.files()
        write_file_manifest(self, files, archive_dir)
        return self.read_files(files)


def write_file_manifest(cfg: FileSource, files: list[Path], archive_dir: Path) -> None:
    """For file sources the capture is the input itself: record its files and hashes."""
    entries = [{"path": f.as_posix(), "bytes": f.stat().st_size, "sha256": sha256_hex(f.read_bytes())} for f in files]
    write_json({"source": cfg.name, "kind": cfg.kind, "fetched_at": cfg.fetched_at, "files": entries},
               archive_dir / "inputs.json")


def through_link(folder: Path, match: Path) -> bool:
    """True when `match` (found under `folder`) is a symbolic link or lies in a linked subfolder."""
    inside = match.relative_to(folder)
    return any((folder / part).is_symlink() for part in [inside, *inside.parents][:-1])


def input_files(cfg: Source, glob: str) -> list[Path]:
    """The input files of a file source: the file itself, or `glob` matches in the directory."""
    path = Path(cfg.path)
    if path.is_file():
        return [path]
    if path.is_dir():
        matches = sorted(path.glob(glob))
        linked = [p for p in matches if through_link(path, p)]
        if linked:  # a link in a source folder could make the stage read any file on the machine
            raise StageError(f"{linked[0]}: is a symbolic link inside the folder of sources.{cfg.name}; "
                             "a folder source reads regular files only (copy the file in)")
        files = [p for p in matches if p.is_file()]
        if not files:
            raise StageError(f"{path}: no files match '{glob}' (sources.{cfg.name}.glob)")
        return files
    raise StageError(f"{path}: input not found (sources.{cfg.name}.path)")
