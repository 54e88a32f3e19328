"""Progress of long stages: a bar on a terminal, a line every 30 s in a log, nothing on short runs.

One call gives a stage (or a pass of one) its progress; `update` it as work is done:

    from stages.lib.progress import tracker

    with tracker("dedup: sketch", total=frame.height, unit="record") as shown:
        for batch in frame.iter_slices(50_000):
            ...                                  # the work
            shown.update(batch.height)           # records done (optionally fraction=... of the work)

or wrap an iterable: `for task in progress(tasks, desc="evaluate", unit="task"): ...`. A tracker has
`update(n=1, fraction=None)`, `set_postfix(**values)` (shown after the counts, e.g. a loss), `close()`,
`n` (done so far) and `total` (may grow: a crawl finds links), as a tqdm bar has. `fraction` is the
share of the work done where the count alone does not say it (scrape knows its input bytes, not its
records); the ETA comes from it, else from `n / total`.

Where it goes, always standard error (standard output keeps the stage's one-line summary):
- a terminal: a tqdm bar (count, rate, ETA), drawn only once the run has taken `DELAY` seconds and
  erased when done;
- anything else (a pipe, `dvc repro > log`, `dvc exp run --queue` logs): one line every
  `CQIA_PROGRESS_INTERVAL` seconds (default 30), `clean: 120,000 of 500,000 records (24%), 4,100
  records/s, ETA 1m33s, 29s elapsed`, also while a long step runs between updates; a run shorter than
  one interval prints nothing, a longer one ends with a `done` line (an interval of 0: a line at every
  update, for debugging);
- `CI` set: nothing, unless `CQIA_PROGRESS=1`; `CQIA_NO_PROGRESS=1`: nothing, ever (tests set it).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
MININTERVAL = 0.5  # seconds between redraws of a bar
DELAY = 3.0  # a bar appears only after this many seconds
INTERVAL = 30.0  # seconds between lines off a terminal (CQIA_PROGRESS_INTERVAL overrides)
CLOCK: Callable[[], float] = time.monotonic
HEARTBEAT = True  # a line also while no update comes (tests drive `tick` with a fake clock instead)


def mode() -> str | None:
    """'bar' (a terminal), 'lines' (a pipe or a log) or None (switched off)."""
    if os.environ.get("CQIA_NO_PROGRESS"):
        return None
    if os.environ.get("CI") and not os.environ.get("CQIA_PROGRESS"):
        return None
    return "bar" if sys.stderr.isatty() else "lines"


def interval() -> float:
    try:
        return max(0.0, float(os.environ.get("CQIA_PROGRESS_INTERVAL", INTERVAL)))
    except ValueError:
        return INTERVAL


def duration(seconds: float) -> str:
    """`45s`, `3m05s`, `2h07m`."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Lines:
    """Progress as a line per interval on a stream (see the module docstring)."""

    def __init__(self, desc: str, total: int | None, unit: str, stream: Any, every: float,
                 clock: Callable[[], float], heartbeat: bool) -> None:
        self.desc, self.total, self.unit, self.stream, self.every, self.clock = desc, total, unit, stream, every, clock
        self.n, self.fraction, self.postfix, self.printed = 0, None, "", False
        self.started = self.last = clock()
        self.lock, self.stopped = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"progress {desc}", daemon=True)
        if heartbeat and every > 0:
            self.thread.start()

    def _beat(self) -> None:
        while not self.stopped.wait(self.every / 10):
            self.tick()

    def update(self, n: int = 1, fraction: float | None = None) -> None:
        with self.lock:
            self.n += n
            self.fraction = fraction if fraction is not None else self.fraction
        self.tick()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def refresh(self) -> None:
        """(A bar redraws here; a line waits for its interval.)"""

    def tick(self) -> None:
        """Write a line if an interval has passed since the last one (or the start)."""
        with self.lock:
            now = self.clock()
            if now - self.last >= self.every:
                self.last = now
                self._write(self.line(now))

    def line(self, now: float) -> str:
        elapsed = now - self.started
        rate = self.n / elapsed if elapsed > 0 else 0.0
        units = f"{self.unit}s"
        done = self.fraction if self.fraction is not None else (self.n / self.total if self.total else None)
        parts = [f"{self.n:,} of {self.total:,} {units} ({done:.0%})" if self.total else
                 f"{self.n:,} {units}" + (f" ({done:.0%} of the input)" if done is not None else ""),
                 f"{rate:,.0f} {units}/s" if rate >= 10 else f"{rate:,.2f} {units}/s"]
        if done is not None and 0 < done < 1:
            parts.append(f"ETA {duration(elapsed * (1 - done) / done)}")
        parts.append(f"{duration(elapsed)} elapsed")
        return f"{self.desc}: {', '.join(parts + ([self.postfix] if self.postfix else []))}"

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
        self.printed = True

    def close(self) -> None:
        self.stopped.set()
        with self.lock:
            if self.printed:
                elapsed = self.clock() - self.started
                self._write(f"{self.desc}: done, {self.n:,} {self.unit}s in {duration(elapsed)}")
                self.printed = False

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Off:
    """No progress (switched off): the same calls, doing nothing."""

    def __init__(self, total: int | None = None) -> None:
        self.n, self.total = 0, total

    def update(self, n: int = 1, fraction: float | None = None) -> None:
        self.n += n

    def set_postfix(self, **values: Any) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Off:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


@functools.cache
def _bar_class() -> type:
    """tqdm, taking (and ignoring) `fraction` in `update` as the other trackers do."""
    from tqdm import tqdm

    class Bar(tqdm):
        def update(self, n: float | None = 1, fraction: float | None = None) -> bool | None:
            return super().update(n)

    return Bar


def tracker(desc: str, total: int | None = None, unit: str = "record") -> Any:
    """The progress of one stage or pass (see the module docstring); use it as a context manager."""
    shown = mode()
    if shown == "bar":
        return _bar_class()(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, mininterval=MININTERVAL,
                            delay=DELAY, dynamic_ncols=True)
    if shown == "lines":
        return Lines(desc, total, unit, sys.stderr, interval(), CLOCK, HEARTBEAT)
    return Off(total)


def bar(total: int | None, desc: str, unit: str = "it") -> Any:
    """`tracker` with the arguments in the order older callers pass them."""
    return tracker(desc, total, unit)


def progress(iterable: Iterable[T], desc: str, unit: str = "it", total: int | None = None) -> Iterator[T]:
    """Iterate over `iterable`, counting each item as done once the loop body has run."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with tracker(desc, total, unit) as shown:
        for item in iterable:
            yield item
            shown.update(1)


def quiet_libraries() -> None:
    """Off a terminal, silence the bars transformers, datasets and huggingface_hub draw themselves."""
    if mode() == "bar":
        return
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        from datasets import disable_progress_bars

        disable_progress_bars()
    except ImportError:  # datasets is only needed by train
        pass
