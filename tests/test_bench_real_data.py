"""bench/real_data.py: `dvc repro assemble` on a data folder laid out like ../shared/data, and the report."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.real_data import main
from tests.project import TINY_OVERRIDES

pytestmark = pytest.mark.e2e
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RECORD = {"instruction": "什么是数据清洗？", "input": "", "output": "数据清洗是在训练之前修复和筛选数据的过程。",
          "task_type": {"major": ["问答"], "minor": ["百科"]}, "domain": ["通用"], "metadata": "",
          "answer_from": "", "human_verified": False, "copyright": ""}
TOPICS = ["长城", "黄河", "长江", "泰山", "西湖", "故宫", "敦煌", "丝绸之路", "兵马俑", "大运河", "布达拉宫", "苏州园林"]


def test_report_counts_every_record_of_a_written_layout(tmp_path):
    cqia, dumps = tmp_path / "coig-cqia-sample", tmp_path / "ruozhiba-dumps"
    cqia.mkdir()
    dumps.mkdir()
    lines = [RECORD | {"instruction": f"请介绍{topic}。", "output": f"{topic}是中国著名的名胜古迹，历史悠久，每年吸引大量游客前来参观。"}
             for topic in TOPICS]
    lines.append(RECORD | {"instruction": "请介绍一部电影", "output": "It is a film about a family who moves to Paris. " * 3})
    (cqia / "wiki.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{broken\n",
                                     encoding="utf-8")
    floors = [{"author": "x", "content": f"{i}、第{i}条有意思的句子", "l_num": 7, "ctime": f"202{i}-05-09 01:42"}
              for i in range(3)]
    (dumps / "post-annual.json").write_text(json.dumps(floors, ensure_ascii=False), encoding="utf-8")
    tiny = [arg for override in TINY_OVERRIDES for arg in ("-S", override)]  # the shipped params, on the tiny model
    result = CliRunner().invoke(main, ["--data", str(tmp_path), "--keep", str(tmp_path / "repo"), *tiny])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["cqia/wiki", "in", "14", "sft", "12", "dropped:", "clean:clean_answer_not_chinese",
                                "1,", "scrape:scrape_invalid_json", "1"]
    assert lines[1].split() == ["ruozhiba_post_annual/ruozhiba", "in", "3", "sft", "0", "dropped:",
                                "assemble:assemble_empty_output", "3"]
    assert "total: 17 in, 12 in the SFT set" in result.output
    assert (tmp_path / "repo" / "dvc.lock").is_file()  # real DVC ran: the stages are locked


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared real data is not beside this checkout")
def test_the_whole_real_set_reaches_the_sft_set_and_scrape_loses_nothing():
    tiny = [arg for override in TINY_OVERRIDES for arg in ("-S", override)]
    result = CliRunner().invoke(main, ["--data", str(SHARED), *tiny])
    assert result.exit_code == 0, result.output
    assert "scrape:" not in result.output  # every published record is read
    subsets = [line.split() for line in result.output.splitlines() if line.startswith("cqia/")]
    assert "cqia/segmentfault" in [row[0] for row in subsets]  # with its 8,463-character question
    for row in subsets:  # every COIG-CQIA subset reaches the set, nearly whole (the dumps carry no answers)
        assert int(row[4]) >= 0.9 * int(row[2]), row
