"""Shapes of the real published data (written by us in the same layouts) and row-level isolation of bad input."""

import json
from pathlib import Path

import polars as pl
import pytest

from stages.ingest.cqia import map_answer_from
from stages.ingest.jsontext import RecordProblem, loads_record
from stages.ingest.sources import parse_source
from stages.ingest.scrape import scrape

RECORD = {
    "instruction": "请根据下面的新闻写一个标题", "input": "某公司今天宣布任命新的财务总监。", "output": "某公司任命新财务总监",
    "task_type": {"major": ["标题生成"], "minor": ["金融"]}, "domain": ["金融"], "metadata": "",
    "answer_from": "human", "human_verified": False, "copyright": "",
}


def line(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def run(tmp_path: Path, kind: str, data: bytes, name: str = "src") -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / ("in.jsonl" if kind == "cqia_jsonl" else "dump.json")
    path.write_bytes(data)
    cfg = parse_source(name, {"kind": kind, "path": str(path)})
    metrics = scrape(cfg, tmp_path / "out", tmp_path / "archive", tmp_path / "m.json")
    return (pl.read_parquet(tmp_path / "out" / "records.parquet"),
            pl.read_parquet(tmp_path / "out" / "rejected.parquet"), metrics)


def test_finance_shape_empty_answer_from_is_kept_as_human_with_a_tag(tmp_path):
    kept, rejected, _ = run(tmp_path, "cqia_jsonl", line(RECORD | {"answer_from": ""}) + b"\n")
    assert rejected.height == 0
    row = kept.row(0, named=True)
    assert row["answer_from"] == "human" and row["transforms"] == ["scrape:answer_from_empty_to_human"]


@pytest.mark.parametrize("value, mapped, tag", [
    ("expert", "human", "scrape:answer_from_expert_to_human"),
    (" Human ", "human", "scrape:answer_from_human_to_human"),
    ("GPT-4", "llm", "scrape:answer_from_gpt-4_to_llm"),
    ("human", "human", None),
])
def test_answer_from_aliases_are_mapped_and_named(value, mapped, tag):
    assert map_answer_from(value) == (mapped, tag)


def test_unknown_answer_from_is_still_rejected_with_the_known_values():
    with pytest.raises(RecordProblem) as info:
        map_answer_from("robot")
    assert info.value.reason == "scrape_invalid_value"
    assert info.value.detail.startswith("answer_from 'robot' is none of 'human', 'llm', '', 'expert'")


def floor(content: str, l_num: int, ctime: str) -> dict:
    return {"author": "写测试的人", "content": content, "l_num": l_num, "ctime": ctime}


def dump(elements: list) -> bytes:
    """One element per line, as the public dumps are laid out."""
    return ("[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in elements) + "\n]\n").encode("utf-8")


def test_annual_best_floors_repeating_across_years_keep_distinct_stable_ids(tmp_path):
    elements = [
        floor("12、我把闹钟调快了十分钟，结果它提前十分钟坏了", 35, "2020-12-24 12:33"),
        floor("3.冰箱里的灯只有我打开门的时候才亮，它在害怕我", 35, "2021-05-09 01:42"),  # same floor, next list
        floor("15、今年的最后一条", 753, "2021-12-31 23:59"),
        floor("16、明年的第一条", 753, "2022-01-01 00:01"),  # a year's thread running into the next year
        floor("3.冰箱里的灯只有我打开门的时候才亮，它在害怕我", 35, "2021-05-09 01:42"),  # the same element twice
    ]
    kept, rejected, metrics = run(tmp_path, "ruozhiba_dump", dump(elements))
    assert metrics["rows_kept"] == 4 and kept["id"].n_unique() == 4
    assert rejected["reason"].to_list() == ["scrape_duplicate_key"]
    again, _, _ = run(tmp_path / "again", "ruozhiba_dump", dump(elements))
    assert again["id"].to_list() == kept["id"].to_list()
    reordered, _, _ = run(tmp_path / "reordered", "ruozhiba_dump", dump(list(reversed(elements[:4]))))
    assert sorted(reordered["id"].to_list()) == sorted(kept["id"].to_list())  # the key is never the position


def test_pick_whose_abstract_repeats_a_cut_title_is_not_doubled(tmp_path):
    pick = {"title": "看着夜空中的流星，我没有许愿，而是对它说了再见。第二", "href": "/p/8000000001?fr=good", "lz": "x",
            "abs": "看着夜空中的流星，我没有许愿，而是对它说了再见。 第二天晚上，它又来了。", "n_reply": "3"}
    kept, _, _ = run(tmp_path, "ruozhiba_dump", dump([pick]))
    assert kept["instruction"].to_list() == ["看着夜空中的流星，我没有许愿，而是对它说了再见。 第二天晚上，它又来了。"]


def test_bad_jsonl_lines_cost_only_themselves(tmp_path):
    lines = [
        line(RECORD),
        line(RECORD).replace("标题".encode(), b"\\ud83d"),          # a lone surrogate escape
        b'{"a": ' * 5000 + b"1" + b"}" * 5000,                     # nested far too deep
        line(RECORD)[:-1] + b', "output": "another"}',             # the same key twice
        b"\xef\xbb\xbf" + line(RECORD),                            # a byte order mark that is not at the file start
        line(RECORD | {"instruction": "最后一条"}),
    ]
    kept, rejected, metrics = run(tmp_path, "cqia_jsonl", b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    assert metrics["rows_in"] == 6 and metrics["rows_kept"] == 2  # the BOM of line 1 is not content
    reasons = {row["source_uri"].rsplit(":", 1)[1]: (row["reason"], row["detail"].split(": ", 1)[1])
               for row in rejected.iter_rows(named=True)}
    assert reasons == {
        "2": ("scrape_lone_surrogate", "a \\uD800-\\uDFFF escape without its pair (not a character)"),
        "3": ("scrape_invalid_json", "nested deeper than 64 levels"),
        "4": ("scrape_duplicate_json_key", "key 'output' appears twice in one object"),
        "5": ("scrape_invalid_json", "invalid JSON at column 1: Unexpected UTF-8 BOM (decode using utf-8-sig)"),
    }


def test_bad_dump_elements_cost_only_themselves(tmp_path):
    good = [floor(f"{i}、第{i}条正常的内容", i, f"2021-05-09 01:{i:02d}") for i in range(1, 5)]
    raw = [json.dumps(e, ensure_ascii=False).encode("utf-8") for e in good]
    raw[1] = raw[1].replace("正常".encode(), b"\xff\xfe")                        # invalid UTF-8 in one element
    raw[2] = raw[2].replace("正常".encode(), b"\\udc00")                          # a lone surrogate escape
    broken = b'{"author": "x", "content": "5\xe3\x80\x81broken", "l_num": 5 "ctime": "2021"}'  # a comma missing
    data = b"\xef\xbb\xbf[\n" + b",\n".join(raw[:3] + [broken, raw[3]]) + b"\n]\n"
    kept, rejected, metrics = run(tmp_path, "ruozhiba_dump", data)
    assert metrics["rows_in"] == 5 and metrics["rows_kept"] == 2
    details = sorted(rejected["detail"].to_list())
    path = (tmp_path / "dump.json").as_posix()
    at = [data.index(element) for element in raw[1:3] + [broken]]  # file byte offsets (the BOM counts)
    assert details[0].startswith(f"{path}:3: element 1 (file byte {at[0]}): invalid UTF-8 at byte")
    assert details[1] == (f"{path}:4: element 2 (file byte {at[1]}): "
                          "a \\uD800-\\uDFFF escape without its pair (not a character)")
    assert details[2] == f"{path}:5: element 3 (file byte {at[2]}): Expecting ',' delimiter"
    assert sorted(rejected["reason"].to_list()) == ["scrape_invalid_json", "scrape_invalid_utf8",
                                                    "scrape_lone_surrogate"]


def test_valid_surrogate_pairs_are_characters():
    assert loads_record('{"t": "\\ud83d\\ude00"}') == {"t": "\U0001F600"}
