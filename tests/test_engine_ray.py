"""engine: ray gives byte-identical outputs to engine: local, on a real local Ray cluster (2 CPUs, 127.0.0.1).

One Ray session serves the whole module. The shipped sample goes through scrape (local), then clean,
normalize and dedup on both engines from the same inputs; a synthetic corpus with planted near
duplicates goes through dedup on both; a worker that kills its own process once is retried by Ray.
A Ray death (a worker every time, `ray::DashboardAgent`, the driver itself) ends in one line.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

ray = pytest.importorskip("ray")
from ray import cloudpickle  # noqa: E402 - the copy Ray serialises tasks with

from stages.clean.filters import CleanParams  # noqa: E402
from stages.clean.normalize_text import NormalizeParams  # noqa: E402
from stages.clean.normalizing import run_normalize  # noqa: E402
from stages.clean.records import run_clean  # noqa: E402
from stages.dedup.stage import run_dedup  # noqa: E402
from stages.dedup import distributed  # noqa: E402
from stages.engine.config import EngineParams, ray_engine  # noqa: E402
from stages.ingest.sources import parse_source  # noqa: E402
from stages.lib.errors import StageError  # noqa: E402
from stages.ingest.scrape import scrape  # noqa: E402
from stages.lib.params import parse_section  # noqa: E402
from tests.dedup.test_config import parse_params  # noqa: E402
from tests.project import project

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((project() / "params.yaml").read_text(encoding="utf-8"))
RAY = ray_engine(block_rows=64)
LOCAL = EngineParams()
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the crashing wrappers below run on workers


def parse_engine(raw) -> EngineParams:
    return parse_section(EngineParams, raw, "params.yaml: engine")


@pytest.fixture(scope="session")
def ray_session():
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path, "POLARS_MAX_THREADS": "1"}})
    yield ray
    ray.shutdown()


def outputs(out: Path, metrics: Path) -> dict[str, bytes | dict]:
    """Every output file's bytes, and the metrics without wall-clock timings."""
    files = {p.name: p.read_bytes() for p in sorted(out.glob("*.parquet"))}
    counts = json.loads(metrics.read_text(encoding="utf-8"))
    counts.pop("seconds", None)  # timings left the metrics (reports/timings); kept for older metrics files
    counts.pop("seconds_by_phase", None)
    return {**files, "metrics": counts}


def assert_same(local: dict, distributed_: dict) -> None:
    assert local.keys() == distributed_.keys()
    for name in local:
        assert local[name] == distributed_[name], f"{name} differs between engines"


@pytest.fixture(scope="module")
def sample_raw(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    for name, raw in PARAMS["sources"].items():
        cfg = parse_source(name, {**raw, "path": str(project() / raw["path"])})
        scrape(cfg, root / "raw" / name, root / "archive" / name, root / "metrics" / f"scrape_{name}.json")
    return root / "raw"


def test_clean_normalize_dedup_are_byte_identical_on_the_shipped_sample(ray_session, sample_raw, tmp_path):
    clean = parse_section(CleanParams, PARAMS["clean"], "clean")
    norm = parse_section(NormalizeParams, PARAMS["normalize"], "normalize")
    dedup = parse_params(PARAMS["dedup"])
    runs = {}
    for name, engine in (("local", LOCAL), ("ray", RAY)):
        base = tmp_path / name
        run_clean(sample_raw, base / "clean", base / "clean.json", clean, sorted(PARAMS["sources"]), engine)
        runs[name, "clean"] = outputs(base / "clean", base / "clean.json")
        # both engines normalize and dedup the same input, so a difference is that stage's own
        run_normalize(tmp_path / "local" / "clean" / "records.parquet", base / "norm", base / "norm.json", norm,
                      engine)
        runs[name, "normalize"] = outputs(base / "norm", base / "norm.json")
        run_dedup(tmp_path / "local" / "norm" / "records.parquet", base / "dedup", base / "dedup.json", dedup,
                  engine)
        runs[name, "dedup"] = outputs(base / "dedup", base / "dedup.json")
    for stage in ("clean", "normalize", "dedup"):
        assert_same(runs["local", stage], runs["ray", stage])
    assert runs["local", "clean"]["metrics"]["rows_dropped"]  # the sample exercises rejections
    assert runs["local", "normalize"]["metrics"]["transforms"]
    assert runs["local", "dedup"]["metrics"]["rows_dropped"].get("dedup_near", 0) > 0


def build_planted(n_base: int, seed: int = 5) -> pl.DataFrame:
    from bench.dedup_corpus import build_corpus

    return build_corpus(n_base, seed)[0]


def planted_corpus(path: Path, n_base: int, seed: int = 5) -> Path:
    build_planted(n_base, seed).write_parquet(path)
    return path


@pytest.mark.parametrize("verify", ["exact", "estimate"])
def test_dedup_is_byte_identical_on_planted_near_duplicates(ray_session, tmp_path, verify):
    corpus = planted_corpus(tmp_path / "corpus.parquet", n_base=400)
    params = parse_params({**PARAMS["dedup"], "verify": verify, "batch_size": 128})
    runs = {}
    for name, engine in (("local", LOCAL), ("ray", RAY)):
        metrics, _ = run_dedup(corpus, tmp_path / name, tmp_path / f"{name}.json", params, engine)
        runs[name] = outputs(tmp_path / name, tmp_path / f"{name}.json")
    assert_same(runs["local"], runs["ray"])
    assert runs["local"]["metrics"]["dedup"]["near_duplicates"] > 20
    assert runs["local"]["metrics"]["rows_in"] == runs["local"]["metrics"]["rows_kept"] + sum(
        runs["local"]["metrics"]["rows_dropped"].values())


def test_dedup_over_many_row_groups_is_byte_identical(ray_session, tmp_path):
    """Tasks per row group: pass 1, sketch, spill (a work file per group) and verification chunks that
    read sets from several files give the local engine's outputs."""
    records = build_planted(400).sort("id")
    records.write_parquet(tmp_path / "corpus.parquet", row_group_size=97)
    params = parse_params({**PARAMS["dedup"], "batch_size": 64})
    for name, engine in (("local", LOCAL), ("ray", RAY)):
        run_dedup(tmp_path / "corpus.parquet", tmp_path / name, tmp_path / f"{name}.json", params, engine)
    local = outputs(tmp_path / "local", tmp_path / "local.json")
    assert_same(local, outputs(tmp_path / "ray", tmp_path / "ray.json"))
    assert local["metrics"]["dedup"]["near_duplicates"] > 20 and local["metrics"]["dedup"]["exact_duplicates"] > 0


def test_dedup_on_ray_keeps_an_empty_index_and_the_next_local_run_computes_everything(ray_session, tmp_path):
    """The Ray driver holds no band keys, so with --index it writes a valid index of no records."""
    corpus = planted_corpus(tmp_path / "corpus.parquet", n_base=100)
    params = parse_params({**PARAMS["dedup"], "batch_size": 64})
    index = tmp_path / "index"
    metrics, _ = run_dedup(corpus, tmp_path / "ray", tmp_path / "ray.json", params, RAY, index=index)
    assert metrics["dedup_index"] == {"used": False, "reason": "engine ray keeps no band keys"}
    metrics, _ = run_dedup(corpus, tmp_path / "local", tmp_path / "local.json", params, LOCAL, index=index)
    assert metrics["dedup_index"]["used"] and metrics["dedup_index"]["reused_records"] == 0
    for file in ("records.parquet", "rejected.parquet", "clusters.parquet"):
        assert (tmp_path / "ray" / file).read_bytes() == (tmp_path / "local" / file).read_bytes(), file


def crash_once(table, marker: str, **kwargs):
    """distributed.sketch_block, but the first call (per marker file) kills its own worker process."""
    marker = Path(marker)
    if not marker.exists():
        marker.write_text("killed", encoding="utf-8")
        os._exit(1)
    from stages.dedup.distributed import sketch_block

    return sketch_block(table, **kwargs)


def test_a_killed_worker_is_retried_and_the_result_is_identical(ray_session, tmp_path, monkeypatch):
    corpus = planted_corpus(tmp_path / "corpus.parquet", n_base=150)
    params = parse_params({**PARAMS["dedup"], "batch_size": 64})
    run_dedup(corpus, tmp_path / "local", tmp_path / "local.json", params, LOCAL)
    marker = tmp_path / "marker"
    monkeypatch.setattr(distributed, "SKETCH", functools.partial(crash_once, marker=str(marker)))
    run_dedup(corpus, tmp_path / "ray", tmp_path / "ray.json", params, RAY)
    assert marker.read_text(encoding="utf-8") == "killed"
    assert_same(outputs(tmp_path / "local", tmp_path / "local.json"), outputs(tmp_path / "ray", tmp_path / "ray.json"))


def test_a_failing_task_names_the_file_and_the_reason_in_one_line(ray_session, sample_raw, tmp_path):
    bad = tmp_path / "bad.parquet"
    pl.read_parquet(sorted(sample_raw.glob("*/records.parquet"))[0]).with_columns(
        pl.lit("有\ufdd0噪声").alias("output")).write_parquet(bad)
    with pytest.raises(StageError) as err:
        run_normalize(bad, tmp_path / "out", tmp_path / "m.json", parse_section(NormalizeParams, PARAMS["normalize"], "normalize"), RAY)
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"normalize (engine: ray): {bad}: normalize: input contains U+FDD0")


def sketch_without_positions(group, **kwargs):
    """distributed.sketch_block handed no positions: it fails inside the task."""
    from stages.dedup.distributed import sketch_block

    return sketch_block(group, **{**kwargs, "positions": None})


def test_a_failing_dedup_task_names_the_input_and_its_records_in_one_line(ray_session, tmp_path, monkeypatch):
    corpus = planted_corpus(tmp_path / "corpus.parquet", n_base=40)  # not in id order: read from a sorted copy
    monkeypatch.setattr(distributed, "SKETCH", sketch_without_positions)
    with pytest.raises(StageError) as err:
        run_dedup(corpus, tmp_path / "out", tmp_path / "m.json", parse_params(PARAMS["dedup"]), RAY)
    rows = pl.scan_parquet(corpus).select(pl.len()).collect().item()
    assert str(err.value) == (f"dedup (engine: ray): {corpus} (records 0-{rows - 1} in id order): "
                              "dedup sketch: 'NoneType' object is not subscriptable")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_address_fails_in_one_line_naming_it(tmp_path, monkeypatch):
    from stages.engine.session import connect

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(StageError, match=r"^engine.ray.address 127.0.0.1:9: no Ray cluster reachable there"):
        connect(ray_engine(address="127.0.0.1:9"))


def test_engine_ray_without_ray_says_how_to_install(monkeypatch):
    from stages.engine.session import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(StageError, match=r"pip install ray==2\.60\.0"):
        import_ray()


def test_engine_params_are_checked():
    assert parse_engine({"kind": "local"}) == LOCAL
    assert parse_engine({"kind": "ray", "ray": {"address": "10.0.0.1:6379", "num_cpus": 4}}).ray.num_cpus == 4
    with pytest.raises(ValueError, match=r"engine.kind: must be one of local, ray, got 'spark'"):
        parse_engine({"kind": "spark"})
    with pytest.raises(ValueError, match=r"engine.ray.num_cpus: must be an integer >= 1 or null, got 0"):
        parse_engine({"kind": "ray", "ray": {"num_cpus": 0}})
    with pytest.raises(ValueError, match=r"engine.ray.adress: unknown key \(did you mean address\?\)"):
        parse_engine({"kind": "ray", "ray": {"adress": "x"}})


def engine_error(raw) -> str:
    with pytest.raises(ValueError) as info:
        parse_engine(raw)
    return str(info.value)


def test_engine_num_cpus_of_the_wrong_type_is_one_line():
    assert engine_error({"kind": "ray", "ray": {"num_cpus": 2.5}}) == (
        "params.yaml: engine.ray.num_cpus: must be an integer, got 2.5")


def test_engine_unknown_key_suggests_the_close_one():
    assert engine_error({"knd": "ray"}) == "params.yaml: engine.knd: unknown key (did you mean kind?); allowed: kind, ray"


def test_engine_blank_address_is_refused():
    assert engine_error({"kind": "ray", "ray": {"address": " "}}) == (
        "params.yaml: engine.ray.address: must be a host:port, ray://host:port, auto or null, got ' '")


def test_engine_ray_null_means_the_defaults_and_a_file_without_the_section_is_local(tmp_path):
    from stages.engine.config import load_engine

    assert parse_engine({"kind": "ray", "ray": None}) == ray_engine()
    (tmp_path / "params.yaml").write_text("dedup: {}\n", encoding="utf-8")
    assert load_engine(tmp_path / "params.yaml") == LOCAL


def test_the_cli_reports_an_unreachable_address_in_one_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from stages.dedup.__main__ import cli

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"dedup": PARAMS["dedup"],
                                      "engine": {"kind": "ray", "ray": {"address": "127.0.0.1:9"}}}), encoding="utf-8")
    corpus = planted_corpus(tmp_path / "corpus.parquet", n_base=20)
    result = CliRunner().invoke(cli, ["--in", str(corpus), "--out", str(tmp_path / "out"), "--metrics",
                                      str(tmp_path / "m.json"), "--params", str(params)])
    assert result.exit_code == 1
    assert result.output == ("Error: engine.ray.address 127.0.0.1:9: no Ray cluster reachable there (start one with "
                             "`ray start --head`, or set engine.ray.address: null for a local one)\n")


def test_the_local_engine_does_not_import_ray():
    import subprocess

    code = "import sys, stages.clean, stages.normalize, stages.dedup; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False"


def test_inputs_with_nothing_to_compare_are_identical_too(ray_session, tmp_path):
    from bench.dedup_corpus import build_corpus

    records = build_corpus(20, 1)[0].head(4).with_columns(
        pl.Series("instruction", ["", " ", "同一个问题", "同一个问题"]), pl.lit("").alias("input"),
        pl.lit("").alias("output"))
    records.write_parquet(tmp_path / "in.parquet")
    params = parse_params(PARAMS["dedup"])
    for name, engine in (("local", LOCAL), ("ray", RAY)):
        run_dedup(tmp_path / "in.parquet", tmp_path / name, tmp_path / f"{name}.json", params, engine)
    local = outputs(tmp_path / "local", tmp_path / "local.json")
    assert_same(local, outputs(tmp_path / "ray", tmp_path / "ray.json"))
    assert local["metrics"]["rows_dropped"] == {"dedup_exact": 1}


# --- issue 22, probe 19: a Ray process that dies ends in one line naming the stage and what died ---

def crash_always(table, **kwargs):
    """distributed.sketch_block, but its worker process dies every time, so Ray's retries run out."""
    os._exit(1)


def test_a_worker_that_always_dies_ends_in_one_line_naming_it(ray_session, tmp_path, monkeypatch):
    corpus = planted_corpus(tmp_path / "corpus.parquet", n_base=40)
    monkeypatch.setattr(distributed, "SKETCH", crash_always)
    with pytest.raises(StageError) as err:
        run_dedup(corpus, tmp_path / "out", tmp_path / "m.json", parse_params(PARAMS["dedup"]), RAY)
    assert re.fullmatch(r"dedup \(engine: ray\): a Ray worker process \(killed, or out of memory; Ray's retries "
                        r"ran out\) died; Ray's logs: /\S+/logs", str(err.value)), str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.parquet"]


def process_tree(root: int) -> dict[int, str]:
    """pid -> command line of every live descendant of `root` (from /proc)."""
    parents: dict[int, int] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat_file.parent.name)] = int(fields[1])
    tree, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                try:
                    tree[pid] = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                todo.append(pid)
    return tree


def dedup_on_ray(folder: Path):
    """`python -m stages.dedup` with engine: ray (a local cluster of its own) on 400 records in `folder`."""
    import random
    import subprocess

    from tests.dedup.helpers import frame, random_text, record

    rng = random.Random(3)
    frame([record(f"r{i:05d}", random_text(rng, 200)) for i in range(400)]).write_parquet(folder / "in.parquet")
    (folder / "params.yaml").write_text(yaml.safe_dump({"dedup": PARAMS["dedup"], "engine": {
        "kind": "ray", "ray": {"num_cpus": 1}}}), encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "stages.dedup", "--in", "in.parquet", "--out", "out",
                             "--metrics", "m.json"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def kill_when(stage, pick) -> tuple[int | None, str]:
    """SIGKILL the first descendant of `stage` that `pick(pid, cmdline)` chooses; (its pid, the stage's stderr).
    Whatever is left of the stage's Ray processes is killed after (ours only, by pid)."""
    import signal
    import time

    seen: set[int] = set()
    killed = None
    try:
        deadline = time.monotonic() + 120
        while killed is None and stage.poll() is None and time.monotonic() < deadline:
            tree = process_tree(stage.pid)
            seen |= set(tree)
            killed = next((pid for pid, cmd in tree.items() if pick(pid, cmd, tree)), None)
            if killed is not None:
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.1)
        _, err = stage.communicate(timeout=180)
    finally:
        for pid in seen | set(process_tree(stage.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if stage.poll() is None:
            stage.kill()
    return killed, err


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds Ray's processes through /proc")


@needs_proc
def test_killing_the_dashboard_agent_ends_in_one_line(tmp_path):
    """`ray::DashboardAgent` killed while `python -m stages.dedup` starts its local cluster: the raylet
    fate-shares with the agent, so the driver dies with it, by an exception or by Ray ending the process
    at once (engine/guard.py); both end in the same line, exit status 1, nothing written."""
    stage = dedup_on_ray(tmp_path)
    killed, err = kill_when(stage, lambda pid, cmd, tree: cmd.startswith("ray::DashboardAgent"))
    assert killed is not None, err
    assert stage.returncode == 1, err
    assert re.fullmatch(r"Error: dedup \(engine: ray\): the local Ray node \(raylet\) died: dashboard_agent failed "
                        r"and raylet fate-shares with it; Ray's logs: /\S+/logs", err.strip().splitlines()[-1]), err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "params.yaml"]


@needs_proc
def test_a_driver_killed_outright_ends_in_one_line(tmp_path):
    """The stage's own process SIGKILLed once its cluster runs (the OOM killer's way): the guard says so."""
    stage = dedup_on_ray(tmp_path)
    killed, err = kill_when(stage, lambda pid, cmd, tree: "-m stages.dedup" in cmd and any(
        "raylet" in other for other in tree.values()))
    assert killed is not None, err
    assert stage.returncode == 1, err
    assert re.fullmatch(r"Error: dedup \(engine: ray\): (the stage's process \(killed by SIGKILL, no error\)|the "
                        r"local Ray node \(raylet\)) died(: [^;]+)?; Ray's logs: /\S+/logs",
                        err.strip().splitlines()[-1]), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "params.yaml"]
