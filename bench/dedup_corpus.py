"""Labelled corpus for the dedup benchmark: base documents plus planted variants with known edits.

Bases are generated (about 500 characters: a prompt from a few templates and an
answer drawn from a Chinese character distribution) plus, when present, the real
COIG-CQIA records under ../shared/data/coig-cqia-sample (read, never copied into
the repository). About 30% of the documents are variants of a random base, made
with one kind of edit at a random rate:
  substitute / insert / delete / mixed   character edits at rate 0-6%
  reorder        sentences shuffled
  punct          a share of the punctuation switched between full- and half-width
  boilerplate    a stock sentence or two added before or after
  template       the same answer under another prompt
  exact          an identical copy
The label table says which base each variant came from, the edit kind and rate.
Ground truth is not these labels but the exact Jaccard of shingle sets (bench/dedup.py).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

from stages.lib.record import RECORD_SCHEMA, TASK_TYPE

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coig-cqia-sample"
TEMPLATES = ["请回答下面的问题。", "请根据以下内容写一段回答：", "用中文详细解释下面的内容。", "简要回答：", "你是一个乐于助人的助手，请回答用户的问题。",
             "阅读下面的文字，然后给出你的看法。", "请写一篇短文。", "下面是一段描述，请续写。"]
BOILERPLATE = ["以下是我的回答：", "希望对你有帮助！", "如有疑问，欢迎在评论区留言讨论。", "本回答仅供参考，不构成任何专业建议。",
               "作者保留所有权利，转载请注明出处。谢谢大家的支持，欢迎关注我的专栏，获取更多相关内容和最新动态。"]
PUNCT_SWAP = {"，": ",", "。": ".", "！": "!", "？": "?", "；": ";", "：": ":", ",": "，", ".": "。", "!": "！", "?": "？"}
KINDS = ["substitute", "insert", "delete", "mixed", "reorder", "punct", "boilerplate", "template", "exact"]
FALLBACK_HANZI = ("的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好"
                  "看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知"
                  "世什两次使身者被高已亲其进此话常与活正感见明问力理尔点文几定本公特做外孩相西果走将月十实向声车全信重三机工物气每并别真")


def shared_rows() -> list[dict]:
    """The real COIG-CQIA sample records, when ../shared/data is present."""
    rows: list[dict] = []
    for path in sorted(SHARED.glob("*.jsonl")) if SHARED.is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                rows.append({k: str(obj.get(k) or "") for k in ("instruction", "input", "output")})
    return rows


def char_distribution(real: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Code points and probabilities: CJK characters of the real sample (if any) mixed with a fixed list."""
    counts = Counter(ch for row in real for ch in row["output"] if "\u4e00" <= ch <= "\u9fff")
    for ch in FALLBACK_HANZI:
        counts[ch] += 3
    chars = np.array([ord(c) for c in sorted(counts)], dtype=np.uint32)
    weights = np.array([counts[c] for c in sorted(counts)], dtype=np.float64)
    return chars, weights / weights.sum()


def generated_texts(n: int, rng: np.random.Generator, chars: np.ndarray, probs: np.ndarray) -> list[str]:
    """n answers of 440-520 characters, a punctuation mark every 15 characters on average."""
    texts: list[str] = []
    for lo in range(0, n, 20_000):  # blocks keep the temporaries small at 1M documents
        texts.extend(_generated_block(min(20_000, n - lo), rng, chars, probs))
    return texts


def _generated_block(n: int, rng: np.random.Generator, chars: np.ndarray, probs: np.ndarray) -> list[str]:
    lengths = rng.integers(440, 521, n)
    flat = rng.choice(chars, size=int(lengths.sum()), p=probs).astype("<u4")
    punct = rng.random(flat.size) < 1 / 15
    flat[punct] = rng.choice(np.array([ord(c) for c in "，，，。。！？；"], dtype="<u4"), size=int(punct.sum()))
    text = flat.tobytes().decode("utf-32-le")
    ends = np.cumsum(lengths)
    return [text[e - n_ : e] for e, n_ in zip(ends.tolist(), lengths.tolist())]


def edit_chars(text: str, rate: float, kinds: str, rng: random.Random, pool: str) -> str:
    """Apply about rate*len edits, each one of `kinds` (s=substitute, i=insert, d=delete)."""
    chars = list(text)
    for _ in range(max(1, round(rate * len(text)))):
        pos = rng.randrange(len(chars)) if chars else 0
        kind = rng.choice(kinds)
        if kind == "i" or not chars:
            chars.insert(pos, rng.choice(pool))
        elif kind == "d":
            del chars[pos]
        else:
            chars[pos] = rng.choice(pool)
    return "".join(chars)


def make_variant(base: dict, kind: str, rng: random.Random, pool: str) -> tuple[dict, float]:
    """One planted variant of `base` and its edit rate (0 where the kind has none)."""
    out, rate = dict(base), 0.0
    text = base["output"]
    if kind in ("substitute", "insert", "delete", "mixed"):
        rate = rng.uniform(0.0, 0.06)
        out["output"] = edit_chars(text, rate, {"substitute": "s", "insert": "i", "delete": "d"}.get(kind, "sid"), rng,
                                   pool)
    elif kind == "reorder":
        parts = [p for p in re.split(r"(?<=[。！？])", text) if p]
        rng.shuffle(parts)
        out["output"] = "".join(parts)
    elif kind == "punct":
        rate = rng.uniform(0.1, 1.0)
        out["output"] = "".join(PUNCT_SWAP[c] if c in PUNCT_SWAP and rng.random() < rate else c for c in text)
    elif kind == "boilerplate":
        extra = "".join(rng.sample(BOILERPLATE, rng.randint(1, 2)))
        out["output"] = extra + text if rng.random() < 0.5 else text + extra
    elif kind == "template":
        out["instruction"] = rng.choice([t for t in TEMPLATES if t != base["instruction"]] or TEMPLATES)
    return out, rate


def build_corpus(n_docs: int, seed: int = 0, variant_share: float = 0.3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records with RECORD_SCHEMA, labels: id, family, kind, rate) for n_docs documents."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    real = shared_rows()[: n_docs // 4]
    chars, probs = char_distribution(real)
    pool = "".join(chr(c) for c in chars.tolist())
    n_variants = round(n_docs * variant_share)
    n_generated = n_docs - n_variants - len(real)
    bases = real + [{"instruction": rng.choice(TEMPLATES), "input": "", "output": text}
                    for text in generated_texts(n_generated, nrng, chars, probs)]
    labels = [(f"b{i:07d}", f"b{i:07d}", "base", 0.0) for i in range(len(bases))]
    docs = list(bases)
    for v in range(n_variants):
        family = rng.randrange(len(bases))
        kind = rng.choice(KINDS)
        variant, rate = make_variant(bases[family], kind, rng, pool)
        docs.append(variant)
        labels.append((f"v{v:07d}", f"b{family:07d}", kind, rate))
    label_frame = pl.DataFrame(labels, schema={"id": pl.String, "family": pl.String, "kind": pl.String,
                                               "rate": pl.Float64}, orient="row")
    columns = {name: [doc[name] for doc in docs] for name in ("instruction", "input", "output")}
    records = pl.DataFrame({"id": label_frame["id"], **columns,
                            "answer_from": nrng.choice(["human", "llm"], size=len(docs)),
                            "human_verified": nrng.random(len(docs)) < 0.1}).with_columns(
        source=pl.lit("bench"), source_uri=pl.format("bench:{}", "id"), raw_sha256=pl.lit(""),
        fetched_at=pl.lit(None, dtype=pl.String), license=pl.lit("bench"),
        task_type=pl.lit({"major": [], "minor": []}, dtype=TASK_TYPE), domain=pl.lit([], dtype=pl.List(pl.String)),
        metadata=pl.lit(""), copyright=pl.lit(""), transforms=pl.lit([], dtype=pl.List(pl.String)),
    )
    return records.select(RECORD_SCHEMA.names()), label_frame
