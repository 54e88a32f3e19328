"""Session set-up: the copy of the project the tests read instead of the working copy (tests/project.py)."""

from tests.project import project


def pytest_sessionstart(session) -> None:
    project()
