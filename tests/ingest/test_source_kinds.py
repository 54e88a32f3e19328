"""Source kinds are registered classes (stages/ingest/base.py, one module each in stages/ingest/kinds/): the `kind`
check, scrape, the later stages and the README read that registry, and a taken name fails at import."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Literal

import polars as pl
import pytest

from stages.ingest import base
from stages.ingest.base import FileSource, input_files, kind_name
from stages.ingest.build import Captured, Content, record_row
from stages.ingest.scrape import scrape
from stages.ingest.sources import SOURCE_KINDS, parse_sources
from stages.ingest.subsets import configured_subsets

ROOT = Path(__file__).resolve().parents[2]
KIND_MODULES = sorted(p.stem for p in (ROOT / "stages/ingest/kinds").glob("*.py") if p.name != "__init__.py")


def python(code: str, cwd: Path, *paths: Path) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter that imports this checkout (and `paths`)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (*paths, ROOT))}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_kinds_are_the_modules_of_the_kinds_folder_one_class_each():
    assert sorted(SOURCE_KINDS) == KIND_MODULES
    for name, cls in SOURCE_KINDS.items():
        assert (cls.__module__, kind_name(cls)) == (f"stages.ingest.kinds.{name}", name)


def test_an_unknown_kind_is_refused_in_one_line_listing_the_registered_kinds():
    with pytest.raises(ValueError) as refused:
        parse_sources({"zhihu": {"kind": "csv", "path": "x"}})
    assert str(refused.value) == ("params.yaml: sources.zhihu.kind: must be one of cqia_jsonl, http, mmlu_csv, "
                                  "ruozhiba_dump, got 'csv'")
    assert f"one of {', '.join(KIND_MODULES)}, got" in str(refused.value)


def test_registering_a_taken_kind_name_fails_naming_both_classes():
    with pytest.raises(TypeError) as refused:
        class Twice(FileSource):
            kind: Literal["cqia_jsonl"]
    assert str(refused.value) == (
        "source kind 'cqia_jsonl' is registered twice: stages.ingest.kinds.cqia_jsonl:CqiaJsonl and "
        "tests.ingest.test_source_kinds:test_registering_a_taken_kind_name_fails_naming_both_classes.<locals>.Twice")
    assert SOURCE_KINDS["cqia_jsonl"].__name__ == "CqiaJsonl"


def test_a_module_with_a_taken_kind_name_fails_at_import_in_one_line(tmp_path):
    (tmp_path / "crawler_two.py").write_text(textwrap.dedent("""
        from typing import Literal

        from stages.ingest.base import Source


        class Crawler(Source):
            kind: Literal["http"]
        """), encoding="utf-8")
    run = python("import stages.ingest.sources, crawler_two", tmp_path, tmp_path)
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == ("TypeError: source kind 'http' is registered twice: "
                                           "stages.ingest.kinds.http:Http and crawler_two:Crawler")


def test_reading_the_sources_imports_no_parser_and_no_httpx(tmp_path):
    """The later stages validate every kind's params and list the subsets without any kind's loading code."""
    code = textwrap.dedent("""
        import sys
        from stages.ingest.subsets import configured_subsets
        from stages.ingest.sources import parse_sources
        sources = parse_sources({
            "web": {"kind": "http", "path": "seeds.txt", "subset": "tieba", "parser": "tieba_thread"},
            "zhihu": {"kind": "cqia_jsonl", "path": "zhihu.jsonl"},
            "rzb": {"kind": "ruozhiba_dump", "path": "d.json"},
            "mmlu": {"kind": "mmlu_csv", "path": "m", "subset": None},
        })
        print(configured_subsets(sources))
        print(sorted(m for m in sys.modules if m == "httpx" or m.startswith("stages.ingest.")
                     and not m.startswith(("stages.ingest.kinds", "stages.ingest.base", "stages.ingest.sources",
                                           "stages.ingest.subsets"))))
        """)
    run = python(code, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["['mmlu', 'ruozhiba', 'tieba', 'zhihu']", "[]"]


def test_a_new_kind_is_one_class_that_scrape_loads(tmp_path):
    """The recipe in README "Development": no list to extend; parse, subsets and scrape follow the class."""
    try:
        class TextLines(FileSource):
            kind: Literal["text_lines"]

            def files(self) -> list[Path]:
                return input_files(self, "*.txt")

            def read_file(self, file: Path):
                lines = file.read_text(encoding="utf-8").splitlines()
                caps = [Captured(self.name, self.subset_of(file), f"{file.name}:{n}", f"{file.as_posix()}:{n}",
                                 line.encode(), self.license, self.fetched_at) for n, line in enumerate(lines, 1)]
                return [record_row(cap, Content(instruction=cap.raw.decode(), output="好")) for cap in caps], []

        (tmp_path / "notes").mkdir()
        (tmp_path / "notes" / "Daily-Notes.txt").write_text("第一\n第二\n", encoding="utf-8")
        sources = parse_sources({"notes": {"kind": "text_lines", "path": str(tmp_path / "notes")}})
        assert configured_subsets(sources) == ["daily_notes"]
        metrics = scrape(sources["notes"], tmp_path / "out", tmp_path / "archive", tmp_path / "m.json")
        records = pl.read_parquet(tmp_path / "out" / "records.parquet")
        assert (metrics["rows_in"], sorted(records["instruction"])) == (2, ["第一", "第二"])
        assert set(records["source"]) == {"daily_notes"}
        manifest = json.loads((tmp_path / "archive" / "inputs.json").read_text(encoding="utf-8"))
        assert (manifest["kind"], [f["path"] for f in manifest["files"]]) == (
            "text_lines", [(tmp_path / "notes" / "Daily-Notes.txt").as_posix()])
    finally:
        base._KINDS.pop("text_lines", None)  # the other tests see the shipped kinds only


def test_the_readme_sources_table_has_one_line_per_kind():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Sources (`scrape`)"):]
    table = section[section.index("| kind | `path` | notes |"):]
    rows = table[:table.index("\n\n")].splitlines()[2:]
    assert sorted(re.match(r"\| `([a-z0-9_]+)` \|", row).group(1) for row in rows) == KIND_MODULES
