"""Stage `evaluate`: task loading in three layouts, log-likelihood scoring checked by hand."""

import json
from pathlib import Path

import pytest
import torch
from scipy.stats import binomtest
from click.testing import CliRunner

from stages.evaluate.scoring import format_prompt, loglikelihoods, score_questions
from stages.evaluate.tasks import load_tasks
from stages.evaluate.__main__ import cli
from stages.llm.base import load_pretrained
from tests.tiny_lm import make_tiny_lm

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TASKS = ROOT / "data" / "sample" / "eval"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_lm(tmp_path_factory.mktemp("lm"))


def test_three_layouts_load_to_the_same_questions(tmp_path):
    (tmp_path / "mmlu").mkdir()
    (tmp_path / "mmlu" / "logic_test.csv").write_text("甲是乙吗？,是,否,不知道,都不是,B\n", encoding="utf-8")
    (tmp_path / "cmmlu").mkdir()
    (tmp_path / "cmmlu" / "logic.csv").write_text(",Question,A,B,C,D,Answer\n0,甲是乙吗？,是,否,不知道,都不是,B\n",
                                                  encoding="utf-8")
    (tmp_path / "ceval").mkdir()
    (tmp_path / "ceval" / "logic_val.csv").write_text("id,question,A,B,C,D,answer\n0,甲是乙吗？,是,否,不知道,都不是,B\n",
                                                      encoding="utf-8")
    loaded = [load_tasks(tmp_path / name)["logic"][0] for name in ("mmlu", "cmmlu", "ceval")]
    assert {(q.question, q.options, q.answer) for q in loaded} == {("甲是乙吗？", ("是", "否", "不知道", "都不是"), "B")}
    assert loaded[1].where.endswith("logic.csv:2")


def test_bad_answer_letter_names_file_and_line(tmp_path):
    (tmp_path / "law_test.csv").write_text("问,a,b,c,d,A\n问二,a,b,c,d,E\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"law_test.csv:2: answer must be one of A, B, C, D, got 'E'"):
        load_tasks(tmp_path)


def test_shipped_sample_tasks_load():
    tasks = load_tasks(SAMPLE_TASKS)
    assert len(tasks) == 9 and all(len(qs) == 12 for qs in tasks.values())


def test_loglikelihood_matches_a_hand_computation_even_when_batched_with_padding(tiny):
    model, tokenizer = load_pretrained(str(tiny), threads=1)
    question = load_tasks(SAMPLE_TASKS)["logic"][0]
    context, continuation = format_prompt(question), "C"
    ids = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    n_ctx = len(tokenizer(context, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    by_hand = torch.log_softmax(logits[n_ctx - 1], dim=-1)[ids[n_ctx]].item()
    pairs = [("短", "A"), (context, continuation), (context + "很长的前缀" * 5, "B")]
    batched = loglikelihoods(model, tokenizer, pairs, batch_size=3)
    assert batched[1] == pytest.approx(by_hand, abs=1e-4)
    scored = score_questions(model, tokenizer, [question], "letter", batch_size=4)[0]
    assert scored.logliks[2] == pytest.approx(by_hand, abs=1e-4)
    assert scored.predicted == "ABCD"[max(range(4), key=lambda i: scored.logliks[i])]


def run_cli(tmp_path, model: str, evaluate: str):
    """`python -m stages.evaluate` on the sample tasks with `evaluate:` + `evaluate` as params.yaml (the metrics
    to eval.json, the reports to plots/); returns (the result, the params file)."""
    params = tmp_path / "params.yaml"
    params.write_text("evaluate:\n" + evaluate, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--in", model, "--tasks", str(SAMPLE_TASKS), "--params", str(params),
                                      "--metrics", str(tmp_path / "eval.json"), "--reports", str(tmp_path / "plots")])
    return result, params


def test_cli_writes_per_task_metrics_and_plot(tiny, tmp_path):
    result, _ = run_cli(tmp_path, str(tiny), "  continuation: letter\n  batch_size: 8\n  subjects: [logic, law]\n"
                                             "  threads: 1\n")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval.json").read_text())
    assert sorted(metrics["tasks"]) == ["law", "logic"] and metrics["questions"] == 24
    predictions = [json.loads(line) for line in (tmp_path / "plots" / "predictions.jsonl").read_text().splitlines()]
    for task in ("law", "logic"):
        rows = [p for p in predictions if p["subject"] == task]
        assert metrics["tasks"][task] == pytest.approx(sum(p["answer"] == p["predicted"] for p in rows) / 12)
    table = (tmp_path / "plots" / "tasks.csv").read_text().splitlines()
    assert table[0] == "task,accuracy,stderr,n,low,high"
    for line in table[1:]:  # the accuracy chart's error bars: the 95% Wilson interval, as scipy computes it
        task, acc, _, n, low, high = line.split(",")
        wilson = binomtest(round(float(acc) * int(n)), int(n)).proportion_ci(method="wilson")
        assert (float(low), float(high)) == pytest.approx((wilson.low, wilson.high), abs=1e-6)
    assert metrics["n"] == {"law": 12, "logic": 12} and metrics["toy"] is True and "toy model" in result.output
    p = metrics["tasks"]["law"]
    assert metrics["stderr"]["law"] == pytest.approx((p * (1 - p) / 11) ** 0.5, abs=1e-6)


def test_max_per_task_scores_the_first_questions_of_each_subject(tiny, tmp_path):
    result, _ = run_cli(tmp_path, str(tiny), "  continuation: letter\n  subjects: [logic, law]\n  max_per_task: 5\n"
                                             "  threads: 1\n")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval.json").read_text())
    assert metrics["n"] == {"law": 5, "logic": 5} and metrics["questions"] == 10
    predictions = [json.loads(line) for line in (tmp_path / "plots" / "predictions.jsonl").read_text().splitlines()]
    for task in ("law", "logic"):
        assert [p["where"].rsplit(":", 1)[1] for p in predictions if p["subject"] == task] == [
            str(line) for line in range(1, 6)]  # the first five rows of the file


def test_cli_rejects_unknown_continuation(tmp_path):
    result, params = run_cli(tmp_path, "x", "  continuation: sampled\n")
    assert result.exit_code == 1
    assert result.output == f"Error: {params}: evaluate.continuation: must be one of letter, text, cloze, got 'sampled'\n"


def test_english_questions_use_mmlus_answer_cue_and_spaced_letters():
    from stages.evaluate.scoring import continuations
    from stages.evaluate.tasks import Question

    q = Question("demo", "What is 7 times 8?", ("54", "56", "48", "64"), "B", "x:1")
    assert format_prompt(q) == "What is 7 times 8?\nA. 54\nB. 56\nC. 48\nD. 64\nAnswer:"
    assert continuations(q, "letter") == [" A", " B", " C", " D"]
    chinese = load_tasks(SAMPLE_TASKS)["logic"][0]
    assert format_prompt(chinese).endswith("答案：") and continuations(chinese, "letter") == ["A", "B", "C", "D"]


def test_cloze_hides_the_options_and_scores_their_text():
    from stages.evaluate.scoring import continuations
    from stages.evaluate.tasks import Question

    q = Question("demo", "What is the capital city of France?", ("Rome", "Paris", "Oslo", "Bern"), "B", "x:1")
    assert format_prompt(q, "cloze") == "Question: What is the capital city of France?\nAnswer:"
    assert continuations(q, "cloze") == [" Rome", " Paris", " Oslo", " Bern"]


def evaluate_params(raw):
    from stages.evaluate.tasks import EvaluateParams
    from stages.lib.params import parse_section

    return parse_section(EvaluateParams, raw, "params.yaml: evaluate")


def test_an_evaluate_batch_size_of_the_wrong_type_is_refused():
    with pytest.raises(ValueError) as info:
        evaluate_params({"batch_size": "16"})
    assert str(info.value) == "params.yaml: evaluate.batch_size: must be an integer, got '16'"


def test_evaluate_threads_out_of_range_are_refused():
    with pytest.raises(ValueError) as info:
        evaluate_params({"threads": 0})
    assert str(info.value) == "params.yaml: evaluate.threads: must be a positive integer, got 0"


def test_an_unknown_evaluate_key_suggests_the_close_one():
    with pytest.raises(ValueError) as info:
        evaluate_params({"subject": ["law"]})
    assert str(info.value) == ("params.yaml: evaluate.subject: unknown key (did you mean subjects?); allowed: "
                               "batch_size, continuation, max_per_task, subjects, tasks, threads")


def test_subjects_must_be_a_list_of_names():
    with pytest.raises(ValueError) as info:
        evaluate_params({"subjects": "law"})
    assert str(info.value) == "params.yaml: evaluate.subjects: must be a list, got 'law'"
