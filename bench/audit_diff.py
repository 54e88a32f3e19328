"""Benchmark `audit diff` on two revisions of 1M records each.

    python bench/audit_diff.py                 # 1M records, appends '## audit diff' to bench/RESULTS.md
    python bench/audit_diff.py --n 20000 --no-write   # a quick check

Generates two synthetic record sets (about 300 characters of Chinese text per
record; B = A with 1% of the records removed, 1% added and 1% changed, plus
5,000 rejected rows per side with some reasons changed), then measures, each
in a fresh process (peak RSS from wait4):

1. core: the per-stage diff core (`stages.audit.report.diff_stage`: reading
   both parquet pairs from disk, content hashes, joins on id, drop accounting,
   field diffs of the changed records) on a workspace side per set;
2. cli: `python -m stages.audit diff HEAD~1 HEAD --json` end to end in a temp
   git + DVC repo where the two sets are two commits of one pipeline stage
   (files read through dvc.api from the DVC cache).

The expected counts (10,000 added / removed / changed) are checked, so a fast
but wrong diff fails the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POOL_SIZE = 4096
CHARS = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法"
         "所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日"
         "那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通")


def generate(n: int, out: Path) -> dict[str, int]:
    """Write out/a and out/b, each data/bench/{records,rejected}.parquet; returns the planted counts."""
    import polars as pl

    from stages.lib.io import PARQUET_OPTIONS
    from stages.lib.record import RECORD_SCHEMA, REJECTED_SCHEMA

    rng = random.Random(20261101)
    pool = pl.Series("pool", ["".join(rng.choice(CHARS) for _ in range(50)) for _ in range(POOL_SIZE)])

    i = pl.col("i")

    def records(lo: int, hi: int) -> pl.DataFrame:
        base = pl.DataFrame({"i": pl.int_range(lo, hi, eager=True)})
        parts = [pl.lit(pool).gather((i * k + j * 17) % POOL_SIZE) for j, k in enumerate((7, 13, 31, 61, 97, 193))]
        return base.select(
            pl.format("bench-{}", i.cast(pl.String).str.zfill(12)).alias("id"),
            pl.format("subset{}", i % 8).alias("source"),
            pl.format("bench/subset{}.jsonl:{}", i % 8, i).alias("source_uri"),
            i.hash(seed=1).cast(pl.String).str.zfill(20).alias("raw_sha256"),
            pl.lit("2026-11-01").alias("fetched_at"),
            pl.lit("CC0-1.0").alias("license"),
            pl.concat_str([parts[0].str.slice(0, 30), pl.lit("？")]).alias("instruction"),
            pl.lit("").alias("input"),
            pl.concat_str([*parts[1:], i.cast(pl.String)]).alias("output"),
            pl.struct(pl.lit(["问答"]).alias("major"), pl.lit(["社区问答"]).alias("minor")).alias("task_type"),
            pl.lit(["通用"]).alias("domain"),
            pl.lit("").alias("metadata"),
            pl.lit("human").alias("answer_from"),
            (i % 2 == 0).alias("human_verified"),
            pl.lit("").alias("copyright"),
            pl.lit(["scrape:placeholder_to_empty"]).alias("transforms"),
        ).select([pl.col(c).cast(t) for c, t in RECORD_SCHEMA.items()])

    def rejected(reasons: pl.Expr) -> pl.DataFrame:
        base = pl.DataFrame({"i": pl.int_range(0, 5000, eager=True)})
        frame_ = base.select(pl.format("bench-r{}", i.cast(pl.String).str.zfill(11)).alias("id"),
                             pl.format("subset{}", i % 8).alias("source"), reasons.alias("reason"),
                             pl.format("bench/subset{}.jsonl: row {}", i % 8, i).alias("detail"))
        return frame_.select([pl.col(c).cast(t) if c in frame_.columns else pl.lit(None, t).alias(c)
                              for c, t in REJECTED_SCHEMA.items()])

    a = records(0, n)
    removed = pl.col("id").str.slice(6).cast(pl.Int64) % 100 == 7
    changed = pl.col("id").str.slice(6).cast(pl.Int64) % 100 == 50
    b = pl.concat([
        a.filter(~removed).with_columns(
            pl.when(changed).then(pl.col("output") + "（已修订）").otherwise(pl.col("output")).alias("output")),
        records(n, n + n // 100),
    ]).sort("id")
    for name, kept, rej in (
        ("a", a, rejected(pl.lit("clean_too_short"))),
        ("b", b, rejected(pl.when(i % 10 == 0).then(pl.lit("clean_lang")).otherwise(pl.lit("clean_too_short")))),
    ):
        target = out / name / "data" / "bench"
        target.mkdir(parents=True, exist_ok=True)
        kept.write_parquet(target / "records.parquet", **PARQUET_OPTIONS)
        rej.write_parquet(target / "rejected.parquet", **PARQUET_OPTIONS)
    return {"a": a.height, "b": b.height, "added": n // 100, "removed": a.filter(removed).height,
            "changed": a.filter(changed).height, "reason_changed": 500}


def core(dirs: list[str]) -> dict:
    """Time diff_stage on two workspace sides (run in a fresh process)."""
    from stages.audit.report import diff_stage, empty_drops
    from stages.audit.revisions import Side
    from stages.audit.pipeline import StageInfo

    sides = [Side(root=Path(d), spec="workspace", kind="workspace", rev=None) for d in dirs]
    info = StageInfo(name="bench", group="bench", order=0, outs=["data/bench"], record_dir="data/bench",
                     has_rejected=True)
    started = time.perf_counter()
    entry = diff_stage(sides[0], sides[1], "bench", 0, info, info, {"a": empty_drops(), "b": empty_drops()}, 50)
    seconds = time.perf_counter() - started
    return {"inner_seconds": round(seconds, 2), "vm_hwm_mib": vm_hwm_mib(),
            **{k: entry[k]["count"] for k in ("added", "removed", "changed", "reason_changed")}}


def vm_hwm_mib() -> float | None:
    """This process's peak resident set (Linux /proc), independent of what fork inherited."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def run_child(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> tuple[str, float, float, float]:
    """Run cmd in a fresh process; return (stdout, wall seconds, peak RSS MiB, CPU seconds) of that process."""
    started = time.perf_counter()
    out_file = tempfile.TemporaryFile(mode="w+")
    err_file = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out_file, stderr=err_file, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    out_file.seek(0)
    err_file.seek(0)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out_file.read()}\n{err_file.read()}")
    # ru_maxrss also counts what the child inherited at fork, so this process stays small (see main)
    return out_file.read(), wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def git_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid", "DVC_NO_ANALYTICS": "1"}


def build_repo(work: Path) -> Path:
    """A git + DVC repo whose stage `bench` copies set A (commit 1), then set B (commit 2)."""
    repo = work / "repo"
    repo.mkdir()
    env = git_env()

    def sh(*cmd: str) -> None:
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)

    sh("git", "init", "-q", "-b", "main")
    sh(sys.executable, "-m", "dvc", "init", "-q")
    (repo / ".gitignore").write_text("/input\n")
    (repo / "dvc.yaml").write_text(
        "stages:\n  bench:\n    cmd: rm -rf data/bench && mkdir -p data && cp -r input data/bench\n"
        "    deps: [input]\n    outs: [data/bench]\n")
    for name in ("a", "b"):
        shutil.rmtree(repo / "input", ignore_errors=True)
        shutil.copytree(work / name / "data" / "bench", repo / "input")
        sh(sys.executable, "-m", "dvc", "repro", "-q")
        sh("git", "add", "-A")
        sh("git", "commit", "-qm", f"set {name}")
    shutil.rmtree(repo / "input")
    return repo


def results_section(n: int, planted: dict, rows: dict[str, dict], gen_s: float, load: tuple[float, float]) -> str:
    cpu = os.cpu_count()
    labels = {
        "core": "core: `diff_stage` (read both sides from disk, hash, join on id, drops, field diffs)",
        "cli": "cli: `python -m stages.audit diff HEAD~1 HEAD --json` (git + DVC repo, files from the DVC cache)",
    }
    lines = [
        "## audit diff",
        "",
        f"Two synthetic revisions of one record stage: A = {planted['a']:,} records, B = {planted['b']:,} "
        f"(1% removed, 1% added, 1% changed; about 300 characters of Chinese text per record), "
        f"plus 5,000 rejected rows per side ({planted['reason_changed']} with another reason in B); "
        f"records.parquet is {planted.get('a_mib', 0):.0f} MiB at A (zstd). "
        "Each measurement is a fresh process: wall seconds (process start to exit, imports included), "
        "CPU seconds (user + system) and peak RSS (wait4 ru_maxrss) of that process. "
        f"Machine: {cpu} CPU cores shared with other developers' work (load average {load[0]:.1f} before, "
        f"{load[1]:.1f} after), so wall time includes waiting for a core; CPU time is the steadier figure. "
        f"Generating the sets took {gen_s:.0f} s (not counted). The planted counts are checked.",
        "",
        "| measurement | wall s | CPU s | peak RSS (MiB) | added | removed | changed | reason changed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, row in rows.items():
        lines.append(f"| {labels[key]} | {row['seconds']:.1f} | {row['cpu']:.1f} | {row['rss']:.0f} | "
                     f"{row['added']:,} | {row['removed']:,} | {row['changed']:,} | {row['reason_changed']:,} |")
    lines += ["", "Command:", "", "```bash", f"python bench/audit_diff.py --n {n}", "```", ""]
    return "\n".join(lines)


def write_results(section: str) -> Path:
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if "## audit diff" in text:
        head, _, rest = text.partition("## audit diff")
        following = rest.find("\n## ")
        text = head + section + (rest[following + 1:] if following >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="records in revision A")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the generated data here (and reuse it when it is already there)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(core(args.child)))
        return
    if args.generate:
        print(json.dumps(generate(args.n, args.generate)))
        return
    # this process only starts children (so their peak RSS is not inflated by ours at fork)
    load_before = os.getloadavg()[0]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    planted_file = work / "planted.json"
    try:
        gen_s = 0.0
        if planted_file.exists() and json.loads(planted_file.read_text())["a"] == args.n:
            planted = json.loads(planted_file.read_text())
            gen_s = planted.get("generate_seconds", 0.0)
        else:
            out, gen_s, _, _ = run_child([sys.executable, __file__, "--n", str(args.n), "--generate", str(work)])
            planted = json.loads(out)
            planted_file.write_text(json.dumps({**planted, "generate_seconds": round(gen_s, 1)}))
        planted["a_mib"] = (work / "a" / "data" / "bench" / "records.parquet").stat().st_size / 2**20
        print(f"generated {planted} in {gen_s:.1f} s", flush=True)
        out, wall, rss, cpu = run_child([sys.executable, __file__, "--child", str(work / "a"), str(work / "b")])
        core_row = {**json.loads(out), "seconds": round(wall, 2), "cpu": round(cpu, 2), "rss": rss}
        print(f"core: {core_row}", flush=True)
        repo = work / "repo"
        if not repo.exists():
            build_repo(work)
        env = {**git_env(), "PYTHONPATH": str(ROOT)}
        out, wall, rss, cpu = run_child([sys.executable, "-m", "stages.audit", "diff", "HEAD~1", "HEAD", "--json",
                                         "--repo", str(repo)], cwd=ROOT, env=env)
        stage = json.loads(out)["stages"][0]
        cli_row = {"seconds": round(wall, 2), "cpu": round(cpu, 2), "rss": rss,
                   **{k: stage[k]["count"] for k in ("added", "removed", "changed", "reason_changed")}}
        print(f"cli: {cli_row}", flush=True)
        expected = {k: planted[k] for k in ("added", "removed", "changed", "reason_changed")}
        for name, row in (("core", core_row), ("cli", cli_row)):
            got = {k: row[k] for k in expected}
            if got != expected:
                raise SystemExit(f"{name}: diff counts {got} != planted {expected}")
        if not args.no_write:
            section = results_section(args.n, planted, {"core": core_row, "cli": cli_row}, gen_s,
                                      (load_before, os.getloadavg()[0]))
            print(f"wrote {write_results(section)}")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
