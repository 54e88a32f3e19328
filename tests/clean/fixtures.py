"""Record builders and small runners shared by the cleaning tests (texts written for the tests)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import polars as pl

from stages.clean.filters import CleanParams
from stages.clean.steps import TEXT_FIELDS, StepTimer
from stages.clean.texts import clean_texts
from stages.lib.params import parse_section
from stages.lib.record import make_id, records_frame

# A normal Chinese answer, long enough for every filter to judge it.
PROSE = ("数据清洗是训练模型之前必不可少的一步。我们先修复文本中的格式问题，再去掉个人信息，"
         "最后按照长度、语言和重复程度筛选记录。")

CLEAN_PARAMS: dict[str, Any] = {
    "langid": {"max_chars": 256, "chinese_labels": ["zh", "yue", "wuu"], "han_share_chinese": 0.6,
               "han_share_other": 0.1},
    "repetition": {"chunk_chars": 10, "window_chars": 400},
    "defaults": {
        "min_chars": 4, "max_chars": 2000, "allow_empty_output": False, "min_chinese": 0.5, "lang_min_chars": 10,
        "max_char_rep": 0.3, "max_line_rep": 0.3, "max_flagged_words": 0,
    },
    "by_source": {"ruozhiba": {"allow_empty_output": True, "min_chars": 2}},
}


def clean_params(**defaults: Any) -> dict[str, Any]:
    params = copy.deepcopy(CLEAN_PARAMS)
    params["defaults"].update(defaults)
    return params


def settings(**defaults: Any) -> CleanParams:
    return parse_section(CleanParams, clean_params(**defaults), "clean")


def sources_params(names: list[str]) -> dict[str, Any]:
    """A `sources` section for scrape folders named like the real ones: `cqia_<subset>`, `ruozhiba_<dump>`."""
    def subset(name: str) -> str:
        return "ruozhiba" if name.startswith("ruozhiba") else name.removeprefix("cqia_")

    return {name: {"kind": "cqia_jsonl", "path": "x", "subset": subset(name)} for name in names}


def row(key: str, instruction: str, output: str = PROSE, source: str = "zhihu", **fields: Any) -> dict[str, Any]:
    base = {
        "id": make_id("test_" + source, key), "source": source, "source_uri": f"test/{source}.jsonl:{key}",
        "raw_sha256": "0" * 64, "fetched_at": "2026-11-01", "license": "CC0-1.0", "instruction": instruction,
        "input": "", "output": output, "task_type": {"major": ["问答"], "minor": ["测试"]}, "domain": ["通用"],
        "metadata": "", "answer_from": "human", "human_verified": False, "copyright": "", "transforms": [],
    }
    return base | fields


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return records_frame(list(rows))


def clean_one(text: str) -> tuple[str, list[str]]:
    """Clean one text (as an instruction); return it and the transforms tags it earned."""
    texts = pl.DataFrame({"instruction": [text], "input": [""], "output": [""]})
    cleaned = clean_texts(texts.select(TEXT_FIELDS), StepTimer())
    tags = cleaned.log.append_to(pl.Series([[]], dtype=pl.List(pl.String))).to_list()[0]
    return cleaned.texts["instruction"][0], tags


def clean_many(texts: list[str]) -> tuple[list[str], list[list[str]], dict[str, int]]:
    frame_ = pl.DataFrame({"instruction": texts, "input": [""] * len(texts), "output": [""] * len(texts)})
    cleaned = clean_texts(frame_, StepTimer())
    tags = cleaned.log.append_to(pl.Series([[]] * len(texts), dtype=pl.List(pl.String))).to_list()
    return cleaned.texts["instruction"].to_list(), tags, cleaned.pii_counts


class FakeModel:
    """Stands in for a fastText model: fixed labels and probabilities for every text."""

    def __init__(self, labels, probs):
        self.labels, self.probs = tuple(labels), np.array(probs)

    def predict(self, texts, k=1):
        return [self.labels] * len(texts), [self.probs] * len(texts)
