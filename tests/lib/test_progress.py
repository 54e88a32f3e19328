"""Progress: a bar on a terminal; off a terminal a line per interval with count, rate and ETA (nothing
for a short run); nothing in CI or when switched off. Time is a fake clock: nothing sleeps."""

import io
from types import SimpleNamespace

import pytest

from stages.lib import progress as progress_module
from stages.lib.progress import Lines, mode, progress, tracker


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def use_stream(monkeypatch, stream) -> None:
    # the module's own `sys` (pytest's capture re-binds the real sys.stderr between setup and call)
    monkeypatch.setattr(progress_module, "sys", SimpleNamespace(stderr=stream))
    for name in ("CI", "CQIA_NO_PROGRESS", "CQIA_PROGRESS", "CQIA_PROGRESS_INTERVAL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def terminal(monkeypatch):
    stream = FakeTerminal()
    use_stream(monkeypatch, stream)
    monkeypatch.setattr(progress_module, "MININTERVAL", 0)
    monkeypatch.setattr(progress_module, "DELAY", 0)
    return stream


@pytest.fixture
def log(monkeypatch):
    """A non-terminal stream (a pipe, a log file) and the fake clock the trackers read."""
    stream, clock = io.StringIO(), Clock()
    use_stream(monkeypatch, stream)
    monkeypatch.setattr(progress_module, "CLOCK", clock)
    monkeypatch.setattr(progress_module, "HEARTBEAT", False)
    return SimpleNamespace(stream=stream, clock=clock)


def test_a_terminal_gets_a_tqdm_bar_with_counts_and_eta(terminal):
    assert mode() == "bar"
    assert list(progress(range(3), desc="familiarity", unit="batch")) == [0, 1, 2]
    shown = terminal.getvalue()
    assert "familiarity" in shown and "3/3" in shown and "batch" in shown and "<" in shown  # elapsed<remaining


def test_a_log_gets_a_line_per_interval_with_count_rate_and_eta(log):
    with tracker("clean", total=1000, unit="record") as shown:
        log.clock.now += 10
        shown.update(100)
        assert log.stream.getvalue() == ""
        log.clock.now += 20
        shown.update(200)
        log.clock.now += 15
        shown.update(100)  # 15 s after the last line: none
        log.clock.now += 16
        shown.tick()  # a long step between updates still gets its line (the heartbeat calls this)
    assert log.stream.getvalue().splitlines() == [
        "clean: 300 of 1,000 records (30%), 10 records/s, ETA 1m10s, 30s elapsed",
        "clean: 400 of 1,000 records (40%), 6.56 records/s, ETA 1m32s, 1m01s elapsed",
        "clean: done, 400 records in 1m01s",
    ]


def test_a_run_shorter_than_an_interval_prints_nothing(log):
    with tracker("normalize", total=10) as shown:
        for _ in range(10):
            log.clock.now += 2.9
            shown.update(1)
    assert log.stream.getvalue() == ""


def test_without_a_total_the_share_of_the_input_gives_the_eta(log):
    with tracker("scrape[cqia]") as shown:
        log.clock.now += 30
        shown.update(50, fraction=0.25)
    assert log.stream.getvalue().splitlines()[0] == (
        "scrape[cqia]: 50 records (25% of the input), 1.67 records/s, ETA 1m30s, 30s elapsed")


def test_the_interval_can_be_set_and_postfix_values_follow_the_counts(log, monkeypatch):
    monkeypatch.setenv("CQIA_PROGRESS_INTERVAL", "5")
    with tracker("train", total=20, unit="step") as shown:
        shown.set_postfix(loss="1.2345")
        log.clock.now += 5
        shown.update(4)
    assert log.stream.getvalue().splitlines()[0] == (
        "train: 4 of 20 steps (20%), 0.80 steps/s, ETA 20s, 5s elapsed, loss=1.2345")


@pytest.mark.parametrize("env", [{"CI": "true"}, {"CQIA_NO_PROGRESS": "1"}, {"CI": "1", "CQIA_NO_PROGRESS": "1",
                                                                             "CQIA_PROGRESS": "1"}])
def test_ci_and_the_switch_silence_it(log, monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert mode() is None
    with tracker("clean", total=100) as shown:
        log.clock.now += 300
        shown.update(100)
    assert list(progress(range(3), desc="x")) == [0, 1, 2] and log.stream.getvalue() == ""


def test_ci_gets_lines_when_asked(log, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("CQIA_PROGRESS", "1")
    assert mode() == "lines"
    for _ in progress(range(2), desc="evaluate", unit="task"):
        log.clock.now += 40
    assert log.stream.getvalue().splitlines() == ["evaluate: 1 of 2 tasks (50%), 0.03 tasks/s, ETA 40s, 40s elapsed",
                                                  "evaluate: 2 of 2 tasks (100%), 0.03 tasks/s, 1m20s elapsed",
                                                  "evaluate: done, 2 tasks in 1m20s"]


def test_the_heartbeat_thread_stops_with_the_tracker():
    lines = Lines("dedup", 10, "record", io.StringIO(), 30.0, Clock(), heartbeat=True)
    assert lines.thread.is_alive()
    lines.close()
    lines.thread.join(timeout=10)
    assert not lines.thread.is_alive()
