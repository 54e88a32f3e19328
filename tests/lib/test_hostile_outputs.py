"""Hostile outputs (issue 22, probes 8, 9, 10, 17): every write path ends in one line on a full disk, a
failed run leaves no new report beside old data, devices/FIFOs/sockets/symlinks are refused as outputs,
every file of an output folder gets the usual mode. The dedup stage (streaming writer) is the example."""

import errno
import json
import os
import re
import socket
import stat
import subprocess
from pathlib import Path

import click
import polars as pl
import pytest
from click.testing import CliRunner

from stages.dedup.__main__ import cli as dedup_cli
from stages.lib.contract import write_stage_outputs
from stages.lib.errors import clear_errors
from stages.lib.io import atomic_path, output_dir
from stages.lib.record import empty_rejected
from tests.dedup.helpers import frame, random_text, record
from tests.lib.test_contract import frame_of

FULL = "no space left on device; free some space (or use another disk) and run the stage again"


def dedup_input(folder: Path, n: int = 18, length: int = 300) -> list[str]:
    """records.parquet (n random records, in id order) and params.yaml in `folder`; the dedup CLI args."""
    import random

    rng = random.Random(7)
    frame([record(f"r{i:05d}", random_text(rng, length)) for i in range(n)]).write_parquet(folder / "in.parquet")
    section = {"fields": ["instruction", "input", "output"], "ngram": 5, "num_perm": 128, "seed": 1,
               "threshold": 0.8, "verify": "exact"}
    (folder / "params.yaml").write_text(json.dumps({"dedup": section}), encoding="utf-8")
    return ["--in", str(folder / "in.parquet"), "--params", str(folder / "params.yaml")]


def dedup(args: list[str], out: Path, metrics: Path):
    return CliRunner().invoke(dedup_cli, [*args, "--out", str(out), "--metrics", str(metrics)])


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# --- probe 8: a full disk is one line on every write path, the streaming writer included ---

def test_the_streaming_writer_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    args = dedup_input(tmp_path)
    real_sink = pl.LazyFrame.sink_parquet

    def to_full_disk(self, target, **kwargs):  # /dev/full answers every write with ENOSPC
        return real_sink(self, "/dev/full", **kwargs)

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", to_full_disk)
    result = dedup(args, tmp_path / "data" / "dedup", tmp_path / "m.json")
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'data' / 'dedup' / 'records.parquet'}: {FULL}\n"
    assert listing(tmp_path) == ["data", "in.parquet", "params.yaml"]  # nothing half-written


def test_a_full_disk_under_dedup_s_work_files_is_one_line_naming_the_work_folder(tmp_path, monkeypatch):
    args = dedup_input(tmp_path)
    unsorted = pl.read_parquet(tmp_path / "in.parquet").reverse()  # read from a sorted copy in the work folder
    unsorted.write_parquet(tmp_path / "in.parquet")
    real_sink = pl.LazyFrame.sink_parquet
    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", lambda self, target, **kw: real_sink(self, "/dev/full", **kw))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    result = dedup(args, tmp_path / "out", tmp_path / "m.json")
    assert result.exit_code == 1
    work = re.escape(str(tmp_path / "tmp"))
    assert re.fullmatch(rf"Error: {work}/dedup-\w+ \(dedup's work folder\): {re.escape(FULL)}\n", result.output)
    assert listing(tmp_path) == ["in.parquet", "params.yaml", "tmp"]


def mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A real 512 KiB file system (tmpfs; needs root and mount), unmounted after the test."""
    disk = tmp_path / "disk"
    if not mount_tmpfs(disk, "512k"):
        pytest.skip("mounting a small tmpfs needs root (the /dev/full test above covers the same path)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_dedup_on_a_real_full_disk_is_one_line_and_keeps_the_old_set(tmp_path, small_disk):
    small = dedup_input(tmp_path, n=4)
    out, metrics = small_disk / "dedup", small_disk / "dedup.json"
    assert dedup(small, out, metrics).exit_code == 0
    before = {name: (small_disk / name).read_bytes() for name in listing(small_disk) if (small_disk / name).is_file()}
    big = tmp_path / "big"
    big.mkdir()
    result = dedup(dedup_input(big, n=3000, length=400), out, metrics)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: {out}") and result.output.endswith(f": {FULL}\n")
    after = {name: (small_disk / name).read_bytes() for name in listing(small_disk) if (small_disk / name).is_file()}
    assert after == before  # the old set, its metrics and timings, nothing else


@clear_errors
def _write_through(kind: str, exc: Exception, target: Path) -> None:
    if kind == "file":
        with atomic_path(target):
            raise exc
    with output_dir(target):
        raise exc


@pytest.mark.parametrize("exc", [
    pl.exceptions.ComputeError("parquet: underlying IO error: No space left on device (os error 28)"),  # polars
    RuntimeError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on '
                 'device" })'),  # safetensors (model.safetensors)
    OSError("Error writing bytes to file. Detail: [errno 28] No space left on device"),  # pyarrow
    OSError("100000 requested and 16384 written"),  # numpy tofile
    OSError(errno.ENOSPC, "No space left on device"),  # a plain write() or close()
], ids=["polars", "safetensors", "pyarrow", "numpy", "os"])
@pytest.mark.parametrize("kind", ["file", "folder"])
def test_every_library_s_full_disk_error_is_one_line_naming_the_output(tmp_path, exc, kind):
    target = tmp_path / ("m.json" if kind == "file" else "model")
    with pytest.raises(click.ClickException) as err:
        _write_through(kind, exc, target)
    assert err.value.message == f"{target}: {FULL}"
    assert listing(tmp_path) == []


# --- probe 9: a failing run writes no new report beside the old data ---

def write(out: Path, metrics: Path, reports_dir: Path, n: int, **kwargs) -> None:
    write_stage_outputs("t", out, metrics, kept=frame_of(n), rejected=empty_rejected(), rows_in=n, started=0.0,
                        reports_dir=reports_dir, **kwargs)


def report(text: str):
    return lambda folder: (folder / "summary.md").write_text(text, encoding="utf-8")


def test_a_run_failing_on_its_data_leaves_the_old_reports_and_the_old_data(tmp_path, monkeypatch):
    out, metrics, reports = tmp_path / "data" / "t", tmp_path / "m.json", tmp_path / "reports" / "t"
    write(out, metrics, reports, 2, reports=report("old\n"))
    before = {p: (tmp_path / p).read_bytes() for p in listing(tmp_path) if (tmp_path / p).is_file()}

    def full(self, target, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(OSError) as err:
        write(out, metrics, reports, 5, reports=report("new\n"))
    assert err.value.filename == str(out / "records.parquet")
    assert {p: (tmp_path / p).read_bytes() for p in listing(tmp_path) if (tmp_path / p).is_file()} == before


def test_a_run_failing_on_its_reports_leaves_the_old_data_and_the_old_reports(tmp_path):
    out, metrics, reports = tmp_path / "data" / "t", tmp_path / "m.json", tmp_path / "reports" / "t"
    write(out, metrics, reports, 2, reports=report("old\n"))
    before = {p: (tmp_path / p).read_bytes() for p in listing(tmp_path) if (tmp_path / p).is_file()}

    def failing(folder: Path) -> None:
        (folder / "summary.md").write_text("new\n", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "plot.png"))

    with pytest.raises(OSError) as err:
        write(out, metrics, reports, 5, reports=failing)
    assert err.value.filename == str(reports / "plot.png")  # the file the user knows, not our temp folder
    assert {p: (tmp_path / p).read_bytes() for p in listing(tmp_path) if (tmp_path / p).is_file()} == before


def test_reports_are_swapped_in_with_the_data(tmp_path):
    out, metrics, reports = tmp_path / "data" / "t", tmp_path / "m.json", tmp_path / "reports" / "t"
    write(out, metrics, reports, 2, reports=report("old\n"))
    write(out, metrics, reports, 3, reports=report("new\n"))
    assert (reports / "summary.md").read_text(encoding="utf-8") == "new\n"
    assert json.loads(metrics.read_text())["rows_in"] == 3
    assert listing(tmp_path) == ["data", "data/t", "data/t/records.parquet", "data/t/rejected.parquet", "m.json",
                                 "m.timings.json", "reports", "reports/t", "reports/t/summary.md"]


# --- probe 10: devices, FIFOs, sockets and symlinks are refused as outputs ---

def test_metrics_on_a_character_device_is_refused_and_the_device_kept(tmp_path):
    args = dedup_input(tmp_path)
    result = dedup(args, tmp_path / "out", Path("/dev/null"))
    assert result.exit_code == 1
    assert result.output == ("Error: /dev/null: is a character device, not a regular file; a stage writes only "
                             "regular files and folders: choose another path\n")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    assert listing(tmp_path) == ["in.parquet", "params.yaml"]


def test_a_fifo_or_a_socket_as_an_output_is_refused(tmp_path):
    args = dedup_input(tmp_path)
    fifo = tmp_path / "m.json"
    os.mkfifo(fifo)
    result = dedup(args, tmp_path / "out", fifo)
    assert result.exit_code == 1
    assert result.output == (f"Error: {fifo}: is a FIFO (named pipe), not a regular file; a stage writes only "
                             "regular files and folders: choose another path\n")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "out"))
        result = dedup(args, tmp_path / "out", tmp_path / "m2.json")
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path / 'out'}: is a socket, not a folder; a stage writes only regular "
                             "files and folders: choose another path\n")
    assert listing(tmp_path) == ["in.parquet", "m.json", "out", "params.yaml"]


LINK = ("is a symbolic link; a stage never writes through a link: replace it with a real folder or file, or choose "
        "another path")


def test_symlinked_outputs_are_refused_and_what_they_point_at_is_untouched(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine\n", encoding="utf-8")
    repo = tmp_path / "repo"
    repo.mkdir()
    args = dedup_input(repo)
    monkeypatch.chdir(repo)
    Path("out").symlink_to(outside)
    result = dedup(args, Path("out"), Path("m.json"))
    assert (result.exit_code, result.output) == (1, f"Error: out: {LINK}\n")
    Path("m.json").symlink_to(outside / "keep.txt")
    result = dedup(args, Path("dedup"), Path("m.json"))
    assert (result.exit_code, result.output) == (1, f"Error: m.json: {LINK}\n")
    Path("data").symlink_to(outside)  # a folder on the way, inside the working folder
    result = dedup(args, Path("data/dedup"), Path("m2.json"))
    assert (result.exit_code, result.output) == (1, f"Error: data: {LINK}\n")
    assert listing(outside) == ["keep.txt"] and (outside / "keep.txt").read_text(encoding="utf-8") == "mine\n"
    assert listing(repo) == ["data", "in.parquet", "m.json", "out", "params.yaml"]


def test_a_folder_holding_the_working_folder_is_never_replaced(tmp_path, monkeypatch):
    args = dedup_input(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = dedup(args, Path("."), Path("m.json"))
    assert result.exit_code == 1
    assert result.output == ("Error: .: holds the working folder, and an output folder is replaced as a whole; "
                             "choose a folder of its own\n")
    assert listing(tmp_path) == ["in.parquet", "params.yaml"]


# --- probe 17: every file of an output folder gets the usual mode, whoever wrote it ---

def test_files_a_library_writes_0600_get_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        def extra(folder: Path) -> None:  # what safetensors does with model.safetensors
            (folder / "sub").mkdir(mode=0o700)
            fd = os.open(folder / "sub" / "model.safetensors", os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)

        write_stage_outputs("t", tmp_path / "out", tmp_path / "m.json", kept=frame_of(1), rejected=empty_rejected(),
                            rows_in=1, started=0.0, extra_files=extra)
    finally:
        os.umask(old)
    modes = {p: stat.S_IMODE((tmp_path / p).stat().st_mode) for p in listing(tmp_path)}
    assert modes == {"m.json": 0o644, "m.timings.json": 0o644, "out": 0o755, "out/records.parquet": 0o644,
                     "out/rejected.parquet": 0o644, "out/sub": 0o755, "out/sub/model.safetensors": 0o644}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p: (folder / p).read_bytes() for p in listing(folder) if (folder / p).is_file()}


def test_assemble_on_a_full_disk_writes_no_new_report_beside_the_old_set(tmp_path, monkeypatch):
    from stages.sft.build import assemble
    from stages.sft.mix import AssembleParams
    from tests.test_assemble import SFT_SUITE, SOURCES, write_inputs

    curated, rewrites, lock = write_inputs(tmp_path)

    def run(eval_share: float, min_rows: int = 5) -> None:
        assemble([curated, rewrites], None, tmp_path / "sft", tmp_path / "m.json",
                 AssembleParams(eval_share=eval_share), lock, SFT_SUITE, tmp_path / "reports",
                 {"min_rows": min_rows, "configured_sources": SOURCES, "max_chars": 16000,
                  "chinese_sources": SOURCES})

    run(0.5)
    before = snapshot(tmp_path)
    real_write = pl.DataFrame.write_parquet

    def full(self, target, **kwargs):  # the data set's parquet files, written after the reports
        if Path(target).parent.name == ".sft.partial":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, target, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(OSError) as err:
        run(0.35)  # another split: other reports and another set
    assert err.value.filename == str(tmp_path / "sft" / "records.parquet")
    assert snapshot(tmp_path) == before  # the old set, its reports and metrics, byte for byte; nothing else
    monkeypatch.undo()
    run(0.35)  # what that run would have written: other reports (so the check above could fail)
    assert (tmp_path / "reports" / "sft.json").read_bytes() != before["reports/sft.json"]
    from stages.lib.errors import StageError

    with pytest.raises(StageError):  # a failed suite: the old set goes, the reports say why
        run(0.5, min_rows=1000)
    assert not (tmp_path / "sft").exists() and not (tmp_path / "m.json").exists()
    assert "FAILED" in (tmp_path / "reports" / "sft.md").read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["sft.html", "sft.json", "sft.md"]
