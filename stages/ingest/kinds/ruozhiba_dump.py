"""Kind `ruozhiba_dump`: a community Ruozhiba dump, one JSON array (the parser: stages/ingest/ruozhiba.py).

`path` is the dump file; `subset` defaults to `ruozhiba`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from stages.ingest.base import FileSource, Rows, Subset
from stages.lib.errors import StageError


class RuozhibaDump(FileSource):
    kind: Literal["ruozhiba_dump"]
    subset: Subset | None = "ruozhiba"

    def files(self) -> list[Path]:
        path = Path(self.path)
        if not path.is_file():
            raise StageError(f"{path}: input not found (sources.{self.name}.path)")
        return [path]

    def subset_of(self, file: Path) -> str:
        return self.subset or "ruozhiba"

    def read_file(self, file: Path) -> tuple[Rows, Rows]:
        from stages.ingest.ruozhiba import read_dump

        return read_dump(self, file)
