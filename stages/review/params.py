"""`params.yaml: review`: which records `python -m stages.review export` puts in the review queue, and the
version of the reviewing guidelines written into every task (schemas/review/README.md).

The queue is the union of: a seeded sample of up to `per_source` records per source; records whose
judge verdict is one of `judge_verdicts` (the `judge_verdict` column; none while no stage writes it);
the `nearest.count` records whose `nearest.column` is closest to `nearest.threshold`; and `ids`.
Records with a current decision (one on their present text) are left out unless `include_reviewed`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from stages.lib.params import Block, NonNegativeInt, Number, Params, check, key_problem

Name = Annotated[str, check(lambda v: bool(v.strip()), "a non-empty string")]


class NearestParams(Params):
    """The `count` records whose `column` (a numeric column such as ppl) is nearest `threshold`."""

    column: Name | None = None
    threshold: Number | None = None
    count: NonNegativeInt = 0

    @model_validator(mode="after")
    def _complete(self) -> NearestParams:
        if self.count and (self.column is None or self.threshold is None):
            raise key_problem("count", f"{self.count} needs both column and threshold (null = off: count 0)")
        return self


class QueueParams(Params):
    per_source: NonNegativeInt = 0
    seed: int = 0
    judge_verdicts: list[Name] = Field(default_factory=list)
    nearest: Annotated[NearestParams, Block] = NearestParams()
    ids: list[Name] = Field(default_factory=list)
    include_reviewed: bool = False


class ReviewParams(Params, section="review"):
    """`params.yaml: review`."""

    guidelines: Name = "1"
    queue: Annotated[QueueParams, Block] = QueueParams()
