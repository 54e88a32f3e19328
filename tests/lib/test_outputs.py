"""Output folders appear whole (also when a stage is killed), usual file modes, one-line OS errors."""

import errno
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from stages.lib.contract import write_stage_outputs
from stages.lib.record import empty_rejected
from stages.scrape import cli as scrape_cli
from tests.lib.test_contract import frame_of
from tests.test_scrape import GOOD, jsonl_line

REPO = Path(__file__).resolve().parents[2]


def write(out: Path, metrics: Path, n: int, extra_files=None) -> None:
    write_stage_outputs("t", out, metrics, kept=frame_of(n), rejected=empty_rejected(), rows_in=n, started=0.0,
                        extra_files=extra_files)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_files_get_the_usual_mode_under_the_default_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write(tmp_path / "out", tmp_path / "m.json", 2)
    finally:
        os.umask(old)
    for path in (tmp_path / "out" / "records.parquet", tmp_path / "out" / "rejected.parquet", tmp_path / "m.json"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def test_a_failing_run_leaves_the_previous_set_whole(tmp_path):
    out, metrics = tmp_path / "out", tmp_path / "m.json"
    write(out, metrics, 2, extra_files=lambda folder: (folder / "extra.txt").write_text("old\n"))

    def fail(folder: Path) -> None:
        (folder / "extra.txt").write_text("new\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        write(out, metrics, 5, extra_files=fail)
    assert pl.read_parquet(out / "records.parquet").height == 2
    assert (out / "extra.txt").read_text() == "old\n"
    assert json.loads(metrics.read_text())["rows_in"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.timings.json", "out"]  # nothing half-written


KILLED = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from stages.lib.contract import write_stage_outputs
    from stages.lib.record import empty_rejected
    from tests.lib.test_contract import frame_of
    out, metrics, where = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    real_rename = os.rename
    def rename(src, dst):
        if where == "between_renames" and str(src).endswith(".partial"):
            os._exit(9)   # killed after the old folder was moved aside, before the new one is in place
        real_rename(src, dst)
    os.rename = rename
    def extra(folder):
        (folder / "half.txt").write_text("half")
        if where == "while_writing":
            os._exit(9)   # killed while the new set is being written
    write_stage_outputs("t", out, metrics, kept=frame_of(5), rejected=empty_rejected(), rows_in=5,
                        started=0.0, extra_files=extra)
""")


@pytest.mark.parametrize("where", ["while_writing", "between_renames"])
def test_a_killed_run_never_leaves_a_mixed_set_and_the_next_run_cleans_up(tmp_path, where):
    out, metrics = tmp_path / "data" / "out", tmp_path / "m.json"
    write(out, metrics, 2)
    killed = subprocess.run([sys.executable, "-c", KILLED, str(out), str(metrics), where], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    if where == "while_writing":  # the old set and its metrics, untouched
        assert pl.read_parquet(out / "records.parquet").height == 2
        assert json.loads(metrics.read_text())["rows_in"] == 2
        assert not (out / "half.txt").exists()
    else:  # no set at all (and no metrics claiming one), never old records with new ones
        assert not out.exists() and not metrics.exists()
    assert any(p.name.startswith(".out.") for p in out.parent.iterdir())  # the leftovers of the killed run
    write(out, metrics, 3)
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]
    assert sorted(p.name for p in out.iterdir()) == ["records.parquet", "rejected.parquet"]
    assert json.loads(metrics.read_text())["rows_in"] == 3


def test_stale_temp_files_of_a_killed_metrics_write_are_removed(tmp_path):
    (tmp_path / ".m.json.abc123.tmp").write_text("{")
    write(tmp_path / "out", tmp_path / "m.json", 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.timings.json", "out"]  # nothing half-written


# --- every OS failure is one line naming the file and what to do (stage `scrape` as the example) ---

def scrape_args(tmp_path: Path, out: Path) -> list[str]:
    source = tmp_path / "zhihu.jsonl"
    source.write_bytes(jsonl_line(GOOD) + b"\n")
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"sources": {"zhihu": {"kind": "cqia_jsonl", "path": str(source)}}}))
    return ["run", "zhihu", "--params", str(params), "--out", str(out), "--archive", str(tmp_path / "a"),
            "--metrics", str(tmp_path / "m.json")]


def test_output_path_that_is_a_file_is_one_line(tmp_path):
    out = tmp_path / "o"
    out.write_text("not a folder")
    result = CliRunner().invoke(scrape_cli, scrape_args(tmp_path, out))
    assert result.exit_code == 1
    assert result.output == (f"Error: {out}: is a file, but the stage writes a folder here; move or delete it, "
                             "or choose another --out\n")
    assert out.read_text() == "not a folder"


def test_output_under_a_file_is_one_line(tmp_path):
    (tmp_path / "data").write_text("x")
    result = CliRunner().invoke(scrape_cli, scrape_args(tmp_path, tmp_path / "data" / "o"))
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path / 'data'}: is a file, but a folder is needed here; move or delete "
                             "it, or choose another output path\n")


PERMISSION_LINE = "permission denied; make it (and its folder) writable for you, e.g. chmod u+w, or choose another path"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions; see the monkeypatched variant")
def test_read_only_output_folder_is_one_line(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = CliRunner().invoke(scrape_cli, scrape_args(tmp_path, parent / "o"))
    finally:
        parent.chmod(0o755)
    assert result.exit_code == 1
    assert result.output == f"Error: {parent}: {PERMISSION_LINE}\n"


def test_permission_denied_from_the_system_is_one_line(tmp_path, monkeypatch):
    parent = tmp_path / "ro"
    parent.mkdir()
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):  # what the kernel answers for a folder without write permission
        if self.parent == parent:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    result = CliRunner().invoke(scrape_cli, scrape_args(tmp_path, parent / "o"))
    assert result.exit_code == 1
    assert result.output == f"Error: {parent}: {PERMISSION_LINE}\n"


def test_full_disk_is_one_line_and_leaves_nothing_behind(tmp_path, monkeypatch):
    real_write = pl.DataFrame.write_parquet

    def to_full_disk(self, target, **kwargs):  # /dev/full answers every write with ENOSPC
        return real_write(self, "/dev/full", **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", to_full_disk)
    out = tmp_path / "data" / "o"
    result = CliRunner().invoke(scrape_cli, scrape_args(tmp_path, out))
    assert result.exit_code == 1
    assert result.output == (f"Error: {out / 'records.parquet'}: no space left on device; free some space "
                             "(or use another disk) and run the stage again\n")
    assert sorted(p.name for p in out.parent.iterdir()) == []
