"""Progress bars: drawn on a terminal, silent in pipes, CI and when switched off."""

import io
from types import SimpleNamespace

import pytest

from stages.lib import progress as progress_module
from stages.lib.progress import enabled, progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch):
    stream = FakeTerminal()
    # the module's own `sys` (pytest's capture re-binds the real sys.stderr between setup and call)
    monkeypatch.setattr(progress_module, "sys", SimpleNamespace(stderr=stream))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CQIA_NO_PROGRESS", raising=False)
    monkeypatch.setattr(progress_module, "MININTERVAL", 0)
    return stream


def test_a_terminal_gets_counts_and_eta(terminal):
    assert list(progress(range(3), desc="familiarity", unit="batch")) == [0, 1, 2]
    shown = terminal.getvalue()
    assert "familiarity" in shown and "3/3" in shown and "batch" in shown and "<" in shown  # elapsed<remaining


@pytest.mark.parametrize("env", ["CI", "CQIA_NO_PROGRESS"])
def test_ci_and_the_switch_silence_it(terminal, monkeypatch, env):
    monkeypatch.setenv(env, "1")
    assert not enabled()
    assert list(progress(range(3), desc="x")) == [0, 1, 2] and terminal.getvalue() == ""


def test_no_terminal_no_bar(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(progress_module, "sys", SimpleNamespace(stderr=stream))
    monkeypatch.delenv("CI", raising=False)
    assert list(progress([1, 2], desc="x")) == [1, 2] and stream.getvalue() == ""
