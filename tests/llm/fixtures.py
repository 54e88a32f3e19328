"""Fixture records (texts written for these tests) and small helpers shared by the LLM tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from stages.lib.io import write_parquet
from stages.lib.record import make_id, records_frame, sha256_hex

# (source, task major, instruction, input, output)
TEXTS = [
    ("zhihu", "问答", "为什么天空是蓝色的？", "", "阳光穿过大气时，波长较短的蓝光更容易被空气分子散射，这种现象叫瑞利散射，所以我们看到的天空是蓝色的。"),
    ("zhihu", "问答", "新手学编程应该从哪门语言开始？", "", "可以从 Python 开始：语法简洁，资料丰富，能很快写出有用的小程序，之后再学习其他语言会更容易。"),
    ("zhihu", "问答", "为什么冬天手机电量掉得特别快？", "", "锂电池在低温下化学反应变慢，内阻增大，能放出的电量减少，所以手机在寒冷环境里显示的电量下降得更快。"),
    ("exam", "考试", "下列哪种气体在空气中含量最多？", "A. 氧气 B. 氮气 C. 二氧化碳 D. 氩气", "答案是 B。氮气约占空气体积的百分之七十八，是空气中含量最多的气体。"),
    ("exam", "考试", "计算：三加五乘以二等于多少？", "", "先算乘法，五乘以二等于十，再加三，结果是十三。"),
    ("douban", "推荐", "推荐几部适合周末看的温情电影。", "", "可以看《海蒂和爷爷》《寻梦环游记》和《小森林》，节奏舒缓，画面温暖，适合放松心情。"),
    ("douban", "推荐", "有哪些适合入门的科幻小说？", "", "推荐《三体》《火星救援》和《你一生的故事》，它们故事性强，科学设定也容易理解。"),
    ("wiki", "百科", "长城大约有多长？", "", "根据国家文物部门的调查，历代长城的总长度约为两万一千多千米。"),
    ("ruozhiba", "问答", "既然监狱里全是罪犯，警察为什么不去监狱里抓人？", "", ""),
    ("ruozhiba", "问答", "我吃了感冒药，为什么感冒还没把药吃掉？", "", ""),
]


def curated_frame() -> pl.DataFrame:
    rows = []
    for index, (source, major, instruction, input_text, output) in enumerate(TEXTS):
        rows.append({
            "id": make_id(f"{source}_sample", f"{source}.jsonl:{index + 1}"),
            "source": source, "source_uri": f"data/sample/{source}.jsonl:{index + 1}",
            "raw_sha256": sha256_hex(f"{instruction}{output}".encode()), "fetched_at": "2026-11-01",
            "license": "CC0-1.0", "instruction": instruction, "input": input_text, "output": output,
            "task_type": {"major": [major], "minor": []}, "domain": ["通用"], "metadata": "",
            "answer_from": "human", "human_verified": False, "copyright": "", "transforms": ["clean:nfkc"],
        })
    return records_frame(rows)


def write_curated(path: Path) -> Path:
    write_parquet(curated_frame(), path)
    return path


TINY_PARAMS = {"base": "tiny", "seed": 0,
               "tiny": {"vocab_size": 700, "hidden_size": 32, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
                        "intermediate_size": 64, "max_position_embeddings": 1024, "pretrain_steps": 10}}
_TINY: dict[str, Path] = {}


def tiny_model_dir() -> Path:
    """A tiny base model built once per test session from the fixture records (read-only for tests)."""
    if "dir" not in _TINY:
        import tempfile

        import torch

        from stages.llm.base import ModelParams
        from stages.llm.build import build_base_model

        torch.set_num_threads(1)
        root = Path(tempfile.mkdtemp(prefix="tiny-model-"))
        records = write_curated(root / "records.parquet")
        build_base_model(ModelParams.model_validate(TINY_PARAMS), records, root / "base", root / "metrics.json")
        _TINY["dir"] = root / "base"
    return _TINY["dir"]
