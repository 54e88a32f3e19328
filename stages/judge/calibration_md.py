"""`reports/judge/calibration.md`: the calibration report (stages/judge/calibration.py) for people.

Says first, in plain words, which scores separate the candidates from which known-bad records and which are
no better than chance (overall), then the AUC tables (overall, then per source), the Spearman agreements
and the threshold table. Values from the data (source names) are escaped for Markdown.
"""

from __future__ import annotations

from typing import Any

from stages.judge.known_bad import KINDS
from stages.lib import escape

COLUMNS = ("all", *KINDS)


def _auc(cell: dict[str, Any]) -> str:
    if cell["auc"] is None:
        return "-"
    mark = {"chance": " (chance)", "inverted": " (inverted)"}.get(cell["verdict"], "")
    return f"{cell['auc']:.2f} [{cell['low']:.2f}, {cell['high']:.2f}]{mark}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(escape.markdown(str(c)) for c in row) + " |" for row in rows]) + "\n"


def findings(report: dict[str, Any]) -> list[str]:
    """One sentence per score and kind of known-bad record (overall)."""
    lines = []
    for score, where in report["auc"].items():
        for kind in COLUMNS:
            cell = where["overall"][kind]
            if cell["auc"] is None:
                continue
            what = "all known-bad records" if kind == "all" else f"`{kind}`"
            if cell["verdict"] == "chance":
                lines.append(f"- `{score}` is **no better than chance** on {what}: AUC {_auc(cell)}.")
            elif cell["verdict"] == "inverted":
                lines.append(f"- `{score}` ranks {what} **above** the candidates: AUC {_auc(cell)}.")
            else:
                lines.append(f"- `{score}` separates the candidates from {what}: AUC {_auc(cell)}.")
    return lines or ["- nothing to compare (no scored candidates or known-bad records)"]


def compared_sentence(report: dict[str, Any]) -> str:
    """` Sources compared ...: ppl: mmlu (72 known-bad); ...` (empty for a report without `counts.compared`)."""
    compared = report["counts"].get("compared")
    if not compared:
        return ""
    parts = []
    for score, sources in compared.items():
        n_bad = report["auc"][score]["overall"]["all"]["n_bad"]
        names = ", ".join(escape.markdown(s) for s in sources)
        parts.append(f"{score}: {names} ({n_bad} known-bad)" if sources else f"{score}: none")
    return " Sources compared (candidates with the score): " + "; ".join(parts) + "."


def render(report: dict[str, Any]) -> str:
    settings, counts = report["settings"], report["counts"]
    parts = [
        "# Calibration of the scores on known-bad records\n",
        f"Candidates: {counts['good']} with an answer. Known-bad records: "
        + ", ".join(f"{kind} {n}" for kind, n in counts["bad"].items())
        + f" (from up to {settings['max_records']} sampled candidates, seed {settings['seed']}; unscored: "
        + ", ".join(f"{s} {n}" for s, n in counts["bad_unscored"].items()) + "). "
        "Scored by: " + "; ".join(f"{escape.markdown(str(k))}: {escape.markdown_code(str(v))}"
                                  for k, v in (report.get("scores") or {}).items() if v)
        + (f"; rubric sha256 {escape.markdown_code(report['rubric'])}" if report.get("rubric") else "") + "."
        + compared_sentence(report) + "\n",
        "AUC: the probability that a candidate scores better than a known-bad record (ties count half; better = "
        "lower ppl and ifd, higher judge score), with its 95% interval (Hanley-McNeil). **No better than "
        f"chance**: the interval holds 0.5, or |AUC - 0.5| < {settings['min_gap']}. Inverted: known-bad records "
        "score better.\n",
        "## Findings (all sources)\n", "\n".join(findings(report)) + "\n",
        "## AUC, all sources\n",
        _table(["score", *COLUMNS], [[s, *[_auc(w["overall"][k]) for k in COLUMNS]] for s, w in report["auc"].items()]),
        "## AUC per source\n",
        _table(["score", "source", *COLUMNS], [[s, src, *[_auc(cells[k]) for k in COLUMNS]]
                                               for s, w in report["auc"].items()
                                               for src, cells in w["by_source"].items()]),
        "## Agreement between the scores (Spearman, candidates)\n",
    ]
    pairs = list(report["spearman"]["overall"])
    rows = [["all", *[report["spearman"]["overall"][p] for p in pairs]]]
    rows += [[src, *[cells[p] for p in pairs]] for src, cells in report["spearman"]["by_source"].items()]
    parts.append(_table(["source", *pairs], [[c if c is not None else "-" for c in r] for r in rows]))
    parts.append("## Agreement with `human_verified` (Spearman, sources with both values)\n")
    human = report["human_verified"]
    parts.append(_table(["source", *report["better"]], [[src, *[v if v is not None else "-" for v in cells.values()]]
                                                        for src, cells in human.items()])
                 if human else "No source has both verified and unverified candidates.\n")
    parts.append("## Share kept per source at each threshold\n")
    for score, table in report["thresholds"].items():
        if not table:
            parts.append(f"`{score}`: no candidate has it.\n")
            continue
        sources = list(table[0]["by_source"])
        parts.append(_table(["keeps", "all", *sources],
                            [[row["keeps"], f"{row['all']:.0%}", *[f"{row['by_source'][s]:.0%}" for s in sources]]
                             for row in table]))
    return "\n".join(parts)


def summary_line(report: dict[str, Any]) -> str:
    """`calibration: 96 known-bad records; AUC (all kinds) ppl 0.81, ifd 0.55 (chance), judge_score -`."""
    cells = [f"{score} {_auc(where['overall']['all']).split(' [')[0]}"
             + (" (chance)" if where["overall"]["all"]["verdict"] == "chance" else "")
             for score, where in report["auc"].items()]
    return f"calibration: {sum(report['counts']['bad'].values())} known-bad records; AUC (all kinds) " + ", ".join(cells)
