"""Render audit results as a terminal table, Markdown, JSON or one self-contained HTML page.

Each result (diff report, trace; rules and experiments in compare_render.py) is laid out here as a list of
blocks (headings, paragraphs, tables, diffs, an SVG); `formats.py` writes the
blocks as Markdown, terminal tables or HTML, so the formats always say the same
thing; they escape every text for the format, so blocks hold plain text. JSON is
the result dict itself. Output is deterministic: the inputs are sorted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stages.lib import escape

CATEGORY_TITLES = {
    "added": "Added",
    "removed": "Removed",
    "changed": "Changed",
    "newly_rejected": "Newly rejected",
    "no_longer_rejected": "No longer rejected",
    "reason_changed": "Reason changed",
}


# -- blocks ---------------------------------------------------------------------------------------


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)  # right-aligned columns
    short: list[str] | None = None  # terser headers for terminal tables
    legend: str | None = None  # explains `short` under a terminal table


@dataclass
class Diff:
    title: str
    text: str


@dataclass
class Items:
    items: list[str]


@dataclass
class Svg:
    svg: str


@dataclass
class Png:
    data: bytes  # embedded in HTML as a data: URI; Markdown and terminal show `alt`
    alt: str


Block = Heading | Para | Table | Diff | Items | Svg | Png


# -- value formatting -----------------------------------------------------------------------------


def value(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return f"{v:g}"
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def signed(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:+.4g}" if v else "0"
    return f"{v:+d}" if v else "0"


def status_text(st: dict[str, Any]) -> str:
    if st["status"] == "dropped":
        detail = f" ({st['detail']})" if st.get("detail") else ""
        return f"dropped at {st['stage']}: {st['reason']}{detail}"
    return st["status"]


def count_of(side: dict[str, Any] | None, key: str) -> str:
    return "–" if side is None else str(side[key])


def side_text(side: dict[str, Any]) -> str:
    rev = side.get("rev")
    shown = f", {rev}" if rev and rev != side["spec"] else ""
    return f"{side['spec']} ({side['kind']}{shown})"


def short(side: dict[str, Any]) -> str:
    """`HEAD~1 (1a2b3c4)`, or just `1a2b3c4` when the spec is the sha itself."""
    rev, spec = side.get("rev"), side["spec"]
    if not rev:
        return spec
    if rev.startswith(spec) or spec.startswith(rev[:7]):
        return rev[:7]
    return f"{spec} ({rev[:7]})"


# -- diff layout ----------------------------------------------------------------------------------


def stage_changed(st: dict[str, Any]) -> bool:
    if any(st[c]["count"] for c in CATEGORY_TITLES) or st["notes"] or st["a"] != st["b"]:
        return True
    return any(r["a_kept"] != r["b_kept"] or r["a_rejected"] != r["b_rejected"] for r in st["by_source"]) or any(
        r["a"] != r["b"] for r in st["by_reason"]
    )


def _delta(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str) -> str:
    return signed((b[key] if b else 0) - (a[key] if a else 0))


def _shown(part: dict[str, Any]) -> str:
    shown = len(part["records"])
    return f"{part['count']}" if shown == part["count"] else f"{part['count']}, first {shown} shown"


def diff_blocks(report: dict[str, Any]) -> list[Block]:
    a, b = report["a"], report["b"]
    blocks: list[Block] = [
        Heading(1, f"Dataset diff: {short(a)} → {short(b)}"),
        Para(f"A: {side_text(a)}. B: {side_text(b)}."),
        Svg(funnel_svg(report["funnel"], short(a), short(b))),
        Heading(2, "Stages"),
        Table(
            ["stage", "A kept", "B kept", "Δ kept", "A rejected", "B rejected", "Δ rejected",
             "added", "removed", "changed", "newly rejected", "no longer rejected", "reason changed"],
            [
                [st["stage"], count_of(st["a"], "kept"), count_of(st["b"], "kept"), _delta(st["a"], st["b"], "kept"),
                 count_of(st["a"], "rejected"), count_of(st["b"], "rejected"), _delta(st["a"], st["b"], "rejected"),
                 *[str(st[c]["count"]) for c in CATEGORY_TITLES]]
                for st in report["stages"]
            ],
            numeric=set(range(1, 13)),
            short=["stage", "A kept", "B kept", "Δ", "A rej", "B rej", "Δ", "add", "rem", "chg", "+rej", "-rej", "≠rej"],
            legend="add, rem, chg: records added, removed, changed; +rej, -rej, ≠rej: newly rejected, "
                   "no longer rejected, rejected for another reason",
        ),
    ]
    for st in report["stages"]:
        if stage_changed(st):
            blocks += stage_blocks(st)
    if report["jsonl"]:
        blocks.append(Heading(2, "JSONL outputs (the SFT set)"))
        blocks.append(Table(
            ["file", "stage", "A lines", "B lines", "ids added", "ids removed"],
            [[j["file"], j["stage"], value(j["a"]), value(j["b"]), str(j["added"]["count"]), str(j["removed"]["count"])]
             for j in report["jsonl"]],
            numeric={2, 3, 4, 5},
        ))
        for j in report["jsonl"]:
            for key, title in (("added", "entered"), ("removed", "left")):
                part = j[key]
                if part["count"]:
                    more = "" if len(part["ids"]) == part["count"] else f" (first {len(part['ids'])} of {part['count']})"
                    blocks.append(Para(f"{j['file']}: {title}{more}: {', '.join(part['ids'])}"))
    if report.get("jsonl_moved"):
        blocks.append(Heading(3, "Moved between files (e.g. train ↔ eval)"))
        blocks.append(Table(["from", "to", "records", "ids"],
                            [[m["from"], m["to"], str(m["count"]), ", ".join(m["ids"])] for m in report["jsonl_moved"]],
                            numeric={2}))
    blocks.append(Heading(2, "Params"))
    if report["params"]:
        blocks.append(Table(["param", "A", "B"], [[p["key"], value(p["a"]), value(p["b"])] for p in report["params"]]))
    else:
        blocks.append(Para("No param differences."))
    blocks.append(Heading(2, "Metrics"))
    if report["metrics"]:
        blocks.append(Table(
            ["file", "metric", "A", "B", "Δ"],
            [[m["file"], m["key"], value(m["a"]), value(m["b"]), signed(m["delta"])] for m in report["metrics"]],
            numeric={2, 3, 4},
        ))
    else:
        blocks.append(Para("No metric differences."))
    if report["notes"]:
        blocks += [Heading(2, "Notes"), Items(list(report["notes"]))]
    return blocks


def stage_blocks(st: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [Heading(2, f"{st['stage']} ({st['path']})")]
    if st["notes"]:
        blocks.append(Items(list(st["notes"])))
    changed = st["changed"]
    if changed["count"]:
        fields = ", ".join(f"{k} {v}" for k, v in changed["fields"].items())
        blocks.append(Heading(3, f"Changed ({_shown(changed)}; fields: {fields})"))
        for rec in changed["records"]:
            blocks.append(Diff(f"{rec['id']} ({rec['source']}): {', '.join(rec['fields'])}", rec["diff"]))
    for key, side, column in (("added", "a", "in A"), ("removed", "b", "in B")):
        part = st[key]
        if part["count"]:
            blocks.append(Heading(3, f"{CATEGORY_TITLES[key]} ({_shown(part)})"))
            blocks.append(Table(["id", "source", column],
                                [[r["id"], value(r["source"]), status_text(r[side])] for r in part["records"]]))
    for key, side, column in (("newly_rejected", "a", "in A"), ("no_longer_rejected", "b", "in B")):
        part = st[key]
        if part["count"]:
            blocks.append(Heading(3, f"{CATEGORY_TITLES[key]} ({_shown(part)})"))
            blocks.append(Table(["id", "source", "reason", "detail", column],
                                [[r["id"], value(r["source"]), r["reason"], value(r["detail"]), status_text(r[side])]
                                 for r in part["records"]]))
    part = st["reason_changed"]
    if part["count"]:
        blocks.append(Heading(3, f"Reason changed ({_shown(part)})"))
        blocks.append(Table(["id", "source", "A reason", "B reason", "B detail"],
                            [[r["id"], value(r["source"]), r["a_reason"], r["b_reason"], value(r["b_detail"])]
                             for r in part["records"]]))
    sources = [r for r in st["by_source"] if r["a_kept"] != r["b_kept"] or r["a_rejected"] != r["b_rejected"]]
    if sources:
        blocks.append(Heading(3, "Shifts by source"))
        blocks.append(Table(
            ["source", "A kept", "B kept", "Δ kept", "A rejected", "B rejected", "Δ rejected"],
            [[value(r["source"]), str(r["a_kept"]), str(r["b_kept"]), signed(r["b_kept"] - r["a_kept"]),
              str(r["a_rejected"]), str(r["b_rejected"]), signed(r["b_rejected"] - r["a_rejected"])] for r in sources],
            numeric=set(range(1, 7)),
        ))
    reasons = [r for r in st["by_reason"] if r["a"] != r["b"]]
    if reasons:
        blocks.append(Heading(3, "Shifts by drop reason"))
        blocks.append(Table(["reason", "A", "B", "Δ"],
                            [[value(r["reason"]), str(r["a"]), str(r["b"]), signed(r["b"] - r["a"])] for r in reasons],
                            numeric={1, 2, 3}))
    return blocks


# -- trace layout ---------------------------------------------------------------------------


def text_blocks(texts: list[dict[str, Any]]) -> list[Block]:
    """The text as each stage left it: in full where first seen, then the marked changes."""
    if not texts:
        return []
    blocks: list[Block] = [Heading(2, "Text by stage")]
    first = texts[0]
    shown = "\n".join(f"  {k}: {v}" for k, v in first["text"].items() if v)
    blocks.append(Diff(f"{first['stage']} ({first['status']}): as it left this stage", shown))
    unchanged = []
    for entry in texts[1:]:
        if entry["changed"]:
            blocks.append(Diff(f"{entry['stage']} ({entry['status']}): {', '.join(entry['changed'])} changed",
                               entry["diff"]))
        else:
            unchanged.append(entry["stage"])
    if unchanged:
        blocks.append(Para(f"Text unchanged at: {', '.join(unchanged)}."))
    return blocks


def review_blocks(decisions: list[dict[str, Any]]) -> list[Block]:
    """A record's review history: who decided what, when, on which text, and whether it counted."""
    blocks: list[Block] = [Heading(2, "Review")]
    if not decisions:
        return blocks + [Para("No review decisions.")]
    rows = []
    for d in decisions:
        what = d["decision"] + (f" ({d['reason']})" if d.get("reason") else "")
        if d.get("edits"):
            what += f": {d['edits']}"
        rows.append([value(d["reviewed_at"]), value(d["reviewer"]), what, f"{d['status']}: {value(d['status_detail'])}",
                     f"{d['tool']} task {d['task_id']}", value(d["sha256"])[:12]])
    return blocks + [Table(["reviewed at", "reviewer", "decision", "status", "from", "text sha256"], rows)]


def trace_blocks(result: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [Heading(1, f"Trace {result['id']} at {short(result['rev'])}")]
    if not result["found"]:
        return blocks + [Items(list(result["notes"]))]
    raw = result["raw"]
    blocks.append(Table(["provenance", "value"], [
        ["source", value(raw["source"])],
        ["raw location", value(raw["source_uri"])],
        ["raw_sha256", value(raw["raw_sha256"])],
        ["fetched_at", value(raw["fetched_at"])],
        ["ingested by", raw["stage"]],
        ["raw capture", ", ".join(raw["archive"]) or "–"],
    ]))
    if result["parent"]:
        p = result["parent"]
        blocks.append(Para(f"Derived from {p['id']} by rule {value(p['rule'])} (model {value(p['model'])}) "
                           f"at {p['stage']}."))
    blocks.append(Heading(2, "Stages"))
    rows = []
    for st in result["stages"]:
        if st["status"] == "kept":
            what = ", ".join(st.get("transforms_added") or []) or "–"
            changed = ", ".join(st.get("fields_changed") or [])
            note = f"fields changed: {changed}" if changed else ""
            if st.get("also_rejected"):
                extra = "; ".join(f"{r['reason']} ({r['detail']})" for r in st["also_rejected"])
                note = f"{note}; also rejected: {extra}" if note else f"also rejected: {extra}"
            rows.append([st["stage"], "kept", what, note])
        elif st["status"] == "rejected":
            rows.append([st["stage"], "rejected", "–", f"{st['reason']}: {value(st['detail'])}"])
        else:
            rows.append([st["stage"], st["status"], "–", ""])
    blocks.append(Table(["stage", "status", "transforms added", "reason / notes"], rows))
    if result["dropped"]:
        d = result["dropped"]
        blocks.append(Para(f"Dropped at {d['stage']}: {d['reason']} ({value(d['detail'])})."))
    blocks += text_blocks(result.get("texts") or [])
    blocks.append(Heading(2, "Duplicates"))
    dup = result["duplicates"]
    if dup:
        role = "kept representative" if dup["kept_id"] == result["id"] else f"duplicate of {dup['kept_id']}"
        blocks.append(Para(f"Cluster {dup['cluster_id']} ({dup['stage']}): {role}, "
                           f"jaccard_to_kept {value(dup['jaccard_to_kept'])}."))
        blocks.append(Table(["member", "jaccard_to_kept", ""],
                            [[m["id"], value(m["jaccard_to_kept"]),
                              "kept" if m["id"] == dup["kept_id"] else ("this record" if m["id"] == result["id"] else "")]
                             for m in dup["members"]]))
    else:
        blocks.append(Para("In no duplicate cluster."))
    blocks.append(Heading(2, "Rewrites"))
    if result["rewrites"]:
        blocks.append(Table(["stage", "id", "rule", "model"],
                            [[r["stage"], r["id"], value(r["rule"]), value(r["model"])] for r in result["rewrites"]]))
    else:
        blocks.append(Para("No rewrites derived from it."))
    blocks += review_blocks(result.get("review") or [])
    blocks.append(Heading(2, "SFT set"))
    mine = [s for s in result["sft"] if s["id"] == result["id"]]
    if mine:
        blocks.append(Para("In the SFT set: " + ", ".join(f"{s['file']} line {s['line']}" for s in mine) + "."))
    else:
        blocks.append(Para("Not in the SFT set."))
    others = [s for s in result["sft"] if s["id"] != result["id"]]
    if others:
        blocks.append(Para("Its rewrites: " + ", ".join(f"{s['id']} at {s['file']} line {s['line']}" for s in others) + "."))
    if result["notes"]:
        blocks += [Heading(2, "Notes"), Items(list(result["notes"]))]
    return blocks


# -- funnel chart (inline SVG) --------------------------------------------------------------------


def funnel_svg(funnel: list[dict[str, Any]], a_label: str, b_label: str) -> str:
    """Kept rows per stage group for A and B as centred bars: a funnel, one pair of bars per stage."""
    label_w, bar_w, num_w, row_h, top = 130, 520, 150, 40, 34
    width, height = label_w + bar_w + num_w, top + row_h * max(len(funnel), 1) + 10
    biggest = max([1] + [g[k] for g in funnel for k in ("a_kept", "b_kept")])
    centre = label_w + bar_w / 2
    esc = escape.html
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img" '
        f'aria-label="records kept per stage, A and B">',
        f'<rect x="{label_w}" y="6" width="12" height="12" fill="#9ecae1"/>'
        f'<text x="{label_w + 16}" y="16">A: {esc(a_label)}</text>',
        f'<rect x="{label_w + 260}" y="6" width="12" height="12" fill="#3182bd"/>'
        f'<text x="{label_w + 276}" y="16">B: {esc(b_label)}</text>',
    ]
    for i, g in enumerate(funnel):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 20}" text-anchor="end">{esc(g["group"])}</text>')
        for j, (side, colour) in enumerate((("a", "#9ecae1"), ("b", "#3182bd"))):
            w = bar_w * g[f"{side}_kept"] / biggest
            parts.append(f'<rect x="{centre - w / 2:.1f}" y="{y + j * 15}" width="{w:.1f}" height="14" fill="{colour}">'
                         f'<title>{side.upper()} {esc(g["group"])}: {g[f"{side}_kept"]} kept, '
                         f'{g[f"{side}_rejected"]} rejected</title></rect>')
            parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + j * 15 + 11}">{side.upper()} {g[f"{side}_kept"]} '
                         f'kept (−{g[f"{side}_rejected"]})</text>')
    parts.append("</svg>")
    return "".join(parts)
