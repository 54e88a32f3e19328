"""`audit rules` verdicts: a toy model, no delta above its error, error bars of averaged runs."""

from stages.auditing.render import rules_blocks
from stages.auditing.rules import matrix


def entry(name, rule, acc, se, kept, toy=False, baseline=False):
    return {"name": name, "rev": name * 7, "is_baseline": baseline, "rule": rule, "overall": acc,
            "tasks": {"geo": acc}, "stderr": {"geo": se}, "overall_stderr": se, "toy": toy, "rewrites_kept": kept}


def test_a_toy_model_and_small_deltas_are_said_plainly():
    result = matrix([entry("main", "none", 0.30, 0.04, 0, toy=True, baseline=True),
                     entry("a", "false_premise", 0.33, 0.04, 5, toy=True)], [])
    assert result["toy"] is True
    assert result["verdicts"][0].startswith("The model is a toy")
    assert result["verdicts"][1] == "false_premise: no delta is larger than its standard error: nothing to conclude."
    assert result["rules"][0]["delta_stderr"] == {"geo": 0.056569}
    texts = [getattr(b, "items", None) for b in rules_blocks(result)]
    assert any(items and "The model is a toy" in items[0] for items in texts)


def test_two_runs_of_a_rule_average_and_their_error_shrinks():
    result = matrix([entry("main", "none", 0.30, 0.03, 0, baseline=True),
                     entry("a1", "logical_trap", 0.50, 0.04, 8), entry("a2", "logical_trap", 0.52, 0.04, 6)], [])
    row = result["rules"][0]
    assert row["tasks"] == {"geo": 0.51} and row["rewrites_kept"] == 7
    assert abs(row["delta_stderr"]["geo"] - (0.0008 + 0.0009) ** 0.5) < 1e-6
    assert result["verdicts"] == ["logical_trap: delta larger than two standard errors on geo."]


def test_the_baseline_is_the_rule_none_run_on_the_rules_tasks():
    commit = entry("main", "none", 0.25, 0.1, 0, baseline=True) | {"tasks": {"logic": 0.25}, "stderr": {"logic": 0.1}}
    profile = entry("smollm2-none", "none", 0.40, 0.03, 0)
    rule = entry("smollm2-blur", "blurring_boundaries", 0.45, 0.03, 16)
    result = matrix([commit, profile, rule], [])
    assert result["baseline"]["name"] == "smollm2-none" and result["tasks"] == ["geo"]
    assert matrix([commit, profile, rule], [], baseline="main")["baseline"]["name"] == "main"
