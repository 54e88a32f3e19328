"""Kind `mmlu_csv`: multiple-choice questions in MMLU's CSV layout (the parser: stages/ingest/mmlu.py).

`path` is a CSV file or a folder (`glob`, default `*_train.csv`); `subset` defaults to `mmlu`; the subject
comes from each file's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from stages.ingest.base import FileSource, Glob, Rows, Subset, input_files


class MmluCsv(FileSource):
    kind: Literal["mmlu_csv"]
    subset: Subset | None = "mmlu"
    glob: Glob = "*_train.csv"

    def files(self) -> list[Path]:
        return input_files(self, self.glob)

    def subset_of(self, file: Path) -> str:
        return self.subset or "mmlu"

    def read_file(self, file: Path) -> tuple[Rows, Rows]:
        from stages.ingest.mmlu import read_mmlu_file

        return read_mmlu_file(self, file)
