"""The near-duplicate decision, in one place: which candidate pairs are duplicates, and their clusters.

A candidate pair is a near duplicate when the Jaccard similarity of the two records' texts (exact
over shingle sets, or the signature estimate with verify=estimate) is at least `threshold` and,
with `answer_threshold`, their answers agree: both empty, or their exact Jaccard at least
`answer_threshold`. The clusters are the connected components of those pairs; records are numbered
in priority order, so each cluster keeps its smallest number.

Where the sets are kept is not decided here: `near_pairs` reads them through `PairSets`. The stage
reads them from its spilled work files (`store.StoredSets`, via `plan.verify_candidates`, here or
on Ray); `near.find_near_duplicates` builds them from texts in memory (`near.TextSets`: the
benchmark's core, and the reference the stage is tested against in tests/dedup/test_decision.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from stages.dedup.components import component_labels, keepers
from stages.dedup.config import DedupParams


class PairSets(Protocol):
    """The shingle sets (or signatures) of records numbered 0..n-1, wherever they are kept."""

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Jaccard similarity of records a[i] and b[i], for every i (float64)."""

    def empty(self, docs: np.ndarray) -> np.ndarray:
        """Per record of `docs`: True when its text is empty (it has no shingles)."""


@dataclass(frozen=True)
class NearResult:
    """Verified pairs and, per record, its cluster keeper and Jaccard similarity to that keeper."""

    candidates: int
    left: np.ndarray
    right: np.ndarray
    jaccard: np.ndarray
    keeper: np.ndarray
    jaccard_to_keeper: np.ndarray


def near_pairs(n: int, left: np.ndarray, right: np.ndarray, texts: PairSets, answers: PairSets | None,
               params: DedupParams) -> NearResult:
    """Decide the candidate pairs (left[i], right[i]) of n records (in priority order) and cluster the
    duplicates; `answers` (the records' answers) is checked when given and params.answer_threshold is set."""
    jaccard = texts.jaccard(left, right)
    ok = jaccard >= params.threshold
    if answers is not None and params.answer_threshold is not None and ok.any():
        a, b = left[ok], right[ok]
        agree = answers.jaccard(a, b) >= params.answer_threshold
        ok[ok] = agree | (answers.empty(a) & answers.empty(b))
    return cluster_result(n, int(ok.size), left[ok], right[ok], jaccard[ok], texts.jaccard)


def _lookup(left: np.ndarray, right: np.ndarray, jaccard: np.ndarray, qa: np.ndarray, qb: np.ndarray):
    """Jaccard of the query pairs found among (left, right); NaN for those not found."""
    known = (left.astype(np.uint64) << np.uint64(32)) | right.astype(np.uint64)
    query = (qa.astype(np.uint64) << np.uint64(32)) | qb.astype(np.uint64)
    out = np.full(len(query), np.nan)
    if known.size:
        pos = np.minimum(np.searchsorted(known, query), known.size - 1)
        found = known[pos] == query
        out[found] = jaccard[pos[found]]
    return out


def cluster_result(n: int, candidates: int, left: np.ndarray, right: np.ndarray, jaccard: np.ndarray,
                   measure: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> NearResult:
    """Clusters of the verified pairs, each member's keeper and its Jaccard to that keeper; `measure(a, b)`
    gives the Jaccard of member/keeper pairs that were not verified pairs themselves (chains A ~ B ~ C)."""
    keeper = keepers(component_labels(n, left, right), np.arange(n))
    to_keeper = np.ones(n, dtype=np.float64)
    members = np.flatnonzero(keeper != np.arange(n))
    if members.size:
        found = _lookup(left, right, jaccard, keeper[members], members)
        missing = np.isnan(found)
        if missing.any():
            found[missing] = measure(keeper[members][missing], members[missing])
        to_keeper[members] = found
    return NearResult(candidates, left, right, jaccard, keeper, to_keeper)
