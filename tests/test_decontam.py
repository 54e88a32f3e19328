"""Decontamination in assemble: copied and lightly edited evaluation questions are removed, named in detail."""

import json
from pathlib import Path

import polars as pl
import pytest

from stages.lib.params import parse_section
from stages.lib.record import records_frame
from stages.sft.build import assemble
from stages.sft.decontam import DecontamParams, Index, tokens
from stages.sft.mix import AssembleParams
from tests.lib.test_record import sample_row
from tests.test_assemble import SFT_SUITE, SOURCES

ROOT = Path(__file__).resolve().parents[1]
EN_TASK = ("The Treaty of Westphalia, signed in 1648, ended which long war that had devastated much of "
           "central Europe?")
ZH_TASK = "北宋时期发明活字印刷术的人是谁？"


def write_tasks(root: Path) -> Path:
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / "history_test.csv").write_text(
        f'"{EN_TASK}",The Hundred Years\' War,The Thirty Years\' War,The Seven Years\' War,The War of the Roses,B\n'
        "Two plus two?,3,4,5,6,B\n", encoding="utf-8")
    (tasks / "chinese_history_test.csv").write_text(f"{ZH_TASK},沈括,蔡伦,毕昇,郭守敬,C\n", encoding="utf-8")
    return tasks


def test_copied_and_lightly_edited_questions_are_removed_and_named(tmp_path):
    tasks = write_tasks(tmp_path)
    planted = {
        "zhihu-copied": (EN_TASK + "\nA. The Hundred Years' War\nB. The Thirty Years' War", "B"),
        "zhihu-edited": ("the treaty of Westphalia (signed in 1648) ended which lengthy war that had devastated much "
                         "of central Europe?", "The Thirty Years' War."),
        "zhihu-zh-edited": ("请问北宋时期发明活字印刷术的人是哪一位？", "毕昇。"),
        "zhihu-clean": ("How do I keep basil alive on a windowsill?", "Water it when the soil is dry."),
        "zhihu-short": ("Two plus two? In binary, please.", "100"),
    }
    planted |= {f"zhihu-filler-{i}": (f"How tall does a sunflower of variety {i} grow?", f"About {i + 1} m.")
                for i in range(8)}
    rows = [sample_row() | {"id": i, "source": "zhihu", "instruction": q, "output": a} for i, (q, a) in planted.items()]
    records = tmp_path / "records.parquet"
    records_frame(rows).write_parquet(records)
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n", encoding="utf-8")
    suite_params = {"min_rows": 1, "configured_sources": SOURCES, "min_zh_share": 0.0,  # English records
                    "max_chars": 16000, "chinese_sources": []}
    metrics = assemble([records], None, tmp_path / "out", tmp_path / "m.json", AssembleParams(eval_share=0.3),
                       tmp_path / "dvc.lock", SFT_SUITE, tmp_path / "reports", suite_params, [tasks])
    assert metrics["rows_dropped"] == {"decontam_eval_overlap": 3}
    assert metrics["decontam"] == {"eval_questions": 2, "short_questions_skipped": 1, "decontaminated": 3}
    rejected = pl.read_parquet(tmp_path / "out" / "rejected.parquet").sort("id")
    assert rejected["id"].to_list() == ["zhihu-copied", "zhihu-edited", "zhihu-zh-edited"]
    details = dict(zip(rejected["id"], rejected["detail"]))
    assert details["zhihu-copied"].startswith(f"overlaps evaluation task history question {tasks.as_posix()}/"
                                              "history_test.csv:1 (100% of its 8-word n-grams): 'The Treaty of")
    assert "history_test.csv:1" in details["zhihu-edited"]
    assert "chinese_history_test.csv:1" in details["zhihu-zh-edited"] and ZH_TASK in details["zhihu-zh-edited"]
    kept = [json.loads(x)["id"] for f in ("train.jsonl", "eval.jsonl")
            for x in (tmp_path / "out" / f).read_text().splitlines()]
    assert sorted(kept) == ["zhihu-clean", *(f"zhihu-filler-{i}" for i in range(8)), "zhihu-short"]


def test_thresholds_matter_and_are_validated():
    edited = "the treaty of Westphalia (signed in 1648) ended which lengthy war that had devastated much of central Europe?"
    assert Index([("history", "h.csv:1", EN_TASK)], DecontamParams()).match(edited) is not None
    strict = Index([("history", "h.csv:1", EN_TASK)], DecontamParams(min_overlap=0.9))
    assert strict.match(edited) is None and strict.match(EN_TASK) is not None
    assert tokens("Ｔｈｅ  WAR, ended!") == ("word", ["the", "war", "ended"])
    assert tokens("毕昇（北宋）发明") == ("char", list("毕昇北宋发明"))
    with pytest.raises(ValueError, match=r"assemble.decontam.min_overlap: must be in \(0, 1\], got 0"):
        parse_section(DecontamParams, {"min_overlap": 0}, "params.yaml: assemble.decontam")
    with pytest.raises(ValueError, match=r"assemble.decontam.ngram: unknown key \(did you mean word_ngram\?\)"):
        parse_section(DecontamParams, {"ngram": 13}, "params.yaml: assemble.decontam")


def test_the_shipped_mmlu_train_seeds_do_not_overlap_the_shipped_test_questions():
    from stages.ingest.sources import parse_source
    from stages.sft.decontam import load_eval_questions

    kept, _ = parse_source("m", {"kind": "mmlu_csv", "path": str(ROOT / "data/sample/mmlu/train")}).read_files()
    index = Index(load_eval_questions([ROOT / "data/sample/mmlu/test", ROOT / "data/sample/eval"]), DecontamParams())
    hits = [(r["instruction"], index.match(r["instruction"] + "\n" + r["output"])) for r in kept]
    assert [h for h in hits if h[1]] == []


def test_a_decontam_ngram_of_the_wrong_type_is_refused():
    with pytest.raises(ValueError) as info:
        parse_section(DecontamParams, {"char_ngram": 8.5}, "params.yaml: assemble.decontam")
    assert str(info.value) == "params.yaml: assemble.decontam.char_ngram: must be an integer, got 8.5"


def test_decontam_is_checked_inside_the_assemble_section():
    with pytest.raises(ValueError) as info:
        parse_section(AssembleParams, {"decontam": {"enabled": "yes"}}, "params.yaml: assemble")
    assert str(info.value) == "params.yaml: assemble.decontam.enabled: must be true or false, got 'yes'"
