"""The dedup index (`--index data/dedup_index`, a persistent DVC output): what a later run may reuse.

It holds, per record of the last run (in id order), pass 1's arrays keyed by the record's id and
fingerprint (`plan.fingerprints`: a hash of every column pass 1 reads): text hashes, emptiness,
priority keys, whether the answer is blank, and the LSH band keys; and the Jaccard values measured
for pairs of texts (`memo.PairMemo`: texts and answers). A run reuses a record's arrays while its id
and fingerprint are unchanged, and a measured value for the same two texts; everything else (new or
changed records, pairs not measured before) is computed, and the decision is taken again over all
records, so the outputs are those of a run without an index (tests/dedup/test_index.py).

Nothing in it is a decision, only values that depend on a record's content or a pair of texts, so
an index of any earlier input is safe to reuse. It is reused only when it was written with the same
`identity`: format, code (a hash of stages/dedup/*.py), polars version (its hashes are the text
hashes), fields, ngram, num_perm, seed, scheme, threshold, verify and the banding; otherwise, or
when a file is missing, truncated or does not match its checksum (xxh3-128 in index.json), the
stage says why in one line and computes everything. Files: index.json, records.arrow (Arrow IPC),
keys.npy, texts.arrow, answers.arrow. They are written to `<index>.partial` and swapped in whole.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import xxhash

from stages.dedup.config import DedupParams
from stages.dedup.memo import MEMO_SCHEMA

FORMAT = 1
ARRAYS = {"fp": 2, "hashes": 2, "empty": 1, "verified": 1, "human": 1, "chars": 1, "answer_empty": 1}
FILES = ("records.arrow", "keys.npy", "texts.arrow", "answers.arrow")
CHUNK = 1 << 24


@dataclass
class Index:
    """The arrays of the records (rows in id order) and the measured pairs."""

    ids: pl.Series
    arrays: dict[str, np.ndarray]  # ARRAYS: (2, n) or (n,)
    keys: np.ndarray  # (bands, n) uint64
    texts: pl.DataFrame  # memo.MEMO_SCHEMA
    answers: pl.DataFrame

    def match(self, ids: pl.Series, fp: np.ndarray) -> np.ndarray:
        """For each record (ids, fingerprints fp (2, m)), its row in the index, or -1 when it is not there
        or its fingerprint differs."""
        if self.ids.len() == 0:
            return np.full(ids.len(), -1, dtype=np.int64)
        at = np.minimum(self.ids.search_sorted(ids).to_numpy().astype(np.int64), self.ids.len() - 1)
        same = (self.ids.gather(at) == ids).to_numpy() & (self.arrays["fp"][:, at] == fp).all(axis=0)
        return np.where(same, at, -1)


def code_digest() -> str:
    """xxh3-128 of the dedup code (stages/dedup/*.py, by name): any change invalidates the index."""
    digest = xxhash.xxh3_128()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def identity(params: DedupParams) -> dict:
    bands, rows = params.banding()
    return {"format": FORMAT, "code": code_digest(), "polars": pl.__version__, "fields": list(params.fields),
            "ngram": params.ngram, "num_perm": params.num_perm, "seed": params.seed, "scheme": params.scheme,
            "threshold": params.threshold, "verify": params.verify, "bands": bands, "rows": rows}


def file_digest(path: Path) -> str:
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def changed(built: dict, now: dict) -> str | None:
    """Why an index built with `built` cannot serve `now`, or None."""
    for key, value in now.items():
        if built.get(key) != value:
            if key == "code":
                return "it was built by other dedup code (stages/dedup changed)"
            return f"it was built with {key} {built.get(key)!r}, now {value!r}"
    return None


def reusable(path: Path, params: DedupParams) -> tuple[Index | None, str]:
    """The index at `path` if it can serve `params`; else None and why (one line)."""
    manifest = path / "index.json"
    if not manifest.is_file():
        return None, f"there is no index at {path}"
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        reason = changed(meta["identity"], identity(params))
        if reason:
            return None, reason
        for name in FILES:
            size, expected = meta["files"][name]["bytes"], meta["files"][name]["xxh3"]
            found = (path / name).stat().st_size if (path / name).is_file() else None
            if found != size:
                return None, f"{path / name} is {'missing' if found is None else 'truncated'} ({found} of {size} bytes)"
            if file_digest(path / name) != expected:
                return None, f"{path / name} does not match its checksum"
        return read_files(path, meta["rows"], params.banding()[0]), ""
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as exc:
        return None, f"{path} is unreadable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"


def read_files(path: Path, n: int, bands: int) -> Index:
    frame = pl.read_ipc(path / "records.arrow")
    arrays = {name: (np.stack([frame[f"{name}{i}"].to_numpy() for i in range(width)]) if width == 2
                     else frame[name].to_numpy()) for name, width in ARRAYS.items()}
    keys = np.load(path / "keys.npy", allow_pickle=False)
    texts = pl.read_ipc(path / "texts.arrow")
    answers = pl.read_ipc(path / "answers.arrow")
    if frame.height != n or keys.shape != (bands, n) or texts.schema != MEMO_SCHEMA or answers.schema != MEMO_SCHEMA:
        raise ValueError(f"the files do not agree with index.json ({frame.height} records, keys {keys.shape})")
    return Index(frame["id"], arrays, keys, texts, answers)


def staging(path: Path) -> Path:
    """The folder the next index is written to (emptied first)."""
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


def save_keys(partial: Path, keys: np.ndarray) -> None:
    np.save(partial / "keys.npy", keys, allow_pickle=False)


def finish(path: Path, partial: Path, params: DedupParams, ids: pl.Series, arrays: dict[str, np.ndarray],
           texts: pl.DataFrame, answers: pl.DataFrame) -> None:
    """Write the records and memo files next to keys.npy in `partial`, then index.json, and swap it in."""
    columns = {"id": ids}
    for name, width in ARRAYS.items():
        values = arrays[name]
        columns |= {f"{name}{i}": values[i] for i in range(width)} if width == 2 else {name: values}
    pl.DataFrame(columns).write_ipc(partial / "records.arrow", compression="uncompressed")
    texts.write_ipc(partial / "texts.arrow", compression="uncompressed")
    answers.write_ipc(partial / "answers.arrow", compression="uncompressed")
    files = {name: {"bytes": (partial / name).stat().st_size, "xxh3": file_digest(partial / name)} for name in FILES}
    meta = {"identity": identity(params), "rows": ids.len(), "files": files}
    (partial / "index.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    old = path.with_name(path.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    partial.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def finish_empty(path: Path, partial: Path, params: DedupParams, no_ids: pl.Series) -> None:
    """An index of no records (the Ray engine keeps no band keys on the driver): valid, reuses nothing."""
    save_keys(partial, np.zeros((params.banding()[0], 0), dtype=np.uint64))
    arrays = {name: np.zeros((2, 0), dtype=np.uint64) if width == 2 else np.zeros(0, dtype=bool)
              for name, width in ARRAYS.items()} | {"chars": np.zeros(0, dtype=np.int64)}
    memo = pl.DataFrame(schema=MEMO_SCHEMA)
    finish(path, partial, params, no_ids, arrays, memo, memo)
