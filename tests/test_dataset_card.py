"""The dataset card (data/sft/README.md) follows the data and escapes what it takes from it.

Issue 21 item 5: `language`, the title and the description come from the records'
measured languages (with their shares when there is more than one), `size_categories`
from the count. Issue 22 probe 16: a source `license` holding `<script>` and a line
break stays text in its table cell.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from huggingface_hub import DatasetCard

from stages.lib.record import records_frame
from stages.sft.build import assemble
from stages.sft.hf_card import pairs_text, size_category, title
from stages.sft.mix import AssembleParams
from stages.validate.suites import load_suite_config, parameter_names
from tests.lib.test_record import sample_row

SFT_SUITE = Path(__file__).resolve().parents[1] / "schemas" / "expectations" / "sft.json"
HOSTILE_LICENSE = "MIT <script>alert(1)</script>\n| pwned |"
RULE = ("(a record is Chinese when Han characters are at least 20% of its prose's Han characters and Latin "
        "letters, else English)")


def rows(source: str, texts: list[tuple[str, str]], license_text: str = "CC0-1.0") -> list[dict]:
    return [sample_row() | {"id": f"{source}-{i:016x}", "source": source, "license": license_text,
                            "instruction": q, "output": a} for i, (q, a) in enumerate(texts)]


def build(tmp_path: Path, records: list[dict], suite_params: dict) -> tuple[str, dict]:
    frame = tmp_path / "records.parquet"
    records_frame(records).write_parquet(frame)
    sources = sorted({r["source"] for r in records})
    offered = {"min_rows": 1, "configured_sources": sources, "max_chars": 16000, "chinese_sources": sources,
               **suite_params}
    wanted = parameter_names(load_suite_config(SFT_SUITE))  # the suite refuses parameters it does not use
    assemble([frame], None, tmp_path / "sft", tmp_path / "m.json", AssembleParams(eval_share=0.5), tmp_path / "no.lock",
             SFT_SUITE, tmp_path / "reports", {k: v for k, v in offered.items() if k in wanted})
    card = (tmp_path / "sft" / "README.md").read_text(encoding="utf-8")
    split: dict[str, dict[str, int]] = {}
    for name in ("train", "eval"):
        for line in (tmp_path / "sft" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            counts = split.setdefault(json.loads(line)["source"], {"train": 0, "eval": 0})
            counts[name] += 1
    return card, split


CHINESE = [(f"第{i}个问题：长城有多长？", f"回答{i}：大约两万一千公里。") for i in range(18)]
MMLU = [("Which of the following is a prime number?\nA. 4\nB. 6\nC. 7\nD. 9", "C"),
        ("Which planet is closest to the Sun?\nA. Venus\nB. Mercury\nC. Mars\nD. Earth", "B")]


def test_a_chinese_set_is_described_as_chinese(tmp_path):
    card, split = build(tmp_path, rows("zhihu", CHINESE), {})
    header = DatasetCard.load(tmp_path / "sft" / "README.md").data.to_dict()
    assert header["language"] == ["zh"] and header["pretty_name"] == "Curated Chinese SFT set"
    counts = split["zhihu"]
    assert (f"# Curated Chinese SFT set\n\n## Dataset summary\n\n{counts['train']} training and {counts['eval']} "
            "validation examples (0 of them rule rewrites) of Chinese instruction/answer pairs, built by") in card


def test_english_rows_are_named_with_their_share_and_a_hostile_license_stays_in_its_cell(tmp_path):
    records = rows("zhihu", CHINESE[:17]) + rows("mmlu", MMLU, HOSTILE_LICENSE) + rows("math", [("1 + 1 = ?", "2")])
    card, split = build(tmp_path, records, {"min_zh_share": 0.0})
    loaded = DatasetCard.load(tmp_path / "sft" / "README.md")
    header = loaded.data.to_dict()
    assert header["language"] == ["zh", "en"] and header["pretty_name"] == "Curated Chinese and English SFT set"
    assert header["license"] == "other" and header["size_categories"] == ["n<1K"]
    front = card.split("---\n")[1]
    assert yaml.safe_load(front) == header and front == yaml.safe_dump(header, sort_keys=False, allow_unicode=True)
    train = sum(c["train"] for c in split.values())
    assert (f"# Curated Chinese and English SFT set\n\n## Dataset summary\n\n{train} training and {20 - train} "
            "validation examples (0 of them rule rewrites) of instruction/answer pairs: Chinese 17 (85.0%), "
            f"English 2 (10.0%), 1 with neither Han characters nor Latin letters (5.0%) {RULE}, built by") in card
    mmlu = split["mmlu"]
    assert (f"| mmlu | {mmlu['train']} | {mmlu['eval']} "
            "| MIT &lt;script&gt;alert(1)&lt;/script&gt;<br>\\| pwned \\| |\n") in card
    assert "<script" not in card and "| pwned |" not in card


def test_title_and_description_name_the_languages_most_rows_first():
    assert title({"zh": 5}) == "Curated Chinese SFT set"
    assert pairs_text({"zh": 5}, 5) == "Chinese instruction/answer pairs"
    assert title({"en": 9, "zh": 1}) == "Curated English and Chinese SFT set"
    assert pairs_text({"en": 9, "zh": 1}, 10) == (
        f"instruction/answer pairs: English 9 (90.0%), Chinese 1 (10.0%) {RULE}")
    assert title({}) == "Curated SFT set"
    assert pairs_text({"zh": 4}, 5) == (
        f"instruction/answer pairs: Chinese 4 (80.0%), 1 with neither Han characters nor Latin letters (20.0%) {RULE}")


@pytest.mark.parametrize(("count", "label"), [
    (0, "n<1K"), (999, "n<1K"), (1_000, "1K<n<10K"), (9_999, "1K<n<10K"), (10_000, "10K<n<100K"),
    (99_999, "10K<n<100K"), (100_000, "100K<n<1M"), (999_999, "100K<n<1M"), (1_000_000, "1M<n<10M"),
    (10_000_000, "10M<n<100M"), (99_999_999, "10M<n<100M"), (100_000_000, "100M<n<1B"), (10**9, "1B<n<10B"),
    (10**10, "10B<n<100B"), (10**11, "100B<n<1T"), (10**12 - 1, "100B<n<1T"), (10**12, "n>1T"),
])
def test_size_category_follows_hugging_face_bands(count, label):
    assert size_category(count) == label



def test_the_card_gives_the_share_verified_per_source_and_by_whom(tmp_path):
    """Issue 25: the share reviewed per source and the pseudonymous reviewers, from the review stage's verified_by."""
    records = rows("zhihu", CHINESE[:10]) + rows("exam", CHINESE[10:14])
    frame = tmp_path / "records.parquet"
    by = ["ls-aaaaaaaaaaaa,ls-bbbbbbbbbbbb", "ls-aaaaaaaaaaaa"] + [None] * 12
    records_frame(records).with_columns(pl.Series("verified_by", by),
                                        pl.Series("human_verified", [True, True, True] + [False] * 11)).write_parquet(frame)
    wanted = parameter_names(load_suite_config(SFT_SUITE))
    offered = {"min_rows": 1, "configured_sources": ["exam", "zhihu"], "max_chars": 16000,
               "chinese_sources": ["exam", "zhihu"]}
    assemble([frame], None, tmp_path / "sft", tmp_path / "m.json", AssembleParams(eval_share=0.5), tmp_path / "no.lock",
             SFT_SUITE, tmp_path / "reports", {k: v for k, v in offered.items() if k in wanted})
    card = (tmp_path / "sft" / "README.md").read_text(encoding="utf-8")
    assert "| exam | 4 | 0 (0.0%) | 0 (0.0%) | - |" in card
    assert "| zhihu | 10 | 3 (30.0%) | 2 (20.0%) | ls-aaaaaaaaaaaa (2), ls-bbbbbbbbbbbb (1) |" in card
