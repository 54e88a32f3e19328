"""The `dedup` section of params.yaml, validated when it is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stages.dedupe.lsh import recall_params
from stages.dedupe.minhash import SCHEMES, Scheme
from stages.lib.params import require_keys

TEXT_FIELDS = ("instruction", "input", "output")
VERIFY_MODES = ("exact", "estimate")
REQUIRED = {"fields", "ngram", "num_perm", "seed", "threshold", "verify"}
OPTIONAL = {"bands", "rows", "min_candidate_recall", "scheme", "bucket_window", "batch_size", "workers",
            "answer_threshold"}


@dataclass(frozen=True)
class DedupParams:
    """Settings of the dedup stage; see params.yaml for what each one means."""

    fields: tuple[str, ...] = TEXT_FIELDS
    ngram: int = 5
    num_perm: int = 128
    seed: int = 1
    threshold: float = 0.8
    verify: str = "exact"
    bands: int | None = None
    rows: int | None = None
    min_candidate_recall: float = 0.99
    scheme: Scheme = "affine32"
    bucket_window: int = 64
    batch_size: int = 4096
    workers: int | None = None
    answer_threshold: float | None = 0.5

    def banding(self) -> tuple[int, int]:
        """(bands, rows): the explicit ones, else the recall-tuned choice for `threshold`."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return recall_params(self.threshold, self.num_perm, self.min_candidate_recall)


def _int(where: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"an integer >= {low}" + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"{where}: must be {bound}, got {value!r}")
    return value


def _fraction(where: str, value: Any, *, allow_one: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 < value and (
        value <= 1.0 if allow_one else value < 1.0)
    if not ok:
        raise ValueError(f"{where}: must be a number in (0, 1{']' if allow_one else ')'}, got {value!r}")
    return float(value)


def _choice(where: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{where}: must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _fields(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(f not in TEXT_FIELDS for f in value) or len(set(value)) < len(
            value):
        raise ValueError(f"{where}: must be a non-empty list of distinct fields from {', '.join(TEXT_FIELDS)}, "
                         f"got {value!r}")
    return tuple(value)


def parse_params(section: Any, where: str = "params.yaml: dedup") -> DedupParams:
    """Check every key of the section; raise ValueError naming the first bad one."""
    require_keys(where, section, REQUIRED | OPTIONAL, REQUIRED)
    defaults = DedupParams()
    num_perm = _int(f"{where}.num_perm", section["num_perm"], 2, 1 << 16)
    bands, rows = section.get("bands"), section.get("rows")
    if (bands is None) != (rows is None):
        raise ValueError(f"{where}.bands/rows: give both or neither, got bands={bands!r}, rows={rows!r}")
    if bands is not None:
        bands = _int(f"{where}.bands", bands, 1)
        rows = _int(f"{where}.rows", rows, 1)
        if bands * rows > num_perm:
            raise ValueError(f"{where}.bands/rows: bands * rows = {bands * rows} exceeds num_perm {num_perm}")
    params = DedupParams(
        fields=_fields(f"{where}.fields", section["fields"]),
        ngram=_int(f"{where}.ngram", section["ngram"], 1, 64),
        num_perm=num_perm,
        seed=_int(f"{where}.seed", section["seed"], 0, (1 << 32) - 1),
        threshold=_fraction(f"{where}.threshold", section["threshold"], allow_one=True),
        verify=_choice(f"{where}.verify", section["verify"], VERIFY_MODES),
        bands=bands,
        rows=rows,
        min_candidate_recall=_fraction(f"{where}.min_candidate_recall",
                                       section.get("min_candidate_recall", defaults.min_candidate_recall),
                                       allow_one=False),
        scheme=_choice(f"{where}.scheme", section.get("scheme", defaults.scheme), SCHEMES),  # type: ignore[arg-type]
        bucket_window=_int(f"{where}.bucket_window", section.get("bucket_window", defaults.bucket_window), 1),
        batch_size=_int(f"{where}.batch_size", section.get("batch_size", defaults.batch_size), 1),
        workers=None if section.get("workers") is None else _int(f"{where}.workers", section["workers"], 1, 256),
        answer_threshold=None if section.get("answer_threshold", 0.5) is None else _fraction(
            f"{where}.answer_threshold", section.get("answer_threshold", defaults.answer_threshold), allow_one=True),
    )
    try:
        params.banding()
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return params
