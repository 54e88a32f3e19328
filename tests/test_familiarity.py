"""Stage `familiarity`: answer-only perplexity and IFD (checked by hand), batching, the filter, the summaries."""

from __future__ import annotations

import copy
import json
import math

import polars as pl
import pytest
import torch
import yaml
from click.testing import CliRunner

from stages.familiarity import cli
from stages.lib.params import parse_section
from stages.llm.base import load_model, read_model_dir
from stages.llm.columns import EXTRA
from stages.llm.familiarity import EXTRA_COLUMNS, run_familiarity
from stages.llm.perplexity import FamiliarityParams, alone_context, answer_perplexities, encode_pair
from stages.llm import scorer
from stages.llm.scorer import continuation_logprobs, pad_id_of, picked_logprobs
from tests.clean.fixtures import sources_params
from tests.llm.fixtures import curated_frame, tiny_model_dir, write_curated

# the fixture records' subsets (familiarity.sources must name configured ones)
SOURCES = sources_params(["cqia_douban", "cqia_exam", "cqia_wiki", "cqia_zhihu", "ruozhiba_good"])


def familiarity_params(raw) -> FamiliarityParams:
    return parse_section(FamiliarityParams, raw, "params.yaml: familiarity",
                         {"subsets": ["douban", "exam", "ruozhiba", "wiki", "zhihu"]})


def write_params(path, familiarity: dict):
    path.write_text(yaml.safe_dump({"familiarity": familiarity, "sources": SOURCES}), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def loaded():
    return load_model(read_model_dir(tiny_model_dir()))


def test_perplexity_matches_a_hand_computation_from_the_logits(loaded):
    model, tokenizer = loaded
    instruction, output = "为什么天空是蓝色的？", "因为空气分子更容易散射蓝光。"
    prompt_text = tokenizer.apply_chat_template([{"role": "user", "content": instruction}], tokenize=False,
                                                add_generation_prompt=True)
    prompt = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    answer = tokenizer(output, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + answer])).logits[0]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    picked = [logprobs[len(prompt) + k - 1, token].item() for k, token in enumerate(answer)]
    by_hand = math.exp(-sum(picked) / len(answer))
    rows = [("长城大约有多长？", "", "两万多千米，" * 30), (instruction, "", output), ("空", "", "")]
    scores = answer_perplexities(model, tokenizer, rows, batch_size=3, max_length=512)
    assert scores[1].tokens == len(answer)
    assert scores[1].ppl == pytest.approx(by_hand, rel=1e-4)
    assert scores[2].ppl is None and scores[2].tokens == 0


def test_prompt_tokens_are_context_not_scored(loaded):
    model, tokenizer = loaded
    short = answer_perplexities(model, tokenizer, [("问", "", "答案是十三。")], 1, 512)[0]
    long = answer_perplexities(model, tokenizer, [("问" * 40, "补充说明", "答案是十三。")], 1, 512)[0]
    assert short.tokens == long.tokens and short.ppl != long.ppl


def test_truncation_keeps_the_start_of_the_answer_within_max_length(loaded):
    _, tokenizer = loaded
    prompt, answer, truncated = encode_pair(tokenizer, "问题" * 50, "", "回答很长。" * 100, max_length=64)
    assert truncated and len(prompt) + len(answer) == 64 and len(answer) >= 32
    full = tokenizer("回答很长。" * 100, add_special_tokens=False)["input_ids"]
    assert answer == full[: len(answer)]


def mean_nll_by_hand(model, context: list[int], answer: list[int]) -> float:
    """Mean negative log-likelihood of `answer` after `context`: one unpadded sequence, full logits."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([context + answer])).logits[0]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    return -sum(logprobs[len(context) + k - 1, token].item() for k, token in enumerate(answer)) / len(answer)


def test_ifd_is_the_ratio_of_the_two_losses_computed_by_hand(tmp_path, loaded):
    model, tokenizer = loaded
    kept, _, _ = run_stage(tmp_path)
    header = tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    assert alone_context(tokenizer) == header  # no BOS in this tokenizer: the answer alone follows the header
    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None  # without a template the prompt is `question\n`, and the answer alone follows `\n`
    assert alone_context(plain) == tokenizer("\n", add_special_tokens=False)["input_ids"]
    picked = kept.filter(pl.col("instruction").is_in(["下列哪种气体在空气中含量最多？", "长城大约有多长？",
                                                      "月亮的名字会发光吗？"]))
    assert picked.height == 3
    for row in picked.iter_rows(named=True):
        question = f"{row['instruction']}\n{row['input']}" if row["input"] else row["instruction"]
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                               add_generation_prompt=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer = tokenizer(row["output"], add_special_tokens=False)["input_ids"]
        given, alone = mean_nll_by_hand(model, prompt_ids, answer), mean_nll_by_hand(model, header, answer)
        assert row["loss_answer_given_question"] == pytest.approx(given, rel=1e-6)
        assert row["loss_answer_alone"] == pytest.approx(alone, rel=1e-6)
        assert row["ifd"] == pytest.approx(given / alone, rel=1e-6) and row["ppl"] == pytest.approx(math.exp(given))


SCORED_ROWS = [("为什么天空是蓝色的？", "", "因为空气分子更容易散射蓝光。"), ("长城大约有多长？", "", "两万多千米，" * 30),
               ("下列哪种气体在空气中含量最多？", "A. 氧气 B. 氮气", "答案是 B。"), ("空", "", ""),
               ("计算：三加五乘以二等于多少？", "", "先算乘法，再算加法，结果是十三。"), ("问" * 60, "", "短。")]


def test_length_batching_gives_the_numbers_of_scoring_each_record_alone(loaded):
    model, tokenizer = loaded
    batched = answer_perplexities(model, tokenizer, SCORED_ROWS, batch_size=4, max_length=256)
    single = answer_perplexities(model, tokenizer, SCORED_ROWS, batch_size=1, max_length=256)
    for many, one in zip(batched[:3] + batched[4:], single[:3] + single[4:]):
        assert (many.tokens, many.truncated) == (one.tokens, one.truncated)
        for field in ("ppl", "loss", "loss_alone", "ifd"):
            assert getattr(many, field) == pytest.approx(getattr(one, field), rel=1e-6), field
    assert batched[3] == single[3] and batched[3].ifd is None and batched[3].loss_alone is None


def test_ppl_keeps_its_bits_from_before_ifd(loaded):
    """The prompted sequences are batched as before IFD (sorted by length, `batch_size` at a time, the model's
    full logits), so ppl is bit for bit what scoring the prompted answers alone gave."""
    model, tokenizer = loaded
    scores = answer_perplexities(model, tokenizer, SCORED_ROWS, batch_size=2, max_length=256)
    encoded = {i: encode_pair(tokenizer, *row, 256)[:2] for i, row in enumerate(SCORED_ROWS) if row[2]}
    order = sorted(encoded, key=lambda i: (sum(map(len, encoded[i])), i))
    for start in range(0, len(order), 2):
        batch = order[start:start + 2]
        width = max(sum(map(len, encoded[i])) for i in batch)
        ids = torch.full((len(batch), width), pad_id_of(tokenizer))
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, :sum(map(len, encoded[i]))] = torch.tensor(encoded[i][0] + encoded[i][1])
            mask[row, :sum(map(len, encoded[i]))] = 1
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits
        for row, i in enumerate(batch):
            prompt, answer = encoded[i]
            logprobs = torch.log_softmax(logits[row, len(prompt) - 1:len(prompt) + len(answer) - 1].double(), dim=-1)
            total = -float(logprobs[torch.arange(len(answer)), torch.tensor(answer)].sum())
            assert scores[i].ppl == math.exp(min(total / len(answer), 700.0))


def test_the_gpu_formula_for_log_probabilities_agrees_with_the_cpu_one():
    logits = torch.randn(5, 300, generator=torch.Generator().manual_seed(0)) * 8
    targets = torch.tensor([0, 17, 299, 5, 5])
    exact = picked_logprobs(logits, targets, exact=True)
    assert exact.dtype == torch.float64 and exact.tolist() == pytest.approx(
        [torch.log_softmax(logits.double(), -1)[i, t].item() for i, t in enumerate(targets.tolist())], rel=0)
    assert picked_logprobs(logits, targets, exact=False).tolist() == pytest.approx(exact.tolist(), rel=1e-5)


class HalvedLogits(torch.nn.Module):
    """A causal LM whose logits are not its head applied to its decoder's states (like logit soft-capping)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def get_decoder(self):
        return self.inner.get_decoder()

    def get_output_embeddings(self):
        return self.inner.get_output_embeddings()

    def forward(self, **kwargs):
        out = self.inner(**kwargs)
        out.logits = out.logits / 2
        return out


def test_the_scorer_keeps_the_models_own_logits_when_the_head_alone_would_differ(loaded):
    model, _ = loaded
    halved = HalvedLogits(model)
    pairs = [([5, 6, 7], [8, 9]), ([10], [11, 12, 13])]
    expected = []
    for context, answer in pairs:
        with torch.no_grad():
            logits = halved(input_ids=torch.tensor([context + answer])).logits[0]
        logprobs = torch.log_softmax(logits.double(), dim=-1)
        expected.append(sum(logprobs[len(context) + k - 1, t].item() for k, t in enumerate(answer)))
    for _ in range(2):  # the first batch decides, the second uses the decision
        got = [total for total, _ in continuation_logprobs(halved, 0, pairs)]
        assert got == pytest.approx(expected, rel=1e-6)
        plain = [total for total, _ in continuation_logprobs(model, 0, pairs)]
        assert plain != pytest.approx(expected, rel=1e-3)
    assert (scorer._HEAD_SPLITS[halved], scorer._HEAD_SPLITS[model]) == (False, True)  # the plain model: head only


def rewrites_frame() -> pl.DataFrame:
    parent = curated_frame().row(0, named=True)
    row = {**parent, "id": "rewrite-00000000000000aa", "answer_from": "llm", "instruction": "月亮的名字会发光吗？",
           "output": "名字不会发光，发光的是被太阳照亮的月球表面。", "parent_id": parent["id"],
           "rule": "blurring_boundaries", "model": "qwen-test", "prompt_sha256": "0" * 64}
    return pl.DataFrame([row], schema={**curated_frame().schema, **EXTRA})


def run_stage(tmp_path, filter_settings=None, **params):
    records = write_curated(tmp_path / "records.parquet")
    rewrites = tmp_path / "rewrites.parquet"
    rewrites_frame().write_parquet(rewrites)
    settings = familiarity_params({"batch_size": 4, "max_length": 256, "filter": filter_settings or {}, **params})
    metrics = run_familiarity(settings, records, rewrites, tiny_model_dir(), tmp_path / "out", tmp_path / "rep",
                              tmp_path / "m.json")
    return (pl.read_parquet(tmp_path / "out" / "records.parquet"),
            pl.read_parquet(tmp_path / "out" / "rejected.parquet"), metrics)


def test_every_candidate_gets_a_ppl_and_summaries_are_written(tmp_path):
    kept, rejected, metrics = run_stage(tmp_path)
    assert rejected.height == 0 and kept.height == 11 and list(kept.columns[-9:]) == list(EXTRA_COLUMNS)
    scores = ["ppl", "ifd", "loss_answer_given_question", "loss_answer_alone"]
    assert kept.filter(pl.col("output") == "").select(scores).null_count().row(0) == (2, 2, 2, 2)  # ruozhiba titles
    assert kept.filter(pl.col("output") != "").select(scores).null_count().row(0) == (0, 0, 0, 0)
    assert kept.filter(pl.col("output") == "")["ppl_tokens"].to_list() == [0, 0]
    device = "cuda" if torch.cuda.is_available() else "cpu"  # device: auto
    assert (metrics["scored"], metrics["unscored"], metrics["threshold"], metrics["device"]) == (9, 2, None, device)
    assert metrics["ifd_above_1"] == (kept["ifd"] > 1).sum() and metrics["ifd_median"] > 0
    assert set(metrics["ppl_median_by_answer_from"]) == {"human", "llm"}
    assert kept.filter(pl.col("answer_from") == "llm")["rule"].to_list() == ["blurring_boundaries"]
    by_source = pl.read_csv(tmp_path / "rep" / "ppl_by_source.csv")
    assert by_source.columns == ["source", "n", "mean_ppl", "median_ppl", "p25_ppl", "p75_ppl"]
    assert by_source["source"].to_list() == ["douban", "exam", "wiki", "zhihu"] and by_source["n"].sum() == 9
    assert pl.read_csv(tmp_path / "rep" / "ppl_by_answer_from.csv")["answer_from"].to_list() == ["human", "llm"]
    assert (tmp_path / "rep" / "ppl.png").read_bytes()[:4] == b"\x89PNG"
    first = {p.name: p.read_bytes() for p in [*(tmp_path / "out").iterdir(), *(tmp_path / "rep").iterdir()]}
    run_stage(tmp_path)
    assert {p.name: p.read_bytes() for p in [*(tmp_path / "out").iterdir(), *(tmp_path / "rep").iterdir()]} == first


def test_sources_choose_the_records_scored_and_the_others_pass_unscored(tmp_path):
    everything, _, _ = run_stage(tmp_path / "all")
    kept, rejected, metrics = run_stage(tmp_path / "some", {"keep_quantile": 0.5}, sources=["zhihu", "wiki"])
    chosen = pl.col("source").is_in(["zhihu", "wiki"]) & (pl.col("output") != "")
    assert rejected.filter(~pl.col("source").is_in(["zhihu", "wiki"])).height == 0  # the filter spares the others
    scored = pl.concat([kept, rejected.drop("reason", "detail")]).filter(chosen).sort("id")
    assert scored["ppl"].to_list() == everything.filter(chosen).sort("id")["ppl"].to_list()  # the same scores
    assert kept.filter(~pl.col("source").is_in(["zhihu", "wiki"]))["ppl"].null_count() == kept.filter(
        ~pl.col("source").is_in(["zhihu", "wiki"])).height
    assert (metrics["scored"], metrics["sources"]) == (scored.height, ["zhihu", "wiki"])
    assert metrics["not_chosen"] == everything.filter(~pl.col("source").is_in(["zhihu", "wiki"])).height


def test_sources_must_name_configured_subsets():
    with pytest.raises(ValueError, match=r"^params.yaml: familiarity.sources.zhihuu: names no configured subset "
                                         r"\(did you mean zhihu\?\); configured: douban, exam, ruozhiba, wiki, zhihu$"):
        familiarity_params({"sources": ["zhihuu"]})


def test_filter_by_max_ppl_and_quantile_rejects_with_a_reason(tmp_path):
    kept, _, _ = run_stage(tmp_path / "a")
    ppl = kept["ppl"].drop_nulls().sort()
    kept_q, rejected_q, metrics = run_stage(tmp_path / "b", {"keep_quantile": 0.5})
    assert rejected_q.height == (ppl > ppl.quantile(0.5, interpolation="linear")).sum() == 4
    assert set(rejected_q["reason"]) == {"familiarity_unfamiliar"}
    assert rejected_q["detail"][0].endswith("(keep_quantile 0.5)") and metrics["rows_in"] == 11
    assert kept_q["ppl"].is_null().sum() == 2  # unscored records are never filtered
    cut = float(ppl[2])
    _, rejected_m, _ = run_stage(tmp_path / "c", {"max_ppl": cut})
    assert rejected_m.height == 6 and rejected_m["detail"][0].endswith(f"(max_ppl {cut})")


@pytest.mark.parametrize("raw, message", [
    ({"filter": {"keep_quantile": 1.5}}, r"keep_quantile: must be in \(0, 1\]"),
    ({"filter": {"max_ppl": 0}}, "max_ppl: must be a positive number"),
    ({"batch_size": 0}, "batch_size: must be a positive integer"),
    ({"filter": {"min_ppl": 2}}, r"filter.min_ppl: unknown key"),
])
def test_bad_settings(raw, message):
    with pytest.raises(ValueError, match=message):
        familiarity_params(raw)


def test_cli(tmp_path):
    records = write_curated(tmp_path / "records.parquet")
    write_params(tmp_path / "params.yaml", {"batch_size": 8, "max_length": 128})
    args = ["--params", str(tmp_path / "params.yaml"), "--in", str(records), "--base-model",
            str(tiny_model_dir()), "--out", str(tmp_path / "out"), "--reports", str(tmp_path / "rep"),
            "--metrics", str(tmp_path / "m.json")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "familiarity: 10 in, 10 kept, 0 dropped; 8 scored" in result.output
    assert json.loads((tmp_path / "m.json").read_text())["model"].startswith("tiny-qwen2-")
    missing = CliRunner().invoke(cli, [*args, "--rewrites", str(tmp_path / "none.parquet")])
    assert missing.exit_code == 1 and "none.parquet: records not found" in missing.output


# --- params.yaml: familiarity, one failure per test (exact text) ------------------------------------


def familiarity_error(raw) -> str:
    with pytest.raises(ValueError) as failed:
        familiarity_params(raw)
    return str(failed.value)


def test_batch_size_given_as_text_is_the_wrong_type():
    assert familiarity_error({"batch_size": "8"}) == "params.yaml: familiarity.batch_size: must be an integer, got '8'"


def test_an_infinite_max_ppl_is_refused():
    assert familiarity_error({"filter": {"max_ppl": float("inf")}}) == (
        "params.yaml: familiarity.filter.max_ppl: must be a finite number, got .inf")


def test_max_length_below_two_is_out_of_range():
    assert familiarity_error({"max_length": 1}) == (
        "params.yaml: familiarity.max_length: must be an integer >= 2 (prompt + response tokens), got 1")


def test_a_misspelt_key_gets_a_suggestion():
    assert familiarity_error({"batch_sise": 8}) == (
        "params.yaml: familiarity.batch_sise: unknown key (did you mean batch_size?); "
        "allowed: batch_size, device, filter, max_length, sources, threads")


def test_an_integer_max_ppl_is_kept_as_written_in_the_detail():
    """`max_ppl: 50` reads `max_ppl 50` in rejected rows' detail, as before the typed params."""
    assert familiarity_params({"filter": {"max_ppl": 50}}).filter.max_ppl == 50
    assert isinstance(familiarity_params({"filter": {"max_ppl": 50}}).filter.max_ppl, int)


@pytest.mark.parametrize("raw, message", [
    ({"device": "gpu"}, "params.yaml: familiarity.device: must be one of auto, cpu, cuda, got 'gpu'"),
    ({"device": None}, "params.yaml: familiarity.device: must be one of auto, cpu, cuda, got None"),
    ({"threads": 0}, "params.yaml: familiarity.threads: must be a positive integer, got 0"),
    ({"threads": "all"}, "params.yaml: familiarity.threads: must be an integer, got 'all'"),
])
def test_device_and_threads_are_checked_in_one_line(raw, message):
    assert familiarity_error(raw) == message


def test_the_defaults_pick_the_device_and_the_cores():
    settings = familiarity_params({})
    assert (settings.device, settings.threads) == ("auto", None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_device_cuda_without_a_gpu_stops_the_stage_in_one_line(tmp_path):
    records = write_curated(tmp_path / "records.parquet")
    write_params(tmp_path / "params.yaml", {"device": "cuda"})
    result = CliRunner().invoke(cli, ["--params", str(tmp_path / "params.yaml"), "--in", str(records),
                                      "--base-model", str(tiny_model_dir()), "--out", str(tmp_path / "out"),
                                      "--reports", str(tmp_path / "rep"), "--metrics", str(tmp_path / "m.json")])
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    assert result.output == (f"Error: params.yaml: familiarity.device: cuda, but torch sees no CUDA GPU "
                             f"(torch {torch.__version__}); use auto or cpu\n")
