"""Stage `scrape`: cqia_jsonl and ruozhiba_dump parsing, rejects, CLI errors."""

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from stages.ingest.sources import parse_source, parse_sources
from stages.lib.record import RECORD_SCHEMA, REJECTED_SCHEMA, make_id
from stages.ingest.scrape import scrape
from stages.scrape import cli

GOOD = {
    "instruction": "有什么适合新手的编程语言？", "input": "", "output": "推荐从 Python 开始。",
    "task_type": {"major": ["问答"], "minor": ["知乎问答"]}, "domain": ["通用"],
    "metadata": "暂无元数据信息", "answer_from": "human", "human_verified": True, "copyright": "暂无版权及作者信息",
}


def jsonl_line(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def write_cqia(path: Path) -> Path:
    lines = [
        jsonl_line(GOOD),
        b"",
        jsonl_line(GOOD | {"output": "第二条"})[:-5],
        jsonl_line(GOOD | {"human_verified": "yes"}),
        jsonl_line(GOOD | {"output": "坏字节"}).replace("坏".encode(), b"\xff\xfe"),
        jsonl_line({k: v for k, v in GOOD.items() if k != "copyright"}),
        jsonl_line(GOOD | {"answer_from": "robot"}),  # not a value any publisher used: still rejected
        jsonl_line(GOOD | {"domain": "通用"}),
        jsonl_line(GOOD | {"metadata": "qid:1, aid:2", "copyright": "CC BY"}),
        jsonl_line(GOOD | {"answer_from": "expert"}),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run_scrape(tmp_path: Path, settings: dict, name: str = "zhihu_sample") -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    cfg = parse_source(name, settings)
    metrics = scrape(cfg, tmp_path / "out", tmp_path / "archive", tmp_path / "m.json")
    kept = pl.read_parquet(tmp_path / "out" / "records.parquet")
    rejected = pl.read_parquet(tmp_path / "out" / "rejected.parquet")
    return kept, rejected, metrics


def test_cqia_lines_are_kept_or_rejected_with_reason_and_line(tmp_path):
    path = write_cqia(tmp_path / "zhihu.jsonl")
    kept, rejected, metrics = run_scrape(tmp_path, {"kind": "cqia_jsonl", "path": str(path), "license": "CC0",
                                                    "fetched_at": "2026-11-01"})
    assert kept.schema == RECORD_SCHEMA and rejected.schema == REJECTED_SCHEMA
    assert metrics["rows_in"] == 9  # the blank line is not a record
    assert metrics["rows_kept"] == 3
    assert metrics["rows_dropped"] == {
        "scrape_invalid_json": 1, "scrape_invalid_utf8": 1, "scrape_invalid_value": 1,
        "scrape_schema_mismatch": 1, "scrape_wrong_type": 2,
    }
    by_line = {row["source_uri"].rsplit(":", 1)[1]: row for row in rejected.iter_rows(named=True)}
    assert by_line["3"]["reason"] == "scrape_invalid_json"
    assert by_line["3"]["detail"].startswith(f"{path.as_posix()}:3: invalid JSON at column")
    assert by_line["4"]["detail"].endswith(":4: field 'human_verified' must be bool, got str")
    assert by_line["5"]["detail"].startswith(f"{path.as_posix()}:5: invalid UTF-8 at byte")
    assert by_line["6"]["detail"].endswith("missing fields ['copyright'], unknown fields []")
    assert by_line["8"]["detail"].endswith("field 'domain' must be list, got str")
    first = kept.filter(pl.col("source_uri").str.ends_with(":1")).row(0, named=True)
    assert first["id"] == make_id("zhihu_sample", "zhihu.jsonl:1")
    assert first["source"] == "zhihu" and first["license"] == "CC0" and first["fetched_at"] == "2026-11-01"
    assert first["metadata"] == "" and first["copyright"] == ""
    assert first["transforms"] == ["scrape:placeholder_to_empty"]
    last = kept.filter(pl.col("source_uri").str.ends_with(":9")).row(0, named=True)
    assert last["metadata"] == "qid:1, aid:2" and last["transforms"] == []
    expert = kept.filter(pl.col("source_uri").str.ends_with(":10")).row(0, named=True)
    assert expert["answer_from"] == "human"
    assert expert["transforms"] == ["scrape:placeholder_to_empty", "scrape:answer_from_expert_to_human"]


def test_raw_sha256_is_the_hash_of_the_line_bytes(tmp_path):
    import hashlib

    path = write_cqia(tmp_path / "zhihu.jsonl")
    kept, rejected, _ = run_scrape(tmp_path, {"kind": "cqia_jsonl", "path": str(path)})
    raw_lines = path.read_bytes().split(b"\n")
    for row in kept.vstack(rejected.drop("reason", "detail")).iter_rows(named=True):
        line = int(row["source_uri"].rsplit(":", 1)[1])
        assert row["raw_sha256"] == hashlib.sha256(raw_lines[line - 1]).hexdigest()


def test_directory_source_takes_subset_from_file_names(tmp_path):
    data = tmp_path / "cqia"
    data.mkdir()
    (data / "douban.jsonl").write_bytes(jsonl_line(GOOD) + b"\n")
    (data / "xhs.jsonl").write_bytes(jsonl_line(GOOD) + b"\n" + jsonl_line(GOOD) + b"\n")
    kept, _, metrics = run_scrape(tmp_path, {"kind": "cqia_jsonl", "path": str(data)}, name="cqia_all")
    assert sorted(kept["source"].to_list()) == ["douban", "xhs", "xhs"]
    assert kept["id"].n_unique() == 3 and metrics["rows_in"] == 3
    manifest = json.loads((tmp_path / "archive" / "inputs.json").read_text())
    assert [Path(f["path"]).name for f in manifest["files"]] == ["douban.jsonl", "xhs.jsonl"]


PICKS = [
    {"title": "既然冰是水做的，为什么冰比水硬？", "abs": None, "href": "/p/7000000001?fr=good", "lz": "某用户", "n_reply": "12"},
    {"title": "鱼会不会口渴", "abs": "鱼会不会口渴", "href": "/p/7000000002?fr=good", "lz": "某用户", "n_reply": "3"},
    {"title": "为什么时钟是顺时针", "abs": "逆时针不行吗？", "href": "/p/7000000003?fr=good", "lz": "某用户", "n_reply": "5"},
    {"title": "重复的帖子", "abs": None, "href": "/p/7000000001?fr=good", "lz": "某用户", "n_reply": "1"},
    {"title": 42, "abs": None, "href": "/p/7000000004", "lz": "某用户", "n_reply": "1"},
]
BEST = [
    {"author": "某作者", "content": "151、我吃了一个橙子，现在我是橙人了吗", "l_num": 23, "ctime": "2021-12-31 20:00"},
    {"author": "某作者", "content": "12、", "l_num": 24, "ctime": "2021-12-31 20:01"},
    {"author": "某作者", "content": "3、问题", "l_num": "25", "ctime": "2021-12-31 20:02"},
]


def test_ruozhiba_picks_and_best_are_parsed_without_user_names(tmp_path):
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(PICKS + BEST, ensure_ascii=False, indent=1), encoding="utf-8")
    kept, rejected, metrics = run_scrape(tmp_path, {"kind": "ruozhiba_dump", "path": str(path)}, name="rzb")
    assert metrics["rows_in"] == 8 and metrics["rows_kept"] == 5
    assert metrics["rows_dropped"] == {"scrape_duplicate_key": 1, "scrape_wrong_type": 2}
    by_key = {row["metadata"]: row for row in kept.iter_rows(named=True)}
    assert by_key["tieba_post:7000000001, n_reply:12"]["instruction"] == "既然冰是水做的，为什么冰比水硬？"
    assert by_key["tieba_post:7000000002, n_reply:3"]["instruction"] == "鱼会不会口渴"
    assert by_key["tieba_post:7000000003, n_reply:5"]["instruction"] == "为什么时钟是顺时针\n逆时针不行吗？"
    best = by_key["rank:151, floor:23, ctime:2021-12-31 20:00"]
    assert best["instruction"] == "我吃了一个橙子，现在我是橙人了吗" and best["output"] == ""
    assert by_key["rank:12, floor:24, ctime:2021-12-31 20:01"]["instruction"] == ""
    assert kept["id"].to_list().count(make_id("rzb", "tieba:7000000001")) == 1
    text = json.dumps(kept.to_dicts(), ensure_ascii=False)
    assert "某用户" not in text and "某作者" not in text
    dup = rejected.filter(pl.col("reason") == "scrape_duplicate_key").row(0, named=True)
    assert dup["detail"].endswith(f"same source key as {path.as_posix()}:2")


def test_ruozhiba_file_that_is_not_an_array_names_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('\n{"title": "a"}\n', encoding="utf-8")
    cfg = parse_source("rzb", {"kind": "ruozhiba_dump", "path": str(path)})
    from stages.lib.errors import StageError

    with pytest.raises(StageError, match=rf"^{path}:2: expected a JSON array \('\['\)$"):
        scrape(cfg, tmp_path / "o", tmp_path / "a", tmp_path / "m.json")


def test_ruozhiba_dump_cut_off_inside_its_last_element_keeps_the_rest(tmp_path):
    path = tmp_path / "cut.json"
    head = '[\n' + json.dumps(PICKS[0], ensure_ascii=False) + ',\n '
    path.write_text(head + '{"title": \n', encoding="utf-8")
    kept, rejected, metrics = run_scrape(tmp_path, {"kind": "ruozhiba_dump", "path": str(path)}, name="rzb")
    assert metrics["rows_in"] == 2 and metrics["rows_kept"] == 1
    assert rejected["reason"].to_list() == ["scrape_invalid_json"]
    assert rejected["detail"][0] == (f"{path.as_posix()}:3: element 1 (file byte {len(head.encode())}): "
                                     "Expecting value; the file ends inside this element (no closing ']')")


def write_params(tmp_path: Path, sources: dict) -> Path:
    import yaml

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
    return params


def invoke(params: Path, tmp_path: Path, source: str):
    return CliRunner().invoke(cli, ["run", source, "--params", str(params), "--out", str(tmp_path / "o"),
                                    "--archive", str(tmp_path / "a"), "--metrics", str(tmp_path / "m.json")])


def test_cli_missing_input_is_one_clear_line(tmp_path):
    params = write_params(tmp_path, {"zhihu": {"kind": "cqia_jsonl", "path": "no/such/file.jsonl"}})
    result = invoke(params, tmp_path, "zhihu")
    assert result.exit_code == 1
    assert result.output == "Error: no/such/file.jsonl: input not found (sources.zhihu.path)\n"


def test_cli_unknown_source_and_bad_kind(tmp_path):
    params = write_params(tmp_path, {"zhihu": {"kind": "cqia_jsonl", "path": "x"}})
    result = invoke(params, tmp_path, "douban")
    assert result.exit_code == 1
    assert result.output == f"Error: {params}: no source 'douban' in sources (known: zhihu)\n"
    params = write_params(tmp_path, {"zhihu": {"kind": "csv", "path": "x"}})
    result = invoke(params, tmp_path, "zhihu")
    assert result.output == (f"Error: {params}: sources.zhihu.kind: must be one of cqia_jsonl, http, mmlu_csv, "
                             "ruozhiba_dump, got 'csv'\n")


def test_cli_success_prints_counts(tmp_path):
    path = write_cqia(tmp_path / "zhihu.jsonl")
    params = write_params(tmp_path, {"zhihu": {"kind": "cqia_jsonl", "path": str(path)}})
    result = invoke(params, tmp_path, "zhihu")
    assert result.exit_code == 0, result.output
    assert result.output == ("scrape[zhihu]: 9 in, 3 kept, 6 dropped (scrape_invalid_json 1, scrape_invalid_utf8 1, "
                             "scrape_invalid_value 1, scrape_schema_mismatch 1, scrape_wrong_type 2)\n")


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"kind": "cqia_jsonl", "path": "x", "colour": "red"},
         "params.yaml: sources.s.colour: unknown key; allowed: fetched_at, glob, kind, license, path, subset"),
        ({"kind": "cqia_jsonl"}, "params.yaml: sources.s.path: missing required key"),
        ({"kind": "cqia_jsonl", "path": "x", "subset": "Zhi Hu"},
         "params.yaml: sources.s.subset: must match [a-z0-9_]+, got 'Zhi Hu'"),
        ({"kind": "cqia_jsonl", "path": "x", "fetched_at": "yesterday"},
         "params.yaml: sources.s.fetched_at: must be an ISO date such as 2024-01-31, got 'yesterday'"),
        ({"kind": "http", "path": "seeds.txt", "subset": "tieba", "parser": "regex"},
         "params.yaml: sources.s.parser: must be one of tieba_thread, qa_selectors, got 'regex'"),
        ({"kind": "http", "path": "seeds.txt", "subset": "qa", "parser": "qa_selectors", "selectors": {"output": "p"}},
         "params.yaml: sources.s.selectors: qa_selectors needs 'instruction' and 'output' CSS selectors"),
    ],
)
def test_source_settings_are_validated_at_load(settings, message):
    with pytest.raises(ValueError) as info:
        parse_sources({"s": settings})
    assert str(info.value) == message
