"""PII recall and false scrubs on a corpus written for this project (bench/pii_corpus.py).

Each planted text holds one item of one type in one written variant; it counts as found when the
type's placeholder appears and no digit run or address of the item is left. Each look-alike text holds
no personal data; it counts as a false scrub when any placeholder appears. Prints a per-type and
per-variant table, and the same for a baseline git revision's scrubber (default: the commit before
the width-folded detection) measured in the same run.

    python bench/pii.py                    # this checkout, and the baseline
    python bench/pii.py --baseline none    # this checkout only
    python bench/pii.py --md               # markdown tables for bench/RESULTS.md
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("PII_BENCH_CODE", str(ROOT)))
sys.path.insert(1, str(ROOT))

import click  # noqa: E402
import polars as pl  # noqa: E402

from bench.pii_corpus import FULL, lookalikes, planted  # noqa: E402

BASELINE = "18475cb"  # main before issue 11 (the scrubber the real-data report measured)
PLACEHOLDER = {"phone": ("<PHONE>",), "email": ("<EMAIL>",), "id_card": ("<ID_CARD>",),
               "bank_card": ("<BANK_CARD>",), "secret": ("<SECRET_URL>", "<SECRET_KEY>")}
ANY_PLACEHOLDER = re.compile(r"<(?:PHONE|EMAIL|ID_CARD|BANK_CARD|SECRET_URL|SECRET_KEY)>")
DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def clean_all(texts: list[str]) -> list[str]:
    from stages.cleaning.steps import StepTimer
    from stages.cleaning.texts import clean_texts

    frame = pl.DataFrame({"instruction": texts, "input": [""] * len(texts), "output": [""] * len(texts)})
    return clean_texts(frame, StepTimer()).texts["instruction"].to_list()


def measure() -> dict:
    rows, fakes = planted(), lookalikes()
    out = clean_all([text for _, _, text in rows] + [text for _, text in fakes])
    found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (kind, variant, text), cleaned in zip(rows, out):
        leftover = re.findall(r"[0-9]{7,}", cleaned.translate(DIGITS).replace(" ", "").replace("-", ""))
        hit = any(p in cleaned for p in PLACEHOLDER[kind]) and not leftover
        found[kind, variant][0] += hit
        found[kind, variant][1] += 1
    false: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    examples = []
    for (kind, text), cleaned in zip(fakes, out[len(rows):]):
        bad = bool(ANY_PLACEHOLDER.search(cleaned))
        false[kind][0] += bad
        false[kind][1] += 1
        if bad and len(examples) < 5:
            examples.append(cleaned)
    misses = [cleaned for (kind, variant, text), cleaned in zip(rows, out)
              if not any(p in cleaned for p in PLACEHOLDER[kind])][:5]
    return {"found": {f"{k}|{v}": n for (k, v), n in found.items()}, "false": dict(false),
            "false_examples": examples, "missed_examples": misses}


def baseline(rev: str) -> dict | None:
    """Run `measure` on the scrubber of git revision `rev` (its stages/ extracted to a temp folder)."""
    archive = subprocess.run(["git", "archive", rev, "stages"], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tarfile.open(fileobj=BytesIO(archive.stdout)).extractall(tmp, filter="data")
        env = {**os.environ, "PII_BENCH_CODE": tmp}
        result = subprocess.run([sys.executable, __file__, "--json"], env=env, capture_output=True, text=True)
        return json.loads(result.stdout) if result.returncode == 0 else None


def summary(result: dict) -> tuple[dict, dict]:
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, (hit, total) in result["found"].items():
        kind = key.split("|")[0]
        by_type[kind][0] += hit
        by_type[kind][1] += total
    return by_type, result["false"]


def table(result: dict, base: dict | None, md: bool) -> list[str]:
    by_type, false = summary(result)
    base_type, base_false = summary(base) if base else ({}, {})
    lines = ["| type | planted | recall | baseline recall |", "|---|---:|---:|---:|"] if md else []
    for kind, (hit, total) in by_type.items():
        old = base_type.get(kind)
        old_text = f"{old[0] / old[1]:.3f}" if old else "-"
        lines.append(f"| {kind} | {total} | {hit / total:.3f} | {old_text} |" if md
                     else f"{kind:<10} planted {total:>4}  recall {hit / total:.3f}  baseline {old_text}")
    hits, total = (sum(v[i] for v in by_type.values()) for i in (0, 1))
    bhits, btotal = (sum(v[i] for v in base_type.values()) for i in (0, 1)) if base else (0, 0)
    old_all = f"{bhits / btotal:.3f}" if btotal else "-"
    lines.append(f"| all | {total} | {hits / total:.3f} | {old_all} |" if md
                 else f"{'all':<10} planted {total:>4}  recall {hits / total:.3f}  baseline {old_all}")
    fhits, ftotal = sum(v[0] for v in false.values()), sum(v[1] for v in false.values())
    bf = sum(v[0] for v in base_false.values()), sum(v[1] for v in base_false.values())
    old_false = f"{bf[0] / bf[1]:.3f}" if bf[1] else "-"
    lines.append("")
    lines.append(f"Look-alikes: {ftotal}, false scrubs {fhits} ({fhits / ftotal:.3%}); baseline {old_false}")
    for kind, (bad, count) in false.items():
        if bad or base_false.get(kind, [0])[0]:
            lines.append(f"  {kind}: {bad}/{count} (baseline {base_false.get(kind, ['-'])[0]}/{count})")
    lines.append("Per variant (found/planted): " + ", ".join(
        f"{key.replace('|', ':')} {hit}/{n}" for key, (hit, n) in sorted(result["found"].items())))
    for text in result["missed_examples"]:
        lines.append(f"  missed: {text!r}")
    for text in result["false_examples"]:
        lines.append(f"  false scrub: {text!r}")
    return lines


@click.command()
@click.option("--baseline", "rev", default=BASELINE, show_default=True,
              help="Git revision whose scrubber is measured next to this one ('none' to skip).")
@click.option("--md", is_flag=True, help="Markdown tables.")
@click.option("--json", "as_json", is_flag=True, help="Raw counts as JSON (used for the baseline run).")
def main(rev: str, md: bool, as_json: bool) -> None:
    """Measure PII recall and false scrubs. Example: python bench/pii.py --md"""
    result = measure()
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    base = None if rev == "none" else baseline(rev)
    if rev != "none" and base is None:
        click.echo(f"(baseline {rev} could not be measured)", err=True)
    click.echo("\n".join(table(result, base, md)))


if __name__ == "__main__":
    main()
