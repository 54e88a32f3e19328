"""The near-duplicate decision exists once (`decision.near_pairs`) and both paths reach it: the stage's
(`plan.make_plan`: sets spilled to a work file and read back a chunk of pairs at a time) and the
in-memory one (`near.find_near_duplicates`, the core bench/dedup_core.py times). One test runs both on
the same records and asserts the same pairs, keepers and similarities, bit for bit."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest

from stages.dedup import near, store
from stages.dedup.config import DedupParams
from stages.dedup.keeper import priority_keys, priority_rank
from stages.dedup.near import find_near_duplicates
from stages.dedup.plan import make_plan
from stages.dedup.shingles import dedup_text
from stages.dedup.source import FrameRecords
from tests.dedup.helpers import frame, random_text, record, substitute

TEMPLATE = ("请判断下面这段来自手机银行的客户留言的意图，并从以下类别中选择一个：冻结账户、修改地址、缴纳账单、查询余额、"
            "挂失补卡、境外消费、转账限额、贷款咨询、开通网银、注销账户。请只输出类别，不要解释。留言：")


def corpus() -> pl.DataFrame:
    """Families of near copies at several distances (chains among them), a shared task template with
    different and with equal labels, near copies whose answers are both empty, and empty texts."""
    rng = random.Random(23)
    rows = []
    for i in range(40):
        base = random_text(rng, rng.randint(60, 400))
        rows.append(record(f"f{i:02d}", base, answer_from=rng.choice(["human", "llm"]),
                           human_verified=rng.random() < 0.1))
        copies = [base]
        for _ in range(rng.randint(0, 4)):  # each copy drifts from the previous one: chains A ~ B ~ C
            copies.append(substitute(copies[-1], rng.choice([0.005, 0.01, 0.02, 0.04, 0.3]), rng))
        rows += [record(f"f{i:02d}-{k}", text, answer_from=rng.choice(["human", "llm"]))
                 for k, text in enumerate(t for t in dict.fromkeys(copies[1:]) if t != base)]
    rows += [record("t-1", "冻结账户", instruction=TEMPLATE + "卡冻结"),
             record("t-2", "修改地址", instruction=TEMPLATE + "改地址"),  # other label: not a duplicate of t-1
             record("t-3", "冻结账户", instruction=TEMPLATE + "卡冻结吧"),  # same label: a duplicate of t-1
             record("e-1", "", instruction=TEMPLATE + "没有回答的一条留言"),
             record("e-2", "", instruction=TEMPLATE + "没有回答的一条留言。"),  # both answers empty: duplicates
             record("z-1", "", instruction=""), record("z-2", "", instruction="")]  # empty texts: never compared
    return frame(rows).sort("id")


def in_memory(records: pl.DataFrame, params: DedupParams):
    """find_near_duplicates over the records' texts in priority order; returns it and the priority order."""
    prio = priority_keys(records)
    order = np.argsort(priority_rank(prio["verified"].to_numpy(), prio["human"].to_numpy(),
                                     prio["output_chars"].to_numpy()))
    ordered = records[order]
    texts = ordered.select(dedup_text(params.fields)).to_series()
    answers = ordered.select(dedup_text(("output",))).to_series()
    return find_near_duplicates(texts, params, answers), order


@pytest.mark.parametrize("verify", ["exact", "estimate"])
@pytest.mark.parametrize("answer_threshold", [0.5, None])
def test_the_stage_and_the_in_memory_path_decide_the_same(tmp_path, monkeypatch, verify, answer_threshold):
    monkeypatch.setattr(store, "CHUNK_PAIRS", 7)  # the stage verifies its pairs in many chunks
    monkeypatch.setattr(near, "SET_DOCS", 5)  # and the in-memory path builds its sets a few texts at a time
    params = DedupParams(verify=verify, answer_threshold=answer_threshold, batch_size=16)
    records = corpus()
    texts = records.select(dedup_text(params.fields)).filter(pl.col("text") != "").to_series()
    assert texts.n_unique() == texts.len()  # no exact copies: every record with text is compared
    plan = make_plan(FrameRecords(records), params, tmp_path)
    ref, order = in_memory(records, params)

    row_a, row_b, jaccard = plan.pairs
    assert np.array_equal(row_a, order[ref.left]) and np.array_equal(row_b, order[ref.right])
    assert np.array_equal(jaccard, ref.jaccard)
    rank = np.argsort(order)
    assert np.array_equal(plan.keeper, order[ref.keeper[rank]])
    assert np.array_equal(plan.jaccard, ref.jaccard_to_keeper[rank])
    assert plan.stats["candidate_pairs"] == ref.candidates > plan.stats["verified_pairs"] == ref.left.size

    # the cases the decision has to get right happen here, on both paths
    ids = records["id"].to_list()
    pairs = {frozenset((ids[a], ids[b])) for a, b in zip(row_a, row_b)}
    assert frozenset(("t-1", "t-3")) in pairs and frozenset(("e-1", "e-2")) in pairs
    assert (frozenset(("t-1", "t-2")) in pairs) == (answer_threshold is None)
    assert not any(pair & {"z-1", "z-2"} for pair in pairs)
    assert (plan.jaccard < params.threshold).any()  # a chain: a member below the threshold to its keeper
