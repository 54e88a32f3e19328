"""Agreement between reviewers, and between the judge and the reviewers (Cohen's kappa), per source.

Reviewers: every record text (record id + sha256) that two or more reviewers decided gives one pair, the
first two reviewers by time, labelled accept | reject | edit. Judge: every reviewer decision on the text
the judge scored (the record's input text) pairs the judge's verdict (`keep` | `discard`; `review` is no
verdict) with the reviewer's (keep = accept or edit, or reject). Kappa = (p_o - p_e) / (1 - p_e); it is
undefined (null) when p_e = 1, i.e. both sides used one and the same label throughout: the report then
gives the observed agreement p_o alone. Written to reports/review/agreement.{json,md}.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from stages.lib import escape

JUDGE_KEEP = {"keep": "keep", "discard": "reject"}


def cohen_kappa(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    n = len(pairs)
    if not n:
        return {"n": 0, "observed": None, "kappa": None}
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[label] * second[label] for label in first) / (n * n)
    kappa = None if expected >= 1 else (observed - expected) / (1 - expected)
    return {"n": n, "observed": round(observed, 4), "kappa": None if kappa is None else round(kappa, 4)}


def by_source(pairs: list[tuple[str, tuple[str, str]]]) -> dict[str, Any]:
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for source, pair in pairs:
        grouped[source].append(pair)
    return {"overall": cohen_kappa([pair for _, pair in pairs]),
            "by_source": {source: cohen_kappa(grouped[source]) for source in sorted(grouped)}}


def agreement(log: list[dict[str, Any]], sources: dict[str, str], input_sha: dict[str, str],
              verdicts: dict[str, str] | None) -> dict[str, Any]:
    """The report from the decision log (`applying.resolve`), each record's source and input text sha256,
    and the judge's verdicts (None: the records have no judge verdict column)."""
    counted = [row for row in log if row["status"] not in ("superseded", "unknown_id")]
    texts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(counted, key=lambda r: (r["reviewed_at"], r["tool"], r["task_id"], r["annotation_id"])):
        if all(row["reviewer"] != other["reviewer"] for other in texts[(row["id"], row["sha256"])]):
            texts[(row["id"], row["sha256"])].append(row)
    humans = [(sources[key[0]], (rows[0]["decision"], rows[1]["decision"]))
              for key, rows in sorted(texts.items()) if len(rows) >= 2]
    pair_counts: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for rows in texts.values():
        if len(rows) >= 2:
            a, b = sorted(rows[:2], key=lambda r: r["reviewer"])
            pair_counts[(a["reviewer"], b["reviewer"])].append((a["decision"], b["decision"]))
    report: dict[str, Any] = {"reviewers": by_source(humans), "judge": None, "notes": []}
    report["reviewer_pairs"] = [{"reviewers": list(pair), **cohen_kappa(found)}
                                for pair, found in sorted(pair_counts.items())]
    if verdicts is None:
        report["notes"].append("no judge verdicts in the records (no judge_verdict column): judge agreement not computed")
        return report
    judged = [(sources[row["id"]], (JUDGE_KEEP[verdicts[row["id"]]], "reject" if row["decision"] == "reject" else "keep"))
              for row in counted if row["id"] in verdicts and verdicts[row["id"]] in JUDGE_KEEP
              and row["sha256"] == input_sha.get(row["id"])]
    report["judge"] = by_source(judged)
    return report


def _k(stats: dict[str, Any]) -> list[str]:
    kappa = "undefined" if stats["kappa"] is None and stats["n"] else ("–" if stats["kappa"] is None else f"{stats['kappa']:.3f}")
    observed = "–" if stats["observed"] is None else f"{stats['observed']:.3f}"
    return [str(stats["n"]), observed, kappa]


def agreement_markdown(report: dict[str, Any]) -> str:
    lines = ["# Review agreement", "",
             "Cohen's kappa; n = pairs; p_o = observed agreement; kappa undefined when both sides used one label.", ""]
    for title, key in (("Reviewer vs reviewer (accept / reject / edit)", "reviewers"),
                       ("Judge vs reviewers (keep / reject)", "judge")):
        lines += [f"## {title}", ""]
        section = report.get(key)
        if section is None:
            lines += ["Not computed (see notes).", ""]
            continue
        lines += ["| source | n | p_o | kappa |", "|---|---|---|---|",
                  "| all | " + " | ".join(_k(section["overall"])) + " |"]
        lines += [f"| {escape.markdown(s)} | " + " | ".join(_k(v)) + " |" for s, v in section["by_source"].items()]
        lines.append("")
    if report["reviewer_pairs"]:
        lines += ["## Reviewer pairs", "", "| reviewers | n | p_o | kappa |", "|---|---|---|---|"]
        lines += [f"| {escape.markdown(' & '.join(p['reviewers']))} | " + " | ".join(_k(p)) + " |"
                  for p in report["reviewer_pairs"]]
        lines.append("")
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {escape.markdown(n)}" for n in report["notes"]] + [""]
    return "\n".join(lines)
