"""`python -m stages.audit` diff and trace on a real temp git + DVC repo.

The repo has the project's `scrape` stage and the small stand-in stages of
tests/audit/mini_pipeline.py (clean, dedup, rewrite, assemble), and this
history, all written here:

- commit A: sources cqia_zhihu (6 lines: one too short for any threshold, one of
  6 characters, one invalid JSON line, one with a phone number) and cqia_douban
  (3 lines: one repeats a zhihu record, one has a wrong type); clean.min_output_chars 4;
- commit B: source cqia_xhs added, the threshold raised to 8, zhihu line 2 edited;
- experiment `counter` on B: rule=counterintuitive_thinking (rewrites appear;
  `dvc exp run` leaves its results in the workspace).
"""

from __future__ import annotations

import hashlib
import json
import polars as pl
import pytest
from click.testing import CliRunner

from stages.audit.__main__ import cli
from stages.lib.record import make_id
from tests.audit.repo_builder import (commit, cqia_line, cqia_source, dvc, init_repo, write_lines, write_params,
                                       write_pipeline)

pytestmark = pytest.mark.e2e

RULE = "counterintuitive_thinking"
Z = [
    cqia_line("有什么适合新手的编程语言？", "推荐从 Python 开始，语法简洁，资料丰富。"),
    cqia_line("如何提高睡眠质量？", "规律作息，睡前少看手机。"),
    cqia_line("今天天气怎么样？", "晴。"),
    cqia_line("北京是哪个国家的首都？", "中国的首都。"),
    '{"instruction": "这一行没有写完", "output": ',
    cqia_line("客服电话是多少？", "请拨打13812345678联系我们。"),
]
Z2_EDITED = cqia_line("如何提高睡眠质量？", "规律作息，睡前一小时不看手机。")
D = [
    cqia_line("推荐一部温情的电影。", "《寻梦环游记》，关于家人与记忆的故事。"),
    cqia_line("有什么适合新手的编程语言？", "推荐从 Python 开始，语法简洁，资料丰富。"),
    cqia_line("这本书值得读吗？", "值得一读，文笔细腻。", human_verified="是"),
]
X = [
    cqia_line("夏天去哪里旅游比较好？", "可以去青岛，海风凉爽，海鲜也很新鲜。"),
    cqia_line("怎样做一道简单的番茄炒蛋？", "先炒鸡蛋盛出，再炒番茄，最后混合调味。"),
]


def zid(line: int) -> str:
    return make_id("cqia_zhihu", f"zhihu.jsonl:{line}")


def did(line: int) -> str:
    return make_id("cqia_douban", f"douban.jsonl:{line}")


def xid(line: int) -> str:
    return make_id("cqia_xhs", f"xhs.jsonl:{line}")


def rid(parent: str) -> str:
    return make_id("rewrite", f"{parent}:{RULE}")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict:
    repo = tmp_path_factory.mktemp("audit") / "repo"
    repo.mkdir()
    init_repo(repo)
    params = {"sources": {"cqia_zhihu": cqia_source("zhihu"), "cqia_douban": cqia_source("douban")},
              "clean": {"min_output_chars": 4}, "rule": "none", "assemble": {"eval_sources": ["douban"]}}
    write_pipeline(repo)
    write_params(repo, params)
    write_lines(repo / "inputs" / "zhihu.jsonl", Z)
    write_lines(repo / "inputs" / "douban.jsonl", D)
    dvc(repo, "repro")
    a = commit(repo, "A: zhihu and douban, min_output_chars 4")
    params["sources"]["cqia_xhs"] = cqia_source("xhs")
    params["clean"]["min_output_chars"] = 8
    write_params(repo, params)
    write_lines(repo / "inputs" / "zhihu.jsonl", [Z[0], Z2_EDITED, *Z[2:]])
    write_lines(repo / "inputs" / "xhs.jsonl", X)
    dvc(repo, "repro")
    b = commit(repo, "B: add xhs, min_output_chars 8, edit zhihu line 2")
    dvc(repo, "exp", "run", "-n", "counter", "-S", f"rule={RULE}")
    return {"repo": repo, "a": a, "b": b}


def audit(history: dict, *args: str, ok: bool = True):
    result = CliRunner().invoke(cli, [*args, "--repo", str(history["repo"])])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def diff_json(history: dict, a: str, b: str) -> dict:
    return json.loads(audit(history, "diff", a, b, "--json", "--limit", "0").stdout)


def empty() -> dict:
    return {"count": 0, "records": []}


def stage(name: str, path: str, a: dict | None, b: dict | None, by_source: list, by_reason: list, **parts) -> dict:
    entry = {"stage": name, "group": name.split("@")[0], "path": path, "a": a, "b": b}
    for key in ("added", "removed", "changed", "newly_rejected", "no_longer_rejected", "reason_changed"):
        entry[key] = parts.get(key, {"count": 0, "fields": {}, "records": []} if key == "changed" else empty())
    return {**entry, "by_source": by_source, "by_reason": by_reason, "notes": parts.get("notes", [])}


def counts(kept: int, rejected: int) -> dict:
    return {"kept": kept, "rejected": rejected}


def src(name: str, a_kept: int, b_kept: int, a_rejected: int, b_rejected: int) -> dict:
    return {"source": name, "a_kept": a_kept, "b_kept": b_kept, "a_rejected": a_rejected, "b_rejected": b_rejected}


def sha(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


EDIT_DIFF = (
    f"raw_sha256:\n  - {sha(Z[1])}\n  + {sha(Z2_EDITED)}\n"
    "output:\n  - 规律作息，睡前少看手机。\n  + 规律作息，睡前一小时不看手机。\n  ~ 规律作息，睡前[-少-]{+一小时不+}看手机。"
)
EDITED = {"count": 1, "fields": {"output": 1, "raw_sha256": 1},
          "records": [{"id": zid(2), "source": "zhihu", "fields": ["raw_sha256", "output"], "diff": EDIT_DIFF}]}
ABSENT = {"status": "absent"}
X_ADDED = {"count": 2, "records": sorted(
    [{"id": xid(1), "source": "xhs", "a": ABSENT}, {"id": xid(2), "source": "xhs", "a": ABSENT}], key=lambda r: r["id"])}
TOO_SHORT = {"status": "dropped", "stage": "clean", "reason": "clean_too_short",
             "detail": "output has 6 chars < min_output_chars 8"}
Z4_REMOVED = {"count": 1, "records": [{"id": zid(4), "source": "zhihu", "b": TOO_SHORT}]}


def test_diff_between_two_commits_is_exact(history):
    report = diff_json(history, history["a"], history["b"])
    assert report["a"] == {"spec": history["a"], "kind": "git", "rev": history["a"]}
    assert report["b"] == {"spec": history["b"], "kind": "git", "rev": history["b"]}
    assert report["kind"] == "cqia-audit-diff" and report["version"] == 1 and report["limit"] == 0
    expected_stages = [
        stage("scrape@cqia_zhihu", "data/raw/cqia_zhihu", counts(5, 1), counts(5, 1),
              [src("zhihu", 5, 5, 1, 1)], [{"reason": "scrape_invalid_json", "a": 1, "b": 1}], changed=EDITED),
        stage("scrape@cqia_douban", "data/raw/cqia_douban", counts(2, 1), counts(2, 1),
              [src("douban", 2, 2, 1, 1)], [{"reason": "scrape_wrong_type", "a": 1, "b": 1}]),
        stage("scrape@cqia_xhs", "data/raw/cqia_xhs", None, counts(2, 0), [src("xhs", 0, 2, 0, 0)], [],
              added=X_ADDED, notes=["not in dvc.yaml at A"]),
        stage("clean", "data/clean", counts(6, 1), counts(7, 2),
              [src("douban", 2, 2, 0, 0), src("xhs", 0, 2, 0, 0), src("zhihu", 4, 3, 1, 2)],
              [{"reason": "clean_too_short", "a": 1, "b": 2}],
              added=X_ADDED, removed=Z4_REMOVED, changed=EDITED),
        stage("dedup", "data/dedup", counts(5, 1), counts(6, 1),
              [src("douban", 2, 2, 0, 0), src("xhs", 0, 2, 0, 0), src("zhihu", 3, 2, 1, 1)],
              [{"reason": "dedup_exact", "a": 1, "b": 1}],
              added=X_ADDED, removed=Z4_REMOVED, changed=EDITED),
        stage("rewrite", "data/rewrite", counts(0, 0), counts(0, 0), [], []),
    ]
    assert [s["stage"] for s in report["stages"]] == [s["stage"] for s in expected_stages]
    for got, want in zip(report["stages"], expected_stages):
        assert got == want, got["stage"]
    assert report["funnel"] == [
        {"group": "scrape", "a_kept": 7, "b_kept": 9, "a_rejected": 2, "b_rejected": 2},
        {"group": "clean", "a_kept": 6, "b_kept": 7, "a_rejected": 1, "b_rejected": 2},
        {"group": "dedup", "a_kept": 5, "b_kept": 6, "a_rejected": 1, "b_rejected": 1},
        {"group": "rewrite", "a_kept": 0, "b_kept": 0, "a_rejected": 0, "b_rejected": 0},
    ]
    assert report["jsonl"] == [
        {"file": "data/sft/eval.jsonl", "stage": "assemble", "a": 2, "b": 2,
         "added": {"count": 0, "ids": []}, "removed": {"count": 0, "ids": []}},
        {"file": "data/sft/train.jsonl", "stage": "assemble", "a": 3, "b": 4,
         "added": {"count": 2, "ids": sorted([xid(1), xid(2)])}, "removed": {"count": 1, "ids": [zid(4)]}},
    ]
    assert report["params"] == [{"key": "clean.min_output_chars", "a": 4, "b": 8}] + [
        {"key": f"sources.cqia_xhs.{k}", "a": None, "b": v} for k, v in sorted(cqia_source("xhs").items())
    ]
    assert report["metrics"] == [
        {"file": "metrics/clean.json", "key": "rows_dropped.clean_too_short", "a": 1, "b": 2, "delta": 1},
        {"file": "metrics/clean.json", "key": "rows_in", "a": 7, "b": 9, "delta": 2},
        {"file": "metrics/clean.json", "key": "rows_kept", "a": 6, "b": 7, "delta": 1},
        {"file": "metrics/dedup.json", "key": "rows_in", "a": 6, "b": 7, "delta": 1},
        {"file": "metrics/dedup.json", "key": "rows_kept", "a": 5, "b": 6, "delta": 1},
        {"file": "metrics/scrape/cqia_xhs.json", "key": "rows_dropped", "a": None, "b": {}, "delta": None},
        {"file": "metrics/scrape/cqia_xhs.json", "key": "rows_in", "a": None, "b": 2, "delta": None},
        {"file": "metrics/scrape/cqia_xhs.json", "key": "rows_kept", "a": None, "b": 2, "delta": None},
    ]
    assert report["notes"] == []


def stage_ids(fs, path: str) -> tuple[set[str], dict[str, str]]:
    """(kept ids, {rejected id: reason}) of a record stage, read independently of the audit code."""
    with fs.open(f"{path}/records.parquet", mode="rb") as handle:
        kept = set(pl.read_parquet(handle)["id"].to_list())
    with fs.open(f"{path}/rejected.parquet", mode="rb") as handle:
        rejected = pl.read_parquet(handle)
    return kept, dict(zip(rejected["id"].to_list(), rejected["reason"].to_list()))


def test_every_dropped_record_is_accounted_for_with_its_reason(history):
    from dvc.api import DVCFileSystem

    repo, a, b = history["repo"], history["a"], history["b"]
    report = diff_json(history, a, b)
    fs_a, fs_b = DVCFileSystem(str(repo), rev=a), DVCFileSystem(str(repo), rev=b)
    drops_b: dict[str, tuple[str, str]] = {}  # first stage and reason where B drops each id
    for st in report["stages"]:
        kept_a, rej_a = stage_ids(fs_a, st["path"]) if st["a"] else (set(), {})
        kept_b, rej_b = stage_ids(fs_b, st["path"])
        for rid_, reason in rej_b.items():
            drops_b.setdefault(rid_, (st["stage"], reason))
        added = {r["id"] for r in st["added"]["records"]}
        removed = {r["id"] for r in st["removed"]["records"]}
        assert added == kept_b - kept_a and removed == kept_a - kept_b, st["stage"]
        assert st["b"]["kept"] == (st["a"]["kept"] if st["a"] else 0) + len(added) - len(removed)
        for rec in st["removed"]["records"]:  # kept in A only: B says where and why it went
            status = rec["b"]
            assert status["status"] in ("dropped", "absent"), rec
            if status["status"] == "dropped":
                assert (status["stage"], status["reason"]) == drops_b[rec["id"]], rec
        newly = {r["id"]: r["reason"] for r in st["newly_rejected"]["records"]}
        for rid_, reason in rej_b.items():  # every id B rejects here and A did not is listed with its reason
            if rid_ not in rej_a:
                assert newly.get(rid_) == reason or rid_ in removed, (st["stage"], rid_)
        gone = {r["id"] for r in st["no_longer_rejected"]["records"]}
        assert {i for i in rej_a if i not in rej_b} <= gone | added, st["stage"]
        assert sum(r["b"] for r in st["by_reason"]) == st["b"]["rejected"]


def test_diff_commit_against_experiment_shows_the_rewrites(history):
    report = diff_json(history, history["b"], "counter")
    assert report["b"]["kind"] == "experiment" and report["b"]["spec"] == "counter"
    changed = [s for s in report["stages"] if any(s[k]["count"] for k in ("added", "removed", "changed"))]
    assert [s["stage"] for s in changed] == ["rewrite"]
    parents = [did(2), zid(2), zid(6), xid(1), xid(2)]
    assert changed[0]["added"] == {"count": 5, "records": sorted(
        ({"id": rid(p), "source": s, "a": ABSENT} for p, s in zip(parents, ["douban", "zhihu", "zhihu", "xhs", "xhs"])),
        key=lambda r: r["id"])}
    assert [(j["file"], j["added"]["count"], j["removed"]["count"]) for j in report["jsonl"]] == [
        ("data/sft/eval.jsonl", 1, 0), ("data/sft/train.jsonl", 4, 0)]
    assert report["params"] == [{"key": "rule", "a": "none", "b": RULE}]
    assert report["metrics"] == [
        {"file": "metrics/rewrite.json", "key": "rows_in", "a": 0, "b": 5, "delta": 5},
        {"file": "metrics/rewrite.json", "key": "rows_kept", "a": 0, "b": 5, "delta": 5},
    ]


def test_diff_experiment_against_workspace_is_empty(history):
    report = diff_json(history, "counter", "workspace")
    assert report["b"] == {"spec": "workspace", "kind": "workspace", "rev": None}
    for st in report["stages"]:
        assert st["a"] == st["b"] and not any(st[k]["count"] for k in ("added", "removed", "changed")), st["stage"]
    assert report["params"] == [] and report["metrics"] == []


CLEAN_MD = f"""## clean (data/clean)

### Changed (1; fields: output 1, raw_sha256 1)

**{zid(2)} (zhihu): raw_sha256, output**

```diff
{EDIT_DIFF}
```

### Added (2)

| id | source | in A |
|---|---|---|
| {X_ADDED["records"][0]["id"]} | xhs | absent |
| {X_ADDED["records"][1]["id"]} | xhs | absent |

### Removed (1)

| id | source | in B |
|---|---|---|
| {zid(4)} | zhihu | dropped at clean: clean_too_short (output has 6 chars &lt; min_output_chars 8) |

### Shifts by source

| source | A kept | B kept | Δ kept | A rejected | B rejected | Δ rejected |
|---|---:|---:|---:|---:|---:|---:|
| xhs | 0 | 2 | +2 | 0 | 0 | 0 |
| zhihu | 4 | 3 | -1 | 1 | 2 | +1 |

### Shifts by drop reason

| reason | A | B | Δ |
|---|---:|---:|---:|
| clean_too_short | 1 | 2 | +1 |

"""


def test_diff_markdown_is_exact(history):
    md = audit(history, "diff", history["a"], history["b"], "--md").stdout
    a, b = history["a"][:7], history["b"][:7]
    assert md.startswith(f"# Dataset diff: {a} → {b}\n\nA: {history['a']} (git). "
                         f"B: {history['b']} (git).\n\n## Stages\n\n")
    assert ("| clean | 6 | 7 | +1 | 1 | 2 | +1 | 2 | 1 | 1 | 0 | 0 | 0 |\n"
            "| dedup | 5 | 6 | +1 | 1 | 1 | 0 | 2 | 1 | 1 | 0 | 0 | 0 |\n") in md
    assert "| scrape@cqia_xhs | – | 2 | +2 | – | 0 | 0 | 2 | 0 | 0 | 0 | 0 | 0 |\n" in md
    start = md.index("## clean (data/clean)")
    assert md[start:md.index("## dedup (data/dedup)")] == CLEAN_MD
    assert "## scrape@cqia_douban" not in md  # no differences: only in the summary table
    assert "| clean.min_output_chars | 4 | 8 |" in md
    assert "| data/sft/train.jsonl | assemble | 3 | 4 | 2 | 1 |" in md
    assert f"data/sft/train.jsonl: left: {zid(4)}" in md


def test_diff_table_html_and_output_file(history, tmp_path):
    table = audit(history, "diff", history["a"], history["b"]).stdout
    assert "Removed (1)" in table and zid(4) in table and "dropped at clean: clean_too_short" in table
    assert "~ 规律作息，睡前[-少-]{+一小时不+}看手机。" in table
    target = tmp_path / "audit.html"
    audit(history, "diff", history["a"], history["b"], "--html", "-o", str(target))
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "</svg>" in page
    assert "<script" not in page and "https://" not in page and "<link" not in page
    assert "A 6 kept (−1)" in page and "B 7 kept (−2)" in page  # clean's funnel row
    assert "规律作息，睡前[-少-]{+一小时不+}看手机。" in page


def trace_json(history: dict, record_id: str, rev: str) -> dict:
    return json.loads(audit(history, "trace", record_id, "--rev", rev, "--json").stdout)


def row(name: str, status: str, path: str | None = None, **extra) -> dict:
    return {"stage": name, "path": path, "status": status, "transforms_added": [], "fields_changed": [],
            "reason": None, "detail": None, "also_rejected": [], **extra}


def test_trace_of_a_duplicate_is_exact(history):
    result = trace_json(history, zid(1), history["b"])
    assert result["found"] and result["rev"] == {"spec": history["b"], "kind": "git", "rev": history["b"]}
    assert result["raw"] == {"source": "zhihu", "source_uri": "inputs/zhihu.jsonl:1", "raw_sha256": sha(Z[0]),
                             "fetched_at": "2026-11-01", "license": "CC0-1.0", "stage": "scrape@cqia_zhihu",
                             "archive": ["data/archive/cqia_zhihu"]}
    detail = f"exact duplicate of {did(2)}"
    assert result["stages"] == [
        row("scrape@cqia_zhihu", "kept", "data/raw/cqia_zhihu", transforms_added=["scrape:placeholder_to_empty"]),
        row("clean", "kept", "data/clean"),
        row("dedup", "rejected", "data/dedup", reason="dedup_exact", detail=detail),
        row("rewrite", "not reached"),
    ]
    assert result["dropped"] == {"stage": "dedup", "reason": "dedup_exact", "detail": detail}
    cluster = f"c-{did(2)}"
    assert result["duplicates"] == {"stage": "dedup", "cluster_id": cluster, "kept_id": did(2), "jaccard_to_kept": 1.0,
                                    "members": [{"id": did(2), "jaccard_to_kept": 1.0},
                                                {"id": zid(1), "jaccard_to_kept": 1.0}]}
    assert result["rewrites"] == [] and result["sft"] == [] and result["parent"] is None and result["notes"] == []


def test_trace_follows_a_threshold_drop_across_revisions(history):
    at_a = trace_json(history, zid(4), history["a"])
    assert [(s["stage"], s["status"]) for s in at_a["stages"]] == [
        ("scrape@cqia_zhihu", "kept"), ("clean", "kept"), ("dedup", "kept"), ("rewrite", "absent")]
    assert at_a["dropped"] is None
    train_at_a = sorted([zid(2), zid(4), zid(6)])  # dedup keeps these zhihu rows; douban rows go to eval.jsonl
    assert at_a["sft"] == [{"id": zid(4), "file": "data/sft/train.jsonl", "line": train_at_a.index(zid(4)) + 1}]
    at_b = trace_json(history, zid(4), history["b"])
    assert at_b["stages"][1] == row("clean", "rejected", "data/clean", reason="clean_too_short",
                                    detail="output has 6 chars < min_output_chars 8")
    assert at_b["dropped"]["stage"] == "clean" and at_b["sft"] == []


def test_trace_shows_transforms_rewrites_and_sft_lines(history):
    result = trace_json(history, zid(6), "counter")
    assert result["stages"][1] == row("clean", "kept", "data/clean", transforms_added=["pii:phone"],
                                      fields_changed=["output"])
    assert result["rewrites"] == [{"stage": "rewrite", "id": rid(zid(6)), "rule": RULE, "model": "mini-model"}]
    # eval.jsonl holds the douban rows (and the rewrite of one); train.jsonl the rest, sorted by id
    train_ids = sorted([zid(2), zid(6), xid(1), xid(2), rid(zid(2)), rid(zid(6)), rid(xid(1)), rid(xid(2))])
    assert result["sft"] == [
        {"id": zid(6), "file": "data/sft/train.jsonl", "line": train_ids.index(zid(6)) + 1},
        {"id": rid(zid(6)), "file": "data/sft/train.jsonl", "line": train_ids.index(rid(zid(6))) + 1},
    ]
    text = audit(history, "trace", rid(zid(6)), "--rev", "counter").stdout
    assert f"Derived from {zid(6)} by rule {RULE} (model mini-model) at rewrite." in text
    assert f"In the SFT set: data/sft/train.jsonl line {train_ids.index(rid(zid(6))) + 1}." in text


def test_unknown_revision_and_record_fail_with_one_line(history):
    result = audit(history, "diff", "no-such-rev", "HEAD", ok=False)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: unknown revision 'no-such-rev': not a git revision, a DVC experiment name, or 'workspace'"]
    result = audit(history, "trace", "cqia_zhihu-0000000000000000", "--rev", "HEAD", ok=False)
    assert result.exit_code == 1 and result.output.startswith("Error: cqia_zhihu-0000000000000000: not found")


def test_help_has_an_example_for_each_command():
    runner = CliRunner()
    assert "Examples:" in runner.invoke(cli, ["--help"]).output
    for command in ("diff", "trace", "summary", "rules", "experiments"):
        text = runner.invoke(cli, [command, "--help"]).output
        assert "Examples:" in text and f"python -m stages.audit {command}" in text, command


def test_console_script_is_declared():
    import tomllib

    from tests.audit.repo_builder import ROOT

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["cqia-audit"] == "stages.audit:main"


def test_summary_counts_every_drop_and_edit_with_examples(history, tmp_path):
    result = json.loads(audit(history, "summary", "counter", "--json", "-n", "1").stdout)
    assert result["kind"] == "cqia-audit-summary" and result["examples"] == 1 and result["notes"] == []
    table = {s["stage"]: (s["rows_in"], s["rows_kept"], s["rows_dropped"], s["edited"]) for s in result["stages"]}
    assert table == {
        "scrape": (11, 9, {"scrape_invalid_json": 1, "scrape_wrong_type": 1}, {}),
        "clean": (9, 7, {"clean_too_short": 2}, {"pii:phone": 1}),
        "dedup": (7, 6, {"dedup_exact": 1}, {}),
        "rewrite": (5, 5, {}, {f"rewrite:{RULE}": 5}),
    }
    clean = result["stages"][1]
    too_short = sorted([zid(3), zid(4)])
    assert [r["id"] for r in clean["dropped_examples"]["clean_too_short"]] == too_short[:1]
    assert clean["edited_examples"]["pii:phone"] == [{
        "id": zid(6), "source": "zhihu", "from": zid(6), "transforms": ["pii:phone"],
        "diff": "output:\n  - 请拨打13812345678联系我们。\n  + 请拨打<PHONE>联系我们。"}]
    rewrite = result["stages"][3]["edited_examples"][f"rewrite:{RULE}"][0]
    assert rewrite["from"] != rewrite["id"] and rewrite["diff"].startswith("instruction:\n  - ")
    md = audit(history, "summary", "counter", "--md").stdout
    assert "| clean | 9 | 7 | 2 | clean_too_short 2 | pii:phone 1 |" in md
    assert "| scrape | 11 | 9 | 2 | scrape_invalid_json 1; scrape_wrong_type 1 | – |" in md
    assert "### dropped: clean_too_short (2, 2 shown)" in md and "output has 6 chars &lt; min_output_chars 8 |" in md
    target = tmp_path / "summary.html"
    audit(history, "summary", "counter", "--html", "-o", str(target))
    assert target.stat().st_mode & 0o777 == 0o644
    assert "请拨打&lt;PHONE&gt;联系我们。" in target.read_text(encoding="utf-8")


def test_trace_shows_the_text_each_stage_left_with_changes_marked(history):
    texts = trace_json(history, zid(6), "counter")["texts"]
    assert [(t["stage"], t["changed"]) for t in texts] == [("scrape@cqia_zhihu", []), ("clean", ["output"]),
                                                           ("dedup", [])]
    assert texts[0]["text"]["output"] == "请拨打13812345678联系我们。"
    assert texts[1]["diff"] == "output:\n  - 请拨打13812345678联系我们。\n  + 请拨打<PHONE>联系我们。"
    shown = audit(history, "trace", zid(6), "--rev", "counter").stdout
    assert ("clean (kept): output changed\noutput:\n  - 请拨打13812345678联系我们。\n"
            "  + 请拨打<PHONE>联系我们。") in shown
    assert "Text unchanged at: dedup." in shown
