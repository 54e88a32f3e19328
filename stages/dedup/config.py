"""The `dedup` section of params.yaml (`DedupParams`), validated when it is loaded.

Every key has a default, so code and tests can build `DedupParams(threshold=0.7)`; the params
file itself must state the keys in `REQUIRED` (`load_section` and `stages.check` pass `FROM_FILE`).
Errors are one line naming the key: `params.yaml: dedup.ngram: must be an integer >= 1 and <= 64, got 0`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from stages.dedup.lsh import recall_params
from stages.dedup.minhash import Scheme
from stages.dedup.onehash import MAX_BINS
from stages.lib.params import Params, check, key_problem

TEXT_FIELDS = ("instruction", "input", "output")
REQUIRED = ("fields", "ngram", "num_perm", "seed", "threshold", "verify")  # in params.yaml, not in code

TextField = Literal["instruction", "input", "output"]


def between(low: int, high: int | None = None) -> Any:
    return check(lambda v: v >= low and (high is None or v <= high),
                 f"an integer >= {low}" + (f" and <= {high}" if high is not None else ""))


FIELDS_PHRASE = "a non-empty list of distinct fields from instruction, input, output"
OPEN_FRACTION = check(lambda v: 0.0 < v < 1.0, "a number in (0, 1)")
FRACTION = check(lambda v: 0.0 < v <= 1.0, "a number in (0, 1]")


class DedupParams(Params, section="dedup"):
    """Settings of the dedup stage; params.yaml says what each one means."""

    required_in_file: ClassVar[tuple[str, ...]] = REQUIRED

    fields: Annotated[tuple[TextField, ...], Field(strict=False),
                      check(lambda v: len(v) > 0 and len(set(v)) == len(v), FIELDS_PHRASE)] = TEXT_FIELDS
    ngram: Annotated[int, between(1, 64)] = 5
    num_perm: Annotated[int, between(2, 1 << 16)] = 128
    seed: Annotated[int, between(0, (1 << 32) - 1)] = 1
    threshold: Annotated[float, FRACTION] = 0.8
    verify: Literal["exact", "estimate"] = "exact"
    bands: Annotated[int, between(1)] | None = None
    rows: Annotated[int, between(1)] | None = None
    min_candidate_recall: Annotated[float, OPEN_FRACTION] = 0.99
    scheme: Scheme = "oph"
    bucket_window: Annotated[int, between(1)] = 64
    batch_size: Annotated[int, between(1)] = 4096
    workers: Annotated[int, between(1, 256)] | None = None
    answer_threshold: Annotated[float, FRACTION] | None = 0.5

    @field_validator("fields", mode="before")
    @classmethod
    def _fields_are_a_list(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise PydanticCustomError("value_rule", "must be {phrase}, got {got}",
                                      {"phrase": FIELDS_PHRASE, "got": repr(value)})
        return value

    @model_validator(mode="after")
    def _banding_fits(self) -> DedupParams:
        if (self.bands is None) != (self.rows is None):
            raise key_problem("bands/rows", f"give both or neither, got bands={self.bands!r}, rows={self.rows!r}")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise key_problem("bands/rows", f"bands * rows = {self.bands * self.rows} exceeds num_perm {self.num_perm}")
        if self.scheme == "oph" and self.num_perm > MAX_BINS:
            raise key_problem("scheme", f"oph supports num_perm up to {MAX_BINS}, got {self.num_perm}; use affine32")
        try:
            self.banding()
        except ValueError as exc:
            raise key_problem("min_candidate_recall", str(exc).removeprefix("dedup: ")) from None
        return self

    def banding(self) -> tuple[int, int]:
        """(bands, rows): the explicit ones, else the recall-tuned choice for `threshold`."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return recall_params(self.threshold, self.num_perm, self.min_candidate_recall)
