"""Near-duplicate clusters of a list of texts: signatures -> band keys -> candidates -> verified pairs -> components.

The texts come in priority order (index 0 is the record to keep first), so the
keeper of a cluster is its smallest index and the result does not depend on
the input's row order. Empty texts have no shingles: they are never candidates.
Each step is a pure function of one batch of texts or of a pair list, which is
what a distributed engine would map over partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from stages.dedupe.components import component_labels, keepers
from stages.dedupe.config import DedupParams
from stages.dedupe.lsh import band_keys, candidate_pairs
from stages.dedupe.minhash import estimated_jaccard, permutations, signatures
from stages.dedupe.shingles import shingle_hashes, shingle_sets
from stages.dedupe.verify import exact_jaccard


@dataclass(frozen=True)
class NearResult:
    """Verified pairs and, per text, its cluster keeper and Jaccard similarity to that keeper."""

    candidates: int
    left: np.ndarray
    right: np.ndarray
    jaccard: np.ndarray
    keeper: np.ndarray
    jaccard_to_keeper: np.ndarray


def _batches(texts: pl.Series, size: int):
    for lo in range(0, texts.len(), size):
        yield lo, texts.slice(lo, size).to_list()


def batch_signatures(batch: list[str], params: DedupParams) -> np.ndarray:
    """(num_perm, len(batch)) MinHash signatures of one batch."""
    perms = permutations(params.num_perm, params.seed, params.scheme)
    return signatures(*shingle_hashes(batch, params.ngram), perms, params.scheme)


def sketch(texts: pl.Series, params: DedupParams) -> tuple[np.ndarray, np.ndarray | None]:
    """Band keys (bands, n) of all texts; the signatures too when verification uses them."""
    bands, rows = params.banding()
    keys = np.empty((bands, texts.len()), dtype=np.uint64)
    sig = np.empty((params.num_perm, texts.len()), dtype=np.uint32) if params.verify == "estimate" else None
    for lo, batch in _batches(texts, params.batch_size):
        batch_sig = batch_signatures(batch, params)
        keys[:, lo : lo + len(batch)] = band_keys(batch_sig, bands, rows)
        if sig is not None:
            sig[:, lo : lo + len(batch)] = batch_sig
    return keys, sig


def pair_jaccard(texts: pl.Series, left: np.ndarray, right: np.ndarray, params: DedupParams,
                 sig: np.ndarray | None) -> np.ndarray:
    """Jaccard of each pair: exact over shingle sets, or the signature estimate when verify=estimate."""
    if sig is not None:
        return estimated_jaccard(sig, left, right)
    docs = np.unique(np.concatenate([left, right]))
    parts = [shingle_sets(batch, params.ngram) for _, batch in _batches(texts.gather(docs), params.batch_size)]
    values = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.uint32)
    sizes = np.concatenate([np.diff(p[1]) for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return exact_jaccard(values, offsets, np.searchsorted(docs, left), np.searchsorted(docs, right))


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


def find_near_duplicates(texts: pl.Series, params: DedupParams) -> NearResult:
    """Cluster `texts` (in priority order) by verified Jaccard >= params.threshold."""
    n = texts.len()
    keys, sig = sketch(texts, params)
    filled = np.flatnonzero(texts.str.len_chars().to_numpy() > 0)
    left, right = candidate_pairs(keys[:, filled], params.bucket_window, docs=filled)
    jaccard = pair_jaccard(texts, left, right, params, sig) if left.size else np.zeros(0)
    ok = jaccard >= params.threshold
    left, right, jaccard = left[ok], right[ok], jaccard[ok]
    keeper = keepers(component_labels(n, left, right), np.arange(n))
    to_keeper = np.ones(n, dtype=np.float64)
    members = np.flatnonzero(keeper != np.arange(n))
    if members.size:
        found = _lookup(left, right, jaccard, keeper[members], members)
        missing = np.isnan(found)
        if missing.any():
            found[missing] = pair_jaccard(texts, keeper[members][missing], members[missing], params, sig)
        to_keeper[members] = found
    return NearResult(int(ok.size), left, right, jaccard, keeper, to_keeper)
