"""Benchmark of the `clean` and `normalize` stages on a synthetic corpus.

Generates N records (default 200,000) of about 500 characters each from
sentences written for this benchmark, with the messiness the stages handle
mixed in at fixed rates (HTML, code blocks, PII, zero-width characters,
mojibake, markdown escapes, full-width letters, ASCII punctuation, traditional
script, repetition, English, flagged words). Runs both stages in memory with
the repository's params.yaml, writes their outputs to a temporary directory
(never into data/), and prints MB/s of UTF-8 text per stage and the share of
time per step.

    python bench/clean_normalize.py                 # 200k records
    python bench/clean_normalize.py --records 20000 # quicker
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import click
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages.clean.filters import SCORE_COLUMNS, CleanParams  # noqa: E402
from stages.clean.normalize_text import NormalizeParams  # noqa: E402
from stages.clean.normalizing import normalize_records  # noqa: E402
from stages.clean.records import clean_records  # noqa: E402
from stages.clean.steps import TEXT_FIELDS, StepTimer  # noqa: E402
from stages.lib.contract import write_stage_outputs  # noqa: E402
from stages.lib.params import load_section  # noqa: E402
from stages.lib.record import RECORD_SCHEMA, empty_rejected  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

SENTENCES = [
    "今天我们来聊一聊如何在家里做一顿简单又好吃的晚饭。", "首先要准备好新鲜的蔬菜和适量的调味料。",
    "这个问题的关键在于理解题目给出的条件。", "根据已知条件，我们可以逐步排除错误的选项。",
    "学习编程最重要的是动手实践，而不是只看书。", "遇到报错时，先仔细阅读错误信息，再去搜索解决办法。",
    "城市的夜晚灯火通明，街道上依然有很多行人。", "春天来了，公园里的花都开了，到处都是游客。",
    "医生建议每天保持适量运动，并注意饮食均衡。", "如果症状持续加重，应当及时到医院就诊。",
    "这本书讲述了一个普通人在困境中坚持梦想的故事。", "作者用细腻的笔触描写了人物的内心变化。",
    "从经济学的角度看，供给和需求共同决定了价格。", "政策的调整往往会对市场产生深远的影响。",
    "孩子的好奇心需要得到保护和正确的引导。", "家长应当多花时间陪伴孩子，而不是只关注成绩。",
    "旅行的意义在于看见不同的风景和生活方式。", "出发之前最好提前查好天气和交通情况。",
    "这道菜的做法并不复杂，关键是火候的掌握。", "最后撒上葱花，一道香喷喷的家常菜就完成了。",
    "古人云，学而不思则罔，思而不学则殆。", "读书使人明智，写作使人严谨。",
    "团队合作中，沟通比个人能力更加重要。", "每一次失败都是一次积累经验的机会。",
    "运动员在比赛中展现出了顽强的拼搏精神。", "体育运动不仅能强身健体，还能培养意志。",
    "软件开发需要清晰的需求和良好的测试。", "数据清洗是训练模型之前必不可少的一步。",
    "这款手机的电池续航表现相当不错。", "价格方面，它比同类产品便宜了不少。",
    "下雨天出门记得带伞，路面湿滑要小心。", "周末的菜市场总是特别热闹。", "老师耐心地解答了同学们提出的每一个问题。",
    "这座古镇保留了许多明清时期的建筑。", "面试之前应当充分了解公司的业务。", "合理安排时间可以让工作更有效率。",
    "植物的生长离不开阳光、水分和养分。", "历史告诉我们，改革总会遇到各种阻力。", "这部电影的配乐让人印象深刻。",
    "网络安全问题越来越受到人们的重视。", "长期熬夜会对身体造成不可逆的伤害。", "每个人都有自己擅长的领域。",
    "图书馆里安静得只能听到翻书的声音。", "他用了三年时间才完成这部作品。", "新能源汽车的销量逐年上升。",
    "做实验时一定要严格遵守操作规程。", "这个算法的时间复杂度是线性的。", "良好的睡眠有助于提高记忆力。",
    "山顶的风景比想象中还要壮观。", "在陌生的城市里，地图是最好的帮手。", "节约用水应当从日常的小事做起。",
    "外语学习贵在坚持，每天练习一点点。", "这家餐厅的招牌菜是红烧肉。", "科学研究需要大胆假设、小心求证。",
    "孩子们在操场上尽情地奔跑。", "传统节日承载着丰富的文化内涵。", "保持好奇心是终身学习的动力。",
    "冬天的早晨，湖面上结了一层薄冰。", "写作时要注意段落之间的衔接。", "他把复杂的问题讲得通俗易懂。",
]
QUESTIONS = [
    "请写一篇关于{}的短文。", "{}应该注意哪些问题？", "如何理解{}？", "请简要介绍一下{}。",
    "为什么说{}很重要？", "能否谈谈你对{}的看法？",
]
TOPICS = ["家常菜", "编程学习", "城市生活", "健康饮食", "阅读", "经济政策", "亲子教育", "旅行", "团队合作",
          "体育运动", "软件测试", "数据清洗", "手机选购"]
ENGLISH = "This answer is written in English and explains the idea in a few plain sentences. "
CODE = "```python\ndef add(a, b):\n    # 两数相加\n    return a + b\n\nprint(add(1, 2))\n```"
HTML = ("<p>第一段文字&nbsp;说明</p><pre><code>if (a &lt; b) { run(); }</code></pre>"
        "<p>用 <code>&lt;div&gt;</code> 包裹</p>")
PII = ["联系电话13812345678。", "邮箱 someone@example.com。", "身份证号11010519491231002X。",
       "卡号4111 1111 1111 1111。", "接口 https://api.example.com/v1?user=1&access_token=abc123XYZ 可用。"]
SOURCES = ["zhihu", "wiki", "segmentfault", "chinese_traditional", "xhs", "exam", "ruozhiba", "douban"]
WEIGHTS = [30, 15, 10, 10, 10, 10, 5, 10]


def make_output(rng: random.Random, sentences: list[str], source: str) -> str:
    parts = rng.sample(sentences, k=28)
    roll = rng.random()
    if source == "segmentfault" or roll < 0.02:
        parts.insert(rng.randrange(len(parts)), "\n" + CODE + "\n")
    if roll < 0.05:
        parts.insert(0, HTML)
    if 0.05 <= roll < 0.10:
        parts.insert(rng.randrange(len(parts)), rng.choice(PII))
    if 0.10 <= roll < 0.13:
        parts.insert(1, "注意\u200b这里\u200d的格式\ufeff。")
    if 0.13 <= roll < 0.14:
        parts.insert(1, "乱码示例：中文测试数据。".encode("utf-8").decode("latin-1"))
    if 0.14 <= roll < 0.17:
        parts.insert(1, "\n1\\. 第一步\n2\\. 第二步\n")
    if 0.17 <= roll < 0.20:
        parts.insert(1, "使用ＡＰＩ和１２３号接口")
    if 0.20 <= roll < 0.30:
        parts.insert(1, "首先,我们需要确认问题;然后:分析原因!")
    if 0.30 <= roll < 0.31:
        parts = ["哈哈哈哈哈哈哈哈哈哈"] * 20
    if 0.31 <= roll < 0.32:
        parts = [ENGLISH] * 5
    if 0.32 <= roll < 0.325:
        parts.insert(1, "加微信领取，代开发票，刷单返利。")
    return "\n".join(["".join(parts[i:i + 7]) for i in range(0, len(parts), 7)])


def synthetic_records(n: int, seed: int = 7) -> pl.DataFrame:
    import opencc

    rng = random.Random(seed)
    traditional = [opencc.OpenCC("s2t.json").convert(s) for s in SENTENCES]
    columns: dict[str, list] = {name: [] for name in ("id", "source", "instruction", "output")}
    for index in range(n):
        source = rng.choices(SOURCES, WEIGHTS)[0]
        bank = traditional if source == "chinese_traditional" else SENTENCES
        columns["id"].append(f"{source}-{index:016x}")
        columns["source"].append(source)
        columns["instruction"].append(rng.choice(QUESTIONS).format(rng.choice(TOPICS)))
        columns["output"].append("" if source == "ruozhiba" else make_output(rng, bank, source))
    frame = pl.DataFrame(columns)
    return frame.with_columns(
        pl.lit("synthetic").alias("source_uri"), pl.lit("0" * 64).alias("raw_sha256"),
        pl.lit(None, pl.String).alias("fetched_at"), pl.lit("CC0-1.0").alias("license"), pl.lit("").alias("input"),
        pl.lit({"major": ["问答"], "minor": ["合成"]}, dtype=RECORD_SCHEMA["task_type"]).alias("task_type"),
        pl.lit(["通用"], dtype=pl.List(pl.String)).alias("domain"), pl.lit("").alias("metadata"),
        pl.lit("human").alias("answer_from"), pl.lit(False).alias("human_verified"), pl.lit("").alias("copyright"),
        pl.lit([], dtype=pl.List(pl.String)).alias("transforms"),
    ).select(RECORD_SCHEMA.names()).cast(dict(RECORD_SCHEMA))


def text_mb(frame: pl.DataFrame) -> float:
    return frame.select(pl.sum_horizontal(pl.col(n).str.len_bytes().sum() for n in TEXT_FIELDS)).item() / 1e6


def report(stage: str, mb: float, timer: StepTimer, wall: float) -> None:
    """MB/s over the stage's wall time; per step its wall seconds, their share, and its CPU seconds
    (all threads of the process: polars runs some expressions on both cores)."""
    total = sum(timer.seconds.values())
    cpu = sum(timer.cpu.values())
    print(f"\n{stage}: {mb:.1f} MB in {wall:.2f} s = {mb / wall:.1f} MB/s ({cpu:.1f} CPU s in the steps)")
    print(f"  {'step':28s} {'wall s':>7s}  {'share':>6s}  {'CPU s':>6s}")
    for step, secs in sorted(timer.seconds.items(), key=lambda item: -item[1]):
        print(f"  {step:28s} {secs:7.2f}  {100 * secs / total:5.1f}%  {timer.cpu.get(step, 0.0):6.2f}")


@click.command()
@click.option("--records", "n", default=200_000, show_default=True, help="Synthetic records to generate.")
@click.option("--params", "params_path", default=str(ROOT / "params.yaml"), show_default=True)
def main(n: int, params_path: str) -> None:
    started = time.perf_counter()
    records = synthetic_records(n)
    mb_in = text_mb(records)
    print(f"generated {n} records, {mb_in:.1f} MB of UTF-8 text ({mb_in * 1e6 / n:.0f} bytes, "
          f"{records.select(pl.sum_horizontal(pl.col(c).str.len_chars() for c in TEXT_FIELDS).mean()).item():.0f} "
          f"characters per record) in {time.perf_counter() - started:.1f} s")
    clean_settings = load_section("clean", params_path, CleanParams)
    norm_settings = load_section("normalize", params_path, NormalizeParams)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        timer = StepTimer()
        kept, rejected, _ = clean_records(records, clean_settings, timer)
        with timer.step("write outputs"):
            write_stage_outputs("clean", Path(tmp) / "clean", Path(tmp) / "clean.json", kept=kept,
                                rejected=rejected, rows_in=records.height, started=started, extra_columns=SCORE_COLUMNS)
        clean_wall = time.perf_counter() - started
        report("clean", mb_in, timer, clean_wall)
        print(f"  kept {kept.height}, rejected {rejected.height}: "
              f"{dict(rejected.group_by('reason').len().sort('reason').iter_rows())}")
        started = time.perf_counter()
        timer = StepTimer()
        normalised, _ = normalize_records(kept, norm_settings, timer)
        no_rows = empty_rejected().with_columns(pl.lit(None, dtype=kept.schema[c]).alias(c) for c in SCORE_COLUMNS)
        with timer.step("write outputs"):
            write_stage_outputs("normalize", Path(tmp) / "normalize", Path(tmp) / "normalize.json", kept=normalised,
                                rejected=no_rows, rows_in=kept.height, started=started, extra_columns=SCORE_COLUMNS)
        norm_wall = time.perf_counter() - started
        report("normalize", text_mb(kept), timer, norm_wall)
    print(f"\nclean + normalize: {mb_in:.1f} MB in {clean_wall + norm_wall:.2f} s = "
          f"{mb_in / (clean_wall + norm_wall):.1f} MB/s")


if __name__ == "__main__":
    main()
