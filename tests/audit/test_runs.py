"""Which runs `audit rules` compares: the main baseline, each run's own baseline, seed groups; the refusals."""

import pytest

from stages.audit.questions import paired, parse
from stages.audit.rules import verdicts
from stages.audit.runs import baseline_of, flatten, main_baseline, seed_groups
from stages.lib.errors import StageError


def run(name, rule, seed=42, commit=False, tasks=("geo",), **params):
    flat = flatten({"rule": rule, "train": {"seed": seed}, **params})
    return {"name": name, "rev": f"{name:0<40}", "is_commit": commit, "rule": rule, "seed": seed, "params": flat,
            "overall": 0.5, "tasks": {t: 0.5 for t in tasks}, "toy": False, "rewrites_kept": 4, "records_kept": 90}


def test_the_main_baseline_is_the_rule_none_run_on_the_rules_tasks():
    commit = run("main", "none", commit=True, tasks=("logic",))
    profile, rule = run("smollm2-none", "none"), run("smollm2-blur", "blurring_boundaries")
    assert main_baseline([commit, profile, rule])["name"] == "smollm2-none"
    assert main_baseline([commit, profile, rule], "main")["name"] == "main"
    with pytest.raises(StageError, match=r"^--baseline blur: no experiment or commit of that name with rule == none; "
                                         r"candidates: main, smollm2-none$"):
        main_baseline([commit, profile, rule], "blur")


def test_each_rule_run_is_paired_with_the_rule_none_run_of_its_seed():
    main, none1 = run("main", "none", commit=True), run("none-s1", "none", seed=1)
    blur1, blur2 = run("blur-s1", "blur", seed=1), run("blur-s2", "blur", seed=2)
    found = [main, none1, blur1, blur2]
    assert baseline_of(blur1, found, main, "rule", forced=False) == (none1, None)
    assert baseline_of(blur2, found, main, "rule", forced=False) == (main, (
        "blur-s2: no rule=none run with its other params (it differs from main in train.seed), so it is compared "
        "with main; for a matching baseline run python -m stages.exp -S rule=none -S train.seed=2"))
    assert baseline_of(blur1, found, main, "rule", forced=True) == (main, None)


def test_runs_that_differ_only_in_the_seed_form_one_group():
    runs = [run("b10", "blur", seed=10), run("b2", "blur", seed=2), run("c", "counter"),
            run("b-ppl", "blur", assemble={"select": {"overall": {"ppl": {"max": 50}}}}), run("b42", "blur")]
    assert [[r["name"] for r in g] for g in seed_groups(runs)] == [["b-ppl"], ["b2", "b10", "b42"], ["c"]]


def test_a_toy_model_is_said_plainly():
    assert verdicts([], toy=True)[0].startswith("The model is a toy (model.base: tiny")


LINE = ('{{"where": "t/{task}.csv:{i}", "subject": "{task}", "answer": "{answer}", "predicted": "A", '
        '"logliks": [-1.0, -2.0, -2.5, -3.0]}}')


def results(tasks, answer="A"):
    return parse("\n".join(LINE.format(task=t, i=i, answer=answer) for t in tasks for i in range(3)), "p.jsonl")


def test_runs_asked_other_questions_are_refused_in_one_line_naming_the_tasks():
    a, b = run("blur", "blur"), run("main", "none")
    with pytest.raises(StageError) as caught:
        paired(a, b, results(["geo", "law", "math"]), results(["math", "art"]))
    assert str(caught.value) == ("cannot compare blur with main: evaluated on different questions (tasks only in "
                                 "blur: geo, law; only in main: art)")
    with pytest.raises(StageError) as caught:
        paired(a, b, results(["math"]), results(["math"], answer="B"))
    assert str(caught.value) == ("cannot compare blur with main: evaluated on different questions (other questions "
                                 "in: math)")
    same = paired(a, b, results(["math"]), results(["math"]))
    assert same["math"]["accuracy"].tolist() == [0.0, 0.0, 0.0] and same["math"]["margin"].tolist() == [0.0] * 3


def test_a_malformed_predictions_line_is_named():
    with pytest.raises(StageError) as caught:
        parse(LINE.format(task="geo", i=1, answer="A") + '\n{"where": "x", "subject": "geo", "answer": "E"}\n',
              "reports/eval/predictions.jsonl at blur (1234567)")
    assert str(caught.value) == ("reports/eval/predictions.jsonl at blur (1234567), line 2: expected a JSON object "
                                 "with where, subject, answer (A-D), predicted and 4 logliks")


def test_a_hostile_rule_value_cannot_act_on_the_reader_in_any_format():
    import numpy as np

    from stages.audit.compare_render import rules_blocks
    from stages.audit.formats import render
    from stages.audit.rules import group_row

    main, hostile = run("main", "none", commit=True), run("x", "\x1b[2J<script>|\u202e")
    diffs = {"geo": {"accuracy": np.array([1.0, 0.0] * 10), "margin": np.array([0.5, -0.1] * 10)}}
    row = group_row([(hostile, main, diffs)], main, "rule")
    result = {"baseline": {"name": "main", "rev": main["rev"], "overall": 0.5}, "rules": [row],
              "verdicts": verdicts([row], False), "notes": []}
    blocks = rules_blocks(result)
    md, page, text = (render(blocks, result, fmt, "t") for fmt in ("md", "html", "table"))
    assert "## \\\\x1b[2J&lt;script&gt;\\|⟨U+202E⟩" in md and "<script>" not in md
    assert "\\x1b[2J&lt;script&gt;|⟨U+202E⟩" in page and "<script>" not in page
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b[2J<script>|⟨U+202E⟩" in text
    assert "\\u001b[2J<script>|\\u202e" in render(blocks, result, "json", "t")


def test_a_null_row_says_what_could_have_gone_unseen():
    import numpy as np

    from stages.audit.rules import group_row

    main, blur = run("main", "none", commit=True), run("blur", "blur")
    diffs = {"geo": {"accuracy": np.array([1.0, -1.0] + [0.0] * 38), "margin": np.array([0.4, -0.4] + [0.0] * 38)}}
    row = group_row([(blur, main, diffs)], main, "rule")
    assert row["cells"]["geo"]["accuracy"]["detectable"] is False
    mde = row["cells"]["overall"]
    assert verdicts([row], False) == [
        f"blur: no detectable change, overall or in any task; with 40 questions an overall change below "
        f"{mde['accuracy']['mde']:.3f} in accuracy or {mde['margin']['mde']:.3f} nats in margin could go unseen."]
    assert mde["accuracy"]["mde"] == pytest.approx(2.801585 * (2 / 40) ** 0.5 / 40 ** 0.5, abs=1e-6)
