"""`params.yaml: sources` as typed models: odd YAML fails with one line naming the key (issue 15)."""

import pytest
import yaml

from stages.ingest.kinds.http import HttpParams
from stages.ingest.sources import parse_sources

HTTP = "{kind: http, path: seeds.txt, subset: tieba, parser: tieba_thread"


def problem(text: str) -> str:
    """The one-line error for a `sources` section written as YAML."""
    with pytest.raises(ValueError) as info:
        parse_sources(yaml.safe_load(text))
    return str(info.value)


def test_an_integer_source_key_is_refused():
    assert problem("1: {kind: cqia_jsonl, path: x.jsonl}") == (
        "params.yaml: sources.1: source names must be strings (quote the key), got 1")


def test_a_quoted_digit_key_is_a_name():
    assert list(parse_sources(yaml.safe_load("'1': {kind: cqia_jsonl, path: x.jsonl}"))) == ["1"]


def test_a_source_name_outside_the_name_rule_is_refused():
    assert problem("Zhi-Hu: {kind: cqia_jsonl, path: x.jsonl}") == (
        "params.yaml: sources.Zhi-Hu: source names must match [a-z0-9_]+ (they prefix record ids and name the "
        "stage's output folder data/raw/<name>)")


def test_concurrency_must_be_a_whole_number():
    assert problem(f"web: {HTTP}, concurrency: 2.5}}") == (
        "params.yaml: sources.web.concurrency: must be an integer, got 2.5")


def test_a_quoted_number_of_retries_is_refused():
    assert problem(f"web: {HTTP}, retries: '3'}}") == "params.yaml: sources.web.retries: must be an integer, got '3'"


def test_max_bytes_true_is_refused():
    assert problem(f"web: {HTTP}, max_bytes: true}}") == (
        "params.yaml: sources.web.max_bytes: must be an integer, got True")


def test_an_infinite_request_rate_is_refused():
    assert problem(f"web: {HTTP}, requests_per_second: .inf}}") == (
        "params.yaml: sources.web.requests_per_second: must be a finite number, got .inf")


def test_negative_max_redirects_are_refused():
    assert problem(f"web: {HTTP}, max_redirects: -1}}") == (
        "params.yaml: sources.web.max_redirects: must be a whole number >= 0, got -1")


def test_a_zero_timeout_is_refused():
    assert problem(f"web: {HTTP}, timeout_s: 0}}") == (
        "params.yaml: sources.web.timeout_s: must be a positive number, got 0.0")


def test_an_unknown_key_suggests_the_closest_one():
    assert problem("zhihu: {kind: cqia_jsonl, path: x.jsonl, globb: '*.jsonl'}") == (
        "params.yaml: sources.zhihu.globb: unknown key (did you mean glob?); allowed: fetched_at, glob, kind, "
        "license, path, subset")


def test_crawler_settings_are_unknown_keys_of_a_file_source():
    assert problem("zhihu: {kind: cqia_jsonl, path: x.jsonl, concurrency: 2}").startswith(
        "params.yaml: sources.zhihu.concurrency: unknown key; allowed: ")


def test_an_http_source_needs_a_subset():
    assert problem("web: {kind: http, path: seeds.txt, parser: tieba_thread}") == (
        "params.yaml: sources.web.subset: http sources need a subset name")


def test_a_glob_may_not_leave_the_source_path():
    assert problem("zhihu: {kind: cqia_jsonl, path: data, glob: ../*.jsonl}") == (
        "params.yaml: sources.zhihu.glob: must stay inside the source's path (a pattern such as *.jsonl or "
        "sub/*.jsonl; no '..', no leading '/' or '~'), got '../*.jsonl'")


def test_a_source_that_is_not_a_mapping_is_refused():
    assert problem("zhihu: data/zhihu.jsonl") == "params.yaml: sources.zhihu: must be a mapping, got 'data/zhihu.jsonl'"


def test_an_empty_section_is_refused():
    assert problem("{}") == "params.yaml: sources: must be a non-empty mapping of source name to settings"


def test_the_caller_names_the_params_file():
    with pytest.raises(ValueError, match=r"^conf/p\.yaml: sources\.zhihu\.kind: must be one of "):
        parse_sources({"zhihu": {"kind": "csv", "path": "x"}}, "conf/p.yaml: sources")


def test_an_unquoted_yaml_date_is_kept_as_written():
    sources = parse_sources(yaml.safe_load("zhihu: {kind: cqia_jsonl, path: x.jsonl, fetched_at: 2026-11-01}"))
    assert sources["zhihu"].fetched_at == "2026-11-01"


def test_each_kind_has_its_defaults_and_its_name():
    sources = parse_sources(yaml.safe_load("""
        zhihu: {kind: cqia_jsonl, path: x.jsonl}
        rzb: {kind: ruozhiba_dump, path: d.json}
        mmlu_en: {kind: mmlu_csv, path: mmlu}
        web: {kind: http, path: seeds.txt, subset: tieba, parser: tieba_thread, requests_per_second: 2}
    """))
    shown = {name: (cfg.name, cfg.subset, getattr(cfg, "glob", None), cfg.license, getattr(cfg, "fetched_at", "-"))
             for name, cfg in sources.items()}
    assert shown == {
        "zhihu": ("zhihu", None, "*.jsonl", "unknown", None),
        "rzb": ("rzb", "ruozhiba", None, "unknown", None),
        "mmlu_en": ("mmlu_en", "mmlu", "*_train.csv", "unknown", None),
        "web": ("web", "tieba", None, "unknown", "-"),  # each http row's fetched_at is its WARC-Date
    }
    assert not isinstance(sources["zhihu"], HttpParams)
    web = sources["web"]
    assert isinstance(web, HttpParams)
    assert (web.parser, web.requests_per_second, web.concurrency, web.max_bytes) == ("tieba_thread", 2.0, 2, 2_000_000)


def test_a_symlink_inside_a_source_folder_is_refused_in_one_line(tmp_path):
    from stages.ingest.sources import parse_source
    from stages.lib.errors import StageError

    folder, elsewhere = tmp_path / "cqia", tmp_path / "elsewhere"
    folder.mkdir()
    (elsewhere / "deep").mkdir(parents=True)
    (folder / "zhihu.jsonl").write_text("{}\n", encoding="utf-8")
    (elsewhere / "secret.jsonl").write_text("{}\n", encoding="utf-8")
    cfg = parse_source("cqia", {"kind": "cqia_jsonl", "path": str(folder), "glob": "**/*.jsonl"})
    assert cfg.files() == [folder / "zhihu.jsonl"]
    (folder / "passwd.jsonl").symlink_to(elsewhere / "secret.jsonl")
    with pytest.raises(StageError) as refused:
        cfg.files()
    assert str(refused.value) == (f"{folder / 'passwd.jsonl'}: is a symbolic link inside the folder of sources.cqia; "
                                  "a folder source reads regular files only (copy the file in)")
    (folder / "passwd.jsonl").unlink()
    (folder / "sub").symlink_to(elsewhere, target_is_directory=True)  # a linked subfolder named by the glob
    cfg = parse_source("cqia", {"kind": "cqia_jsonl", "path": str(folder), "glob": "sub/*.jsonl"})
    with pytest.raises(StageError, match="secret.jsonl: is a symbolic link inside the folder of sources.cqia"):
        cfg.files()
