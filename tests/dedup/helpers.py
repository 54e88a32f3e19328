"""Small synthetic Chinese corpora for the dedup tests (written here, no external data)."""

from __future__ import annotations

import random

import polars as pl

from stages.lib.record import records_frame

# Common characters and punctuation, so texts look like Chinese prose to the shingler.
HANZI = ("的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学"
         "么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老"
         "因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感见明问力理尔点文几定本公特做外孩相西果走将月十实向声车全")
PUNCT = "，。！？；"


def random_text(rng: random.Random, length: int) -> str:
    """`length` characters of random hanzi with a punctuation mark every 8 to 20 characters."""
    out: list[str] = []
    while len(out) < length:
        out.extend(rng.choices(HANZI, k=rng.randint(8, 20)))
        out.append(rng.choice(PUNCT))
    return "".join(out[:length])


def substitute(text: str, rate: float, rng: random.Random) -> str:
    """Replace about `rate` of the characters with random hanzi."""
    chars = list(text)
    for i in rng.sample(range(len(chars)), k=max(1, round(rate * len(chars)))):
        chars[i] = rng.choice(HANZI)
    return "".join(chars)


def record(rid: str, output: str, *, instruction: str = "请回答下面的问题。", human_verified: bool | None = False,
           answer_from: str | None = "llm", transforms: list[str] | None = None) -> dict:
    return {
        "id": rid, "source": "test", "source_uri": f"test.jsonl:{rid}", "raw_sha256": "0" * 64,
        "fetched_at": "2026-11-01", "license": "CC0-1.0", "instruction": instruction, "input": "", "output": output,
        "task_type": {"major": ["问答"], "minor": []}, "domain": ["通用"], "metadata": "", "answer_from": answer_from,
        "human_verified": human_verified, "copyright": "", "transforms": transforms or [],
    }


def frame(rows: list[dict]) -> pl.DataFrame:
    return records_frame(rows)


def reference_shingles(text: str, n: int) -> list[str]:
    """Shingles the slow, obvious way: every n-gram, or the whole text when it is shorter."""
    if len(text) >= n:
        return [text[i : i + n] for i in range(len(text) - n + 1)]
    return [text] if text else []


def reference_jaccard(a: str, b: str, n: int) -> float:
    """Exact Jaccard similarity of two texts' shingle sets (the ground truth)."""
    sa, sb = set(reference_shingles(a, n)), set(reference_shingles(b, n))
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0
