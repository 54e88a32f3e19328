"""Cohen's kappa, checked against hand-computed values."""

from __future__ import annotations

import pytest

from stages.review.agreement import agreement, cohen_kappa


def test_kappa_of_a_textbook_table():
    # 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: p_o = 0.7, p_e = 0.5, kappa = 0.4
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    assert cohen_kappa(pairs) == {"n": 50, "observed": 0.7, "kappa": pytest.approx(0.4)}


def test_kappa_is_undefined_when_both_sides_used_one_label():
    assert cohen_kappa([("accept", "accept")] * 3) == {"n": 3, "observed": 1.0, "kappa": None}
    assert cohen_kappa([]) == {"n": 0, "observed": None, "kappa": None}


def row(rid, reviewer, decision, at, sha="s" * 64, status="applied"):
    return {"id": rid, "sha256": sha, "reviewer": reviewer, "decision": decision, "reviewed_at": at,
            "tool": "label-studio", "task_id": rid, "annotation_id": reviewer, "status": status}


def test_per_source_reviewer_and_judge_agreement():
    log = [row("a-1", "r1", "accept", "1"), row("a-1", "r2", "accept", "2"),
           row("a-2", "r1", "reject", "1"), row("a-2", "r2", "accept", "2"),
           row("b-1", "r1", "reject", "1"), row("b-1", "r2", "reject", "2"),
           row("b-2", "r1", "accept", "1", status="superseded"), row("b-2", "r2", "accept", "2")]
    sources = {"a-1": "a", "a-2": "a", "b-1": "b", "b-2": "b"}
    report = agreement(log, sources, {k: "s" * 64 for k in sources}, {"a-1": "keep", "a-2": "discard", "b-1": "review"})
    assert report["reviewers"]["by_source"] == {"a": {"n": 2, "observed": 0.5, "kappa": 0.0},
                                               "b": {"n": 1, "observed": 1.0, "kappa": None}}
    assert report["reviewers"]["overall"]["n"] == 3
    # judge: a-1 keep vs accept, accept; a-2 discard vs reject, accept (b-1 "review" is no verdict)
    assert report["judge"]["by_source"] == {"a": {"n": 4, "observed": 0.75, "kappa": 0.5}}
    assert agreement(log, sources, {}, None)["judge"] is None
