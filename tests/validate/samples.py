"""A small clean sample of canonical records (written for these tests), and its SFT form.

Every record passes the `records`, `rewrites` and `sft` suites; tests break one
invariant at a time on a copy.
"""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl

from stages.lib.record import make_id, records_frame
from stages.validate.derived import MESSAGES

SOURCES = ["zhihu", "douban", "wiki", "exam", "segmentfault", "ruozhiba", "human_value", "chinese_traditional"]

QA: list[tuple[str, str, str, str]] = [
    ("zhihu", "为什么秋天的树叶会变黄？", "",
     "秋天气温下降、日照变短，叶绿素分解得比合成得快，原本被遮住的胡萝卜素和叶黄素就显现出来，所以叶子变黄。"),
    ("zhihu", "新手学习做饭应该从哪里开始？", "",
     "先学会几道家常菜，比如番茄炒蛋和青椒肉丝，掌握火候和调味，再慢慢尝试炖菜和烘焙。"),
    ("douban", "用一句话介绍电影《活着》。", "",
     "影片讲述了福贵一家在几十年时代变迁中的悲欢离合，表现了普通人坚韧地活下去的力量。"),
    ("wiki", "请简要介绍长城。", "",
     "长城是中国古代修建的军事防御工程，东起山海关，西至嘉峪关，全长两万多千米，是世界文化遗产。"),
    ("exam", "计算：12 乘以 15 等于多少？", "",
     "12 乘以 15 等于 180。可以先算 10 乘以 15 得 150，再加上 2 乘以 15 得 30，合计 180。"),
    ("exam", "下列哪个城市是中国的首都？", "A. 上海 B. 北京 C. 广州 D. 深圳",
     "答案是 B。北京是中华人民共和国的首都，也是全国的政治和文化中心。"),
    ("segmentfault", "JavaScript 中如何判断一个变量是数组？", "",
     "可以使用 `Array.isArray(value)`，它比 `instanceof` 更可靠：\n```js\nconst ok = Array.isArray([1, 2]);\n"
     "document.body.innerHTML = '<div>' + ok + '</div>';\n```\n跨窗口的数组也能正确判断。"),
    ("ruozhiba", "既然监狱里全是罪犯，警察为什么不去监狱抓人？", "",
     "监狱里的人已经被依法判刑并在服刑，警察的任务是抓捕尚未归案的嫌疑人，所以不需要再去监狱抓人。"),
    ("ruozhiba", "我的影子为什么总是跟着我？", "", ""),
    ("human_value", "朋友向我借钱却迟迟不还，我该怎么办？", "",
     "可以先心平气和地沟通，了解对方的困难，约定还款时间；如果对方一直回避，再考虑通过书面约定等方式保护自己的权益。"),
    ("chinese_traditional", "“宫商角徵羽”指的是什么？", "",
     "宫商角徵羽是中国古代的五声音阶，相当于简谱中的 1、2、3、5、6。"),
    ("wiki", "什么是光合作用？", "",
     "光合作用是绿色植物利用光能，把二氧化碳和水转化为有机物并释放氧气的过程。"),
]


def record(index: int, source: str, instruction: str, input_: str, output: str) -> dict[str, Any]:
    key = f"{source}.jsonl:{index + 1}"
    return {
        "id": make_id(source, key),
        "source": source,
        "source_uri": f"data/sample/{key}",
        "raw_sha256": hashlib.sha256(f"{instruction}{output}".encode()).hexdigest(),
        "fetched_at": "2026-11-01",
        "license": "CC0-1.0 (written for tests)",
        "instruction": instruction,
        "input": input_,
        "output": output,
        "task_type": {"major": ["问答"], "minor": [f"{source}问答"]},
        "domain": ["通用"],
        "metadata": "",
        "answer_from": "human" if index % 3 else "llm",
        "human_verified": index % 2 == 0,
        "copyright": "",
        "transforms": ["opencc:t2s"] if source == "chinese_traditional" else [],
    }


def english_rows(count: int) -> pl.DataFrame:
    """`count` English MMLU-style records of source `mmlu` (written for the tests)."""
    rows = [record(100 + i, "mmlu", f"Which planet is number {i + 1} from the sun? A. Mercury B. Venus C. Earth",
                   "", "C. Earth is the third planet from the sun.") for i in range(count)]
    return records_frame(rows).sort("id")


def sample_records() -> pl.DataFrame:
    """12 records, sorted by id; one ruozhiba record has no answer yet (as before the rewrite stage)."""
    rows = [record(i, *qa) for i, qa in enumerate(QA)]
    return records_frame(rows).sort("id")


def sample_rewrites() -> pl.DataFrame:
    """The sample after the rewrite stage: every record has an answer."""
    return sample_records().with_columns(
        pl.when(pl.col("output") == "").then(pl.lit("影子是光被你挡住后留下的暗区，你走到哪里就挡到哪里，所以它一直跟着你。"))
        .otherwise(pl.col("output")).alias("output")
    )


def sample_sft() -> pl.DataFrame:
    """The rewrites as chat examples: messages plus a train/eval split (two eval rows)."""
    frame = sample_rewrites()
    user = pl.when(pl.col("input") == "").then(pl.col("instruction")).otherwise(
        pl.concat_str([pl.col("instruction"), pl.col("input")], separator="\n"))
    messages = pl.concat_list(
        pl.struct(pl.lit("user").alias("role"), user.alias("content")),
        pl.struct(pl.lit("assistant").alias("role"), pl.col("output").alias("content")),
    )
    split = pl.when(pl.int_range(pl.len()) % 6 == 0).then(pl.lit("eval")).otherwise(pl.lit("train"))
    return frame.with_columns(messages.cast(MESSAGES).alias("messages"), split.alias("split"))


MAX_CHARS = 16000  # the suites' `max_chars` in these tests: clean.defaults.max_chars of `clean_section`


def parameters(frame: pl.DataFrame) -> dict[str, Any]:
    return {"min_rows": frame.height, "configured_sources": SOURCES, "max_chars": MAX_CHARS, "chinese_sources": SOURCES}


def clean_section(**by_source: dict[str, Any]) -> dict[str, Any]:
    """A `params.yaml: clean` section (the shipped defaults' shape) whose `by_source` overrides are given."""
    defaults = {"min_chars": 4, "max_chars": MAX_CHARS, "allow_empty_output": False, "min_chinese": 0.5,
                "lang_min_chars": 10, "max_char_rep": 0.3, "max_line_rep": 0.3, "max_flagged_words": 0}
    return {"langid": {"han_share_chinese": 0.6, "han_share_other": 0.1, "max_chars": 200, "chinese_labels": ["zh"]},
            "repetition": {"chunk_chars": 10, "window_chars": 400}, "defaults": defaults, "by_source": by_source}

