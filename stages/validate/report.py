"""Turning a `SuiteResult` into the failure message, a Markdown and an HTML report, and metrics.

- `failure_message`: what `dvc repro` prints when a critical expectation fails:
  one line per failed expectation with its severity, what it checks, what GX
  observed and up to 10 offending record ids.
- `render_markdown` / `render_html`: every expectation with its status,
  failures first; the HTML is self-contained (no scripts, no remote assets).
  Every value is escaped for its format (stages/lib/escape.py), as is the
  failure message for the terminal.
- `metrics`: evaluated / passed / failed expectations, by severity.

The GX result itself (`gx_result`) is written as JSON next to these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.lib import escape
from stages.lib.io import write_json, write_text
from stages.validate.runner import Outcome, SuiteResult

STATUS = {True: "passed", False: "FAILED"}


def outcome_line(outcome: Outcome) -> str:
    """`[critical] expect_...(col, ...): what it checks; observed: ...; ids: a, b`."""
    line = f"[{outcome.severity}] {outcome.label}: {outcome.description}; observed: {outcome.observed}"
    if outcome.ids:
        line += f"; ids: {', '.join(outcome.ids)}"
    return escape.terminal(line)


def failure_message(result: SuiteResult, report: str) -> str:
    critical = result.failed("critical")
    lines = [
        f"validation failed: suite '{result.suite}' has {len(critical)} failed critical expectation(s) "
        f"on {result.rows} rows (report: {report})"
    ]
    lines += [f"  - {outcome_line(o)}" for o in critical]
    warnings = result.failed("warning") + result.failed("info")
    if warnings:
        lines.append(f"  and {len(warnings)} failed warning/info expectation(s), listed in the report")
    return "\n".join(lines)


def warning_lines(result: SuiteResult) -> list[str]:
    return [f"warning: {outcome_line(o)}" for o in result.failed("warning") + result.failed("info")]


def summary_line(result: SuiteResult) -> str:
    counts = result.counts()
    parts = [f"{sev} {c['passed']}/{c['evaluated']}" for sev, c in counts["by_severity"].items() if c["evaluated"]]
    verdict = "passed" if result.success else "FAILED"
    return (f"suite '{result.suite}' {verdict} on {result.rows} rows: {counts['passed']} of {counts['evaluated']} "
            f"expectations passed ({', '.join(parts)})")


def metrics(result: SuiteResult) -> dict[str, Any]:
    return {"suite": result.suite, "success": result.success, "rows_validated": result.rows,
            "expectations": result.counts()}


def _ordered(result: SuiteResult) -> list[Outcome]:
    rank = {"critical": 0, "warning": 1, "info": 2}
    return sorted(result.outcomes, key=lambda o: (o.success, rank[o.severity]))


def render_markdown(result: SuiteResult, source: str) -> str:
    counts = result.counts()
    lines = [
        f"# Validation report: suite {escape.markdown_code(result.suite)}",
        "",
        f"- input: {escape.markdown_code(source)} ({result.rows} rows, every row checked)",
        f"- result: **{'passed' if result.success else 'FAILED'}** "
        f"({counts['passed']} of {counts['evaluated']} expectations passed)",
        "- a failed **critical** expectation stops the pipeline; **warning** and **info** only report",
        "",
        "| severity | evaluated | passed | failed |",
        "|---|---|---|---|",
    ]
    lines += [f"| {sev} | {c['evaluated']} | {c['passed']} | {c['failed']} |"
              for sev, c in counts["by_severity"].items()]
    lines += ["", "## Expectations (failures first)", "",
              "| status | severity | expectation | checks | observed | offending ids (first 10) |",
              "|---|---|---|---|---|---|"]
    for o in _ordered(result):
        ids = ", ".join(escape.markdown_code(i) for i in o.ids)
        lines.append(f"| {STATUS[o.success]} | {o.severity} | {escape.markdown_code(o.label)} "
                     f"| {escape.markdown(o.description)} | {escape.markdown(o.observed)} | {ids} |")
    lines += ["", "Derived columns (`instruction_len`, `pii_phone`, `zh_share`, ...) are defined in "
              "`stages/validate/derived.py`; the full GX result is in the JSON report next to this file.", ""]
    return "\n".join(lines)


def render_html(result: SuiteResult, source: str) -> str:
    esc = escape.html
    rows = []
    for o in _ordered(result):
        colour = "#e6f4ea" if o.success else ("#fce8e6" if o.severity == "critical" else "#fef7e0")
        rows.append(
            f'<tr style="background:{colour}"><td>{STATUS[o.success]}</td><td>{o.severity}</td>'
            f"<td><code>{esc(o.label)}</code></td><td>{esc(o.description)}</td><td>{esc(o.observed)}</td>"
            f"<td>{'<br>'.join(f'<code>{esc(i)}</code>' for i in o.ids)}</td></tr>"
        )
    verdict = "passed" if result.success else "FAILED"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Validation report: {esc(result.suite)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}</style></head><body>\n"
        f"<h1>Validation report: suite <code>{esc(result.suite)}</code></h1>\n"
        f"<p>Input <code>{esc(source)}</code>, {result.rows} rows, every row checked. Result: <b>{verdict}</b>. "
        "A failed critical expectation stops the pipeline; warning and info only report.</p>\n"
        "<table><tr><th>status</th><th>severity</th><th>expectation</th><th>checks</th><th>observed</th>"
        "<th>offending ids (first 10)</th></tr>\n" + "\n".join(rows) + "\n</table>\n</body></html>\n"
    )


def write_reports(result: SuiteResult, reports_dir: str | Path, source: str) -> dict[str, Path]:
    """Write `<suite>.json` (the GX result), `<suite>.md` and `<suite>.html` into `reports_dir`."""
    reports_dir = Path(reports_dir)
    paths = {ext: reports_dir / f"{result.suite}.{ext}" for ext in ("json", "md", "html")}
    write_json(result.gx_result, paths["json"])
    write_text(render_markdown(result, source), paths["md"])
    write_text(render_html(result, source), paths["html"])
    return paths
