"""bench/real_data.py: the real-data report runs the stage commands on a data folder laid out like ../shared/data."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.real_data import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RECORD = {"instruction": "什么是数据清洗？", "input": "", "output": "数据清洗是在训练之前修复和筛选数据的过程。",
          "task_type": {"major": ["问答"], "minor": ["百科"]}, "domain": ["通用"], "metadata": "",
          "answer_from": "", "human_verified": False, "copyright": ""}


def test_report_counts_every_record_of_a_written_layout(tmp_path):
    cqia, dumps = tmp_path / "coig-cqia-sample", tmp_path / "ruozhiba-dumps"
    cqia.mkdir()
    dumps.mkdir()
    lines = [RECORD, RECORD | {"instruction": "数据清洗有哪些步骤？"},
             RECORD | {"instruction": "请介绍一部电影", "output": "It is a film about a family who moves to Paris. " * 3}]
    (cqia / "wiki.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{broken\n",
                                     encoding="utf-8")
    floors = [{"author": "x", "content": f"{i}、第{i}条有意思的句子", "l_num": 7, "ctime": f"202{i}-05-09 01:42"}
              for i in range(3)]
    (dumps / "post-annual.json").write_text(json.dumps(floors, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["cqia_wiki", "in", "4", "kept", "2", "dropped:", "clean:clean_answer_not_chinese",
                                "1,", "scrape:scrape_invalid_json", "1"]
    assert lines[1].split() == ["ruozhiba_post_annual", "in", "3", "kept", "3", "dropped:", "-"]
    assert "total: 7 in, 5 kept" in result.output


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared real data is not beside this checkout")
def test_real_data_loses_nothing_in_scrape():
    result = CliRunner().invoke(main, ["--data", str(SHARED)])
    assert result.exit_code == 0, result.output
    assert "scrape:" not in result.output  # every published record is read
