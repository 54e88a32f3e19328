"""The text half of the `clean` stage: repairs, then PII, on instruction, input and output.

1. repairs (`repair`, `html`): control characters, mojibake, HTML, zero-width characters, markdown
   escape artefacts, whitespace; code, LaTeX and URLs are masked during the prose repairs
   (`segments`) and come back unchanged;
2. PII (`pii`, `secret_kv`): typed placeholders, counted per type; prose rules on the text with
   only code masked, then code-wide rules (secret URLs, key shapes, secret values after a
   secret-like key, e-mails, phones assigned in code) on the full text;
3. a record whose instruction is blank and whose question sits in `input` gets it as its
   instruction.
Each repair or scrub that changed a record appends its tag to `transforms` (`steps.TransformLog`).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from stages.clean import html, pii, repair, secret_kv
from stages.clean.segments import CODE, CODE_HINT, INNER_SENTINEL, MATH_URL, MATH_URL_HINT, Masked, mask, unmask
from stages.clean.steps import StepTimer, TransformLog, apply_expr, apply_python, candidate_rows, count_literal


@dataclass
class Cleaned:
    """Cleaned texts, the prose view the scores read, and what changed."""

    texts: pl.DataFrame
    prose: pl.DataFrame
    log: TransformLog
    pii_counts: dict[str, int]


def repair_texts(texts: pl.DataFrame, log: TransformLog, timer: StepTimer) -> tuple[Masked, Masked, pl.DataFrame]:
    """Run the repairs; return the code mask, the LaTeX/URL mask and the repaired masked prose."""
    def run(tag: str, result: tuple[pl.DataFrame, pl.Series]) -> pl.DataFrame:
        log.record(tag, result[1])
        return result[0]

    with timer.step("repair:rare_characters"):
        rare = candidate_rows(texts, repair.RARE_CHARS)  # plus rows HTML entities changed, below
    with timer.step("repair:noncharacters"):
        texts = run("clean:control", apply_expr(texts, repair.strip_noncharacters, repair.NONCHARACTER_HINT, rare))
    with timer.step("repair:mojibake"):
        texts = run("clean:mojibake", apply_python(texts, repair.fix_mojibake, repair.MOJIBAKE_HINT, rare))
    with timer.step("repair:html"):
        texts, converted = apply_python(texts, html.html_to_text, html.HTML_HINT)
        log.record("clean:html", converted)
        rare = {name: pl.concat([rows, converted.arg_true()]).unique().sort() for name, rows in rare.items()}
    with timer.step("mask"):
        code = mask(texts, CODE, CODE_HINT)
        spans = mask(code.texts, MATH_URL, MATH_URL_HINT, INNER_SENTINEL)
    masked = spans.texts
    with timer.step("repair:control"):
        masked = run("clean:control", apply_expr(masked, repair.remove_control, repair.CONTROL, rare))
    with timer.step("repair:zero_width"):
        masked = run("clean:zero_width", apply_expr(masked, repair.remove_zero_width, repair.ZERO_WIDTH_HINT, rare))
    with timer.step("repair:markdown_unescape"):
        masked = run("clean:markdown_unescape", apply_python(masked, repair.unescape_markdown, repair.ESCAPE_HINT))
    with timer.step("repair:whitespace"):
        masked = run("clean:whitespace", apply_expr(masked, repair.normalise_whitespace, repair.whitespace_hint))
    return code, spans, masked


def tally_pii(old: pl.DataFrame, new: pl.DataFrame, changed: pl.Series, kinds: tuple[str, ...],
              log: TransformLog, counts: dict[str, int]) -> None:
    """Count the placeholders each kind added to the changed records, and tag those records."""
    rows = changed.arg_true()
    for kind in kinds:
        added = pl.Series([0] * rows.len(), dtype=pl.Int64)
        if rows.len():
            subset = {name: frame.select(pl.all().gather(rows)) for name, frame in (("old", old), ("new", new))}
            placeholder = pii.PLACEHOLDERS[kind]
            added = count_literal(subset["new"], placeholder).cast(pl.Int64) - count_literal(
                subset["old"], placeholder).cast(pl.Int64)
        counts[kind] = counts.get(kind, 0) + int(added.sum())
        tagged = pl.Series([False] * old.height, dtype=pl.Boolean)
        if rows.len():
            tagged = tagged.scatter(rows.filter(added > 0), True)
        log.record(f"pii:{kind}", tagged)


def scrub_pii(code: Masked, spans: Masked, masked: pl.DataFrame, log: TransformLog,
              timer: StepTimer) -> tuple[pl.DataFrame, dict[str, int]]:
    """Prose rules on the text with only code masked, then code-wide rules on the full text."""
    counts: dict[str, int] = {}
    none = pl.Series([False] * masked.height, dtype=pl.Boolean)
    for kind in ("id_card", "bank_card", "phone", "secret_url", "secret_key", "secret_kv", "email"):
        log.record(f"pii:{kind}", none)  # tags in this order on every record, whichever step finds what
    with timer.step("unmask"):
        texts = unmask(spans, masked)
    with timer.step("pii:contacts"):
        new, changed = apply_python(texts, pii.scrub_contacts, pii.CONTACT_HINT)
        tally_pii(texts, new, changed, ("id_card", "bank_card", "phone", "email"), log, counts)
        texts = new
    with timer.step("unmask"):
        texts = unmask(code, texts)
    rules = (("secret_url", apply_expr, pii.scrub_secret_urls, pii.SECRET_URL_HINT),
             ("secret_key", apply_expr, pii.scrub_secret_keys, pii.SECRET_KEY_HINT),
             ("secret_kv", apply_python, secret_kv.scrub_secret_values, secret_kv.SECRET_KV_HINT),
             ("email", apply_expr, pii.scrub_emails, pii.EMAIL_HINT),
             ("phone", apply_expr, pii.scrub_code_phones, pii.CODE_PHONE_HINT))
    for kind, apply, rule, hint in rules:
        with timer.step(f"pii:{kind}"):
            new, changed = apply(texts, rule, hint)
            tally_pii(texts, new, changed, (kind,), log, counts)
            texts = new
    return texts, counts


def promote_input(full: pl.DataFrame, masked: pl.DataFrame, log: TransformLog) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A record whose instruction is blank and whose question sits in `input` gets it as its instruction."""
    moved = full.select((pl.col("instruction").str.strip_chars() == "")
                        & (pl.col("input").str.strip_chars() != "")).to_series()
    log.record("clean:input_as_instruction", moved)
    if not moved.any():
        return full, masked
    swap = [pl.when(moved).then(pl.col("input")).otherwise(pl.col("instruction")).alias("instruction"),
            pl.when(moved).then(pl.lit("")).otherwise(pl.col("input")).alias("input")]
    return full.with_columns(swap), masked.with_columns(swap)


def clean_texts(texts: pl.DataFrame, timer: StepTimer) -> Cleaned:
    log = TransformLog()
    code, spans, masked = repair_texts(texts, log, timer)
    full, counts = scrub_pii(code, spans, masked, log, timer)
    full, masked = promote_input(full, masked, log)
    return Cleaned(full, masked, log, counts)
