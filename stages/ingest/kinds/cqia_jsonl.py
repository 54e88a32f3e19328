"""Kind `cqia_jsonl`: COIG-CQIA per-subset JSONL files (the parser: stages/ingest/cqia.py).

`path` is a file or a folder (`glob`, default `*.jsonl`); `subset` defaults to each file's stem, so a folder
of subset files yields one subset per file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from stages.ingest.base import FileSource, Glob, Rows, input_files


class CqiaJsonl(FileSource):
    kind: Literal["cqia_jsonl"]
    glob: Glob = "*.jsonl"

    def files(self) -> list[Path]:
        return input_files(self, self.glob)

    def read_file(self, file: Path) -> tuple[Rows, Rows]:
        from stages.ingest.cqia import iter_file_lines, parse_lines

        return parse_lines(iter_file_lines(self, [file]))
