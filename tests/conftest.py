"""Session set-up: the copy of the project the tests read instead of the working copy (tests/project.py).

Progress output is switched off for every test and the stages they spawn (tests assert exact output);
tests/lib/test_progress.py switches it back on where it is the subject.
"""

import os

from tests.project import project


def pytest_sessionstart(session) -> None:
    os.environ["CQIA_NO_PROGRESS"] = "1"
    project()
