"""Validate agrees with clean: the `records` suite's pii columns count with clean's own detector, so look-alikes clean
keeps pass them, planted items fail them, and nothing clean leaves behind is counted."""

import polars as pl
import pytest

from bench.pii_corpus import planted
from bench.pii_lookalikes import lookalikes
from stages.clean.pii import PLACEHOLDERS, contact_counts, count_contacts, scrub_contacts
from stages.validate import run_suite
from stages.validate.derived import add_derived
from tests.clean.fixtures import clean_many
from tests.validate.samples import parameters, sample_records

PII_COLUMNS = {"pii_phone": "phone", "pii_email": "email", "pii_id_card": "id_card"}


def with_outputs(texts: list[str]) -> pl.DataFrame:
    """The sample records, repeated to one row per text, each text appended to a sample answer."""
    sample = sample_records().filter(pl.col("output") != "")
    rows = [{**sample.row(i % sample.height, named=True), "id": f"zhihu-{i:016x}"} for i in range(len(texts))]
    rows = [{**r, "output": r["output"] + "\n" + text} for r, text in zip(rows, texts)]
    return pl.DataFrame(rows, schema=sample.schema)


def pii_outcomes(frame: pl.DataFrame) -> dict:
    result = run_suite(frame, "records", parameters(frame))
    return {o.column: o for o in result.outcomes if o.column in PII_COLUMNS}


def prose_items(kind: str) -> list[str]:
    """Planted items of a type outside code blocks (validate reads prose; clean scrubs code-wide kinds anyway)."""
    return [text for type_, _, text, _ in planted() if type_ == kind and "```" not in text]


def test_lookalikes_pass_the_records_suite_pii_columns():
    texts = [text for _, text in lookalikes()]
    outcomes = pii_outcomes(with_outputs(texts))
    assert {name: (o.success, o.unexpected_count) for name, o in outcomes.items()} == {
        name: (True, 0) for name in PII_COLUMNS}


@pytest.mark.parametrize("column, kind", PII_COLUMNS.items())
def test_planted_items_fail_the_records_suite_pii_columns(column, kind):
    texts = prose_items(kind)
    outcome = pii_outcomes(with_outputs(texts))[column]
    assert not outcome.success and outcome.unexpected_count == len(texts) >= 100


def test_what_clean_leaves_behind_is_never_counted():
    texts = [text for _, _, text, _ in planted()] + [text for _, text in lookalikes()]
    cleaned, _, _ = clean_many(texts)
    frame = pl.DataFrame({"instruction": cleaned, "input": [""] * len(cleaned), "output": [""] * len(cleaned)})
    derived, _ = add_derived(frame, set(PII_COLUMNS))
    assert {name: derived[name].sum() for name in PII_COLUMNS} == dict.fromkeys(PII_COLUMNS, 0)


def test_counts_are_the_placeholders_the_scrub_inserts():
    texts = [text for _, _, text, _ in planted()] + [text for _, text in lookalikes()] + [None]
    counts = contact_counts(pl.Series(texts, dtype=pl.String))
    for text, row in zip(texts, counts.iter_rows(named=True)):
        expected = {kind: scrub_contacts(text).count(PLACEHOLDERS[kind]) for kind in row} if text else dict.fromkeys(
            row, 0)
        assert row == expected, text
    assert count_contacts("总价 13812345678 元，电话 138 1234 5678") == {"phone": 1, "email": 0, "id_card": 0,
                                                                     "bank_card": 0}
