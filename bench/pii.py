"""PII recall and false scrubs on a corpus written for this project (bench/pii_corpus.py, bench/pii_lookalikes.py).

Each planted text holds one item of one type in one written variant; it counts as found when the
type's placeholder appears and no digit run of 7+ is left (for a secret value after a key: when a
secret placeholder appears and the value is gone). Each look-alike text holds no personal data; it
counts as a false scrub when any placeholder appears. Prints recall per type and false scrubs per
look-alike family, next to a baseline git revision's scrubber (default: main before issue 21)
measured in the same run on the same corpus.

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

from bench.pii_corpus import planted  # noqa: E402
from bench.pii_lookalikes import lookalikes  # noqa: E402

BASELINE = "3474367"  # main before issue 21 (no secret values after keys, amounts read as phones)
SECRETS = ("<SECRET_URL>", "<SECRET_KEY>", "<SECRET>")
PLACEHOLDER = {"phone": ("<PHONE>",), "email": ("<EMAIL>",), "id_card": ("<ID_CARD>",),
               "bank_card": ("<BANK_CARD>",), "secret": SECRETS, "secret_kv": SECRETS}
ANY_PLACEHOLDER = re.compile(r"<(?:PHONE|EMAIL|ID_CARD|BANK_CARD|SECRET_URL|SECRET_KEY|SECRET)>")
DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def clean_all(texts: list[str]) -> list[str]:
    from stages.clean.steps import StepTimer
    from stages.clean.texts import clean_texts

    frame = pl.DataFrame({"instruction": texts, "input": [""] * len(texts), "output": [""] * len(texts)})
    return clean_texts(frame, StepTimer()).texts["instruction"].to_list()


def is_found(kind: str, value: str, cleaned: str) -> bool:
    if value:
        return value not in cleaned and any(p in cleaned for p in PLACEHOLDER[kind])
    leftover = re.findall(r"[0-9]{7,}", cleaned.translate(DIGITS).replace(" ", "").replace("-", ""))
    return any(p in cleaned for p in PLACEHOLDER[kind]) and not leftover


def measure() -> dict:
    rows, fakes = planted(), lookalikes()
    out = clean_all([text for _, _, text, _ in rows] + [text for _, text in fakes])
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    for (kind, variant, _, value), cleaned in zip(rows, out):
        hit = is_found(kind, value, cleaned)
        found[f"{kind}|{variant}"][0] += hit
        found[f"{kind}|{variant}"][1] += 1
        if not hit and len(misses) < 8:
            misses.append(cleaned)
    false: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    examples = []
    for (family, _), cleaned in zip(fakes, out[len(rows):]):
        bad = bool(ANY_PLACEHOLDER.search(cleaned))
        false[family][0] += bad
        false[family][1] += 1
        if bad and len(examples) < 8:
            examples.append(cleaned)
    return {"found": dict(found), "false": dict(false), "false_examples": examples, "missed_examples": misses}


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


def rate(pair: list[int] | None) -> str:
    return f"{pair[0] / pair[1]:.3f}" if pair else "-"


def table(result: dict, base: dict | None, md: bool) -> list[str]:
    by_type, false = summary(result)
    base_type, base_false = summary(base) if base else ({}, {})
    lines = ["| planted type | texts | recall | baseline recall |", "|---|---:|---:|---:|"] if md else []
    for kind, pair in by_type.items():
        lines.append(f"| {kind} | {pair[1]} | {rate(pair)} | {rate(base_type.get(kind))} |" if md
                     else f"{kind:<16} planted {pair[1]:>4}  recall {rate(pair)}  baseline {rate(base_type.get(kind))}")
    lines += ["", "| look-alike family | texts | false scrubs | baseline false scrubs |", "|---|---:|---:|---:|"] \
        if md else [""]
    for family, pair in false.items():
        lines.append(f"| {family} | {pair[1]} | {rate(pair)} | {rate(base_false.get(family))} |" if md
                     else f"{family:<16} texts {pair[1]:>4}  false scrubs {rate(pair)}  "
                          f"baseline {rate(base_false.get(family))}")
    lines.append("")
    lines.append("Per variant (found/planted): " + ", ".join(
        f"{key.replace('|', ':')} {hit}/{n}" for key, (hit, n) in sorted(result["found"].items())))
    lines += [f"  missed: {text!r}" for text in result["missed_examples"]]
    lines += [f"  false scrub: {text!r}" for text in result["false_examples"]]
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
