"""Dedup benchmark: accuracy against exact Jaccard, and speed against datasketch, on one labelled corpus.

For each size, the corpus of bench/dedup_corpus.py is built once (cached under
--work) and each method runs in its own subprocess, which reports its wall time
and peak RSS (ru_maxrss of that process, corpus included):
  ours            the dedup stage (`run_dedup`: read parquet, dedup, write outputs), verify=exact
  ours-estimate   the same with verify=estimate
  ds-best         datasketch at its best: MinHash.generator (bulk) with hashfunc=xxhash.xxh32_intdigest on
                  UTF-32-LE shingle bytes (the same hash as ours), MinHashLSH insertion session, query per doc
  ds-record       datasketch record by record: MinHash() and update() per UTF-8 shingle (sha1), insert, query
datasketch runs start from the already normalised texts; ours includes reading and writing parquet.
Ground truth: exact Jaccard of the shingle sets (Python sets of strings) for every pair proposed by
any method, every pair within a planted family, and every candidate of a high-recall screen
(256 permutations, 64 bands x 4 rows: a pair at 0.8 is missed with probability ~1e-15).

Example:
    python bench/dedup.py --sizes 10000,100000,1000000 --work /tmp/dedup-bench --results bench/RESULTS.md
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dedup_corpus import build_corpus  # noqa: E402
from bench.dedup_report import accuracy_rows, write_section  # noqa: E402
from stages.dedup.config import DedupParams  # noqa: E402
from stages.dedup.shingles import dedup_text  # noqa: E402

PARAMS = DedupParams()
METHODS = ("ours", "ours-estimate", "ds-best", "ds-record")


def corpus_paths(work: Path, n: int) -> tuple[Path, Path]:
    """Build (once) and return the corpus and label parquet files for size n, rows in id order (as the
    normalize stage writes them; labels row for row)."""
    corpus, labels = work / f"corpus-{n}.parquet", work / f"labels-{n}.parquet"
    if not corpus.exists():
        records, label_frame = build_corpus(n, seed=n)
        records.sort("id").write_parquet(corpus)
        label_frame.sort("id").write_parquet(labels)
    return corpus, labels


def texts_of(corpus: Path) -> list[str]:
    return pl.read_parquet(corpus).select(dedup_text(PARAMS.fields)).to_series().to_list()


def encode(pairs: set[tuple[int, int]] | np.ndarray, n: int) -> np.ndarray:
    arr = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2) if isinstance(pairs, set) else pairs
    return np.unique(np.minimum(arr[:, 0], arr[:, 1]) * n + np.maximum(arr[:, 0], arr[:, 1]))


def group_pairs(groups: list[list[int]]) -> set[tuple[int, int]]:
    return {(a, b) for g in groups for i, a in enumerate(g) for b in g[i + 1:]}


# ---- methods (run in a child process) -------------------------------------------------------------------

def run_ours(corpus: Path, out: Path, verify: str) -> dict[str, np.ndarray]:
    from stages.dedup.stage import run_dedup

    started = time.perf_counter()
    _, result = run_dedup(corpus, out / "stage", out / "metrics.json", DedupParams(verify=verify))
    seconds = time.perf_counter() - started
    ids = pl.read_parquet(corpus, columns=["id"]).with_row_index("row")
    n = ids.height
    text = pl.read_parquet(corpus).select(dedup_text(PARAMS.fields)).with_row_index("row")
    exact_groups = [g for g in text.group_by("text").agg("row")["row"].to_list() if len(g) > 1]
    row_of = dict(zip(ids["id"].to_list(), ids["row"].to_list()))
    rep = np.arange(n)
    for g in exact_groups:
        rep[g] = min(g)
    members: dict[int, list[int]] = {}
    for r in range(n):
        members.setdefault(int(rep[r]), []).append(r)
    asserted = group_pairs(exact_groups)
    for a, b in zip(result.pairs["id_a"].to_list(), result.pairs["id_b"].to_list()):
        asserted |= {(x, y) for x in members[rep[row_of[a]]] for y in members[rep[row_of[b]]]}
    clusters = pl.read_parquet(out / "stage" / "clusters.parquet").join(ids, on="id").group_by("kept_id").agg("row")["row"].to_list()
    return {"seconds": np.array(seconds), "core_seconds": np.array(result.seconds["dedup"]),
            "asserted": encode(asserted, n), "clusters": encode(group_pairs(clusters), n)}


def ds_cluster(pairs: set[tuple[int, int]], n: int) -> list[int]:
    """Union-find over candidate pairs, keeping the first document of each cluster (what a peer would do)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [i for i in range(n) if find(i) == i]


def utf32_shingles(text: str, ngram: int) -> list[bytes]:
    """The UTF-32-LE bytes of each window of `ngram` characters (the whole text when shorter): the shingles
    whose XXH32 is our shingle hash, as datasketch is handed them."""
    data, width = text.encode("utf-32-le"), 4 * ngram
    return [data[i:i + width] for i in range(0, len(data) - width + 4, 4)] if len(data) >= width else [data]


def run_datasketch(corpus: Path, best: bool) -> dict[str, np.ndarray]:
    import xxhash
    from datasketch import MinHash, MinHashLSH

    texts, n_gram, k = texts_of(corpus), PARAMS.ngram, PARAMS.num_perm
    started, cpu = time.perf_counter(), time.process_time()
    lsh, sketches = MinHashLSH(threshold=PARAMS.threshold, num_perm=k), []
    if best:
        gen = MinHash.generator((utf32_shingles(t, n_gram) for t in texts), num_perm=k, hashfunc=xxhash.xxh32_intdigest)
        with lsh.insertion_session() as session:
            for i, m in enumerate(gen):
                session.insert(i, m, check_duplication=False)
                sketches.append(m)
    else:
        for i, t in enumerate(texts):
            m = MinHash(num_perm=k)
            for s in ([t[j:j + n_gram] for j in range(len(t) - n_gram + 1)] if len(t) >= n_gram else [t]):
                m.update(s.encode("utf-8"))
            lsh.insert(i, m)
            sketches.append(m)
    candidates = {(min(i, j), max(i, j)) for i, m in enumerate(sketches) for j in lsh.query(m) if j != i}
    ds_cluster(candidates, len(texts))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    estimated = {(a, b) for a, b in candidates if sketches[a].jaccard(sketches[b]) >= PARAMS.threshold}
    return {"seconds": np.array(seconds), "cpu": np.array(cpu), "candidates": encode(candidates, len(texts)),
            "estimate": encode(estimated, len(texts))}


def child(method: str, corpus: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if method.startswith("ours"):
        found = run_ours(corpus, out, "estimate" if method == "ours-estimate" else "exact")
    else:
        found = run_datasketch(corpus, best=method == "ds-best")
    np.savez(out / "pairs.npz", **{k: v for k, v in found.items() if not k.endswith("seconds") and k != "cpu"})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"seconds": float(found["seconds"]), "peak_rss_mb": peak_mb, "load": load_average()}
    if "core_seconds" in found:
        result["core_seconds"] = float(found["core_seconds"])
    (out / "result.json").write_text(json.dumps(result))


def load_average() -> float:
    """The 1-minute load average: this machine is shared, so timings carry it."""
    return float(Path("/proc/loadavg").read_text().split()[0])


# ---- driver ---------------------------------------------------------------------------------------------

def run_method(method: str, corpus: Path, out: Path, timeout: float | None) -> dict | None:
    """Run one method in a fresh interpreter; None if it ran out of time."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "child", method, str(corpus), str(out)]
    try:
        subprocess.run(cmd, check=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None
    return json.loads((out / "result.json").read_text())


def truth_jaccard(texts: list[str], codes: np.ndarray, n: int, ngram: int) -> np.ndarray:
    """Exact Jaccard of the shingle sets (Python sets of strings) of each encoded pair (a * n + b)."""
    out = np.empty(codes.size)
    cache_key, cache = -1, set()
    for k, code in enumerate(codes.tolist()):
        a, b = divmod(code, n)
        if a != cache_key:
            cache_key, cache = a, shingle_set(texts[a], ngram)
        other = shingle_set(texts[b], ngram)
        union = len(cache | other)
        out[k] = len(cache & other) / union if union else 0.0
    return out


def shingle_set(text: str, n: int) -> set[str]:
    return {text[i:i + n] for i in range(len(text) - n + 1)} if len(text) >= n else ({text} if text else set())


def screen_pairs(texts: list[str]) -> np.ndarray:
    """High-recall candidate screen: 256 permutations, 64 bands of 4 rows, wide buckets."""
    from stages.dedup.lsh import candidate_pairs
    from stages.dedup.near import sketch

    screen = DedupParams(num_perm=256, bands=64, rows=4, seed=7, bucket_window=1000, verify="exact")
    keys, _ = sketch(pl.Series(texts), screen)
    left, right = candidate_pairs(keys, screen.bucket_window)
    return np.stack([left, right], axis=1)


def evaluate(corpus: Path, labels: Path, runs: dict[str, Path]) -> list[dict]:
    """Pair precision / recall / F1 of every method's pair sets against exact Jaccard."""
    texts, n = texts_of(corpus), pl.read_parquet(labels).height
    families = pl.read_parquet(labels).with_row_index("row").group_by("family").agg("row")["row"].to_list()
    predicted = {f"{m}:{k}": v for m, p in runs.items() for k, v in np.load(p / "pairs.npz").items()}
    pool = np.unique(np.concatenate([encode(screen_pairs(texts), n), encode(group_pairs(families), n),
                                     *predicted.values()]))
    jaccard = truth_jaccard(texts, pool, n, PARAMS.ngram)
    return accuracy_rows(pool, jaccard, predicted, PARAMS.threshold)


@click.group(invoke_without_command=True)
@click.option("--sizes", default="10000,100000,1000000", show_default=True, help="Corpus sizes, comma-separated.")
@click.option("--work", type=click.Path(path_type=Path), default=Path("/tmp/dedup-bench"), show_default=True)
@click.option("--results", type=click.Path(path_type=Path), default=ROOT / "bench" / "RESULTS.md", show_default=True)
@click.option("--slow-limit", default=360.0, show_default=True, help="Seconds allowed to ds-record per size.")
@click.option("--accuracy-max", default=1_000_000, show_default=True, help="Largest size to score accuracy on.")
@click.pass_context
def main(ctx: click.Context, sizes: str, work: Path, results: Path, slow_limit: float, accuracy_max: int) -> None:
    """Run the benchmark and write the `## dedup` section of RESULTS.md."""
    if ctx.invoked_subcommand:
        return
    work.mkdir(parents=True, exist_ok=True)
    speed, accuracy, slow_rate, host = [], {}, None, machine()
    for n in [int(s) for s in sizes.split(",")]:
        corpus, labels = corpus_paths(work, n)
        runs: dict[str, Path] = {}
        for method in METHODS:
            if method == "ds-record" and slow_rate and n / slow_rate > slow_limit:
                speed.append({"n": n, "method": method, "extrapolated_seconds": n / slow_rate})
                continue
            out = work / f"run-{n}-{method}"
            res = run_method(method, corpus, out, slow_limit if method == "ds-record" else None)
            if res is None:
                speed.append({"n": n, "method": method, "timeout": slow_limit})
                continue
            runs[method] = out
            speed.append({"n": n, "method": method, **{k: v for k, v in res.items() if k != "core_seconds"}})
            if "core_seconds" in res:  # the same run, without reading and writing parquet
                speed.append({"n": n, "method": f"{method} (dedup step)", "seconds": res["core_seconds"],
                              "peak_rss_mb": res["peak_rss_mb"], "load": res["load"]})
            if method == "ds-record":
                slow_rate = n / res["seconds"]
            print(f"n={n} {method}: {res['seconds']:.1f} s, {res['peak_rss_mb']:.0f} MB", flush=True)
        if n <= accuracy_max:
            accuracy[n] = evaluate(corpus, labels, runs)
        write_section(results, speed, accuracy, host, "python bench/dedup.py " + " ".join(sys.argv[1:]))


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import datasketch
    import numpy

    return (f"{cpu}, {len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, polars {pl.__version__}, datasketch {datasketch.__version__}; "
            f"1-minute load average at start {load_average()}")


@main.command("child", hidden=True)
@click.argument("method", type=click.Choice(METHODS))
@click.argument("corpus", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
def child_command(method: str, corpus: Path, out: Path) -> None:
    child(method, corpus, out)


if __name__ == "__main__":
    main()
