"""Progress bars for long stages: counts, rate and ETA on a terminal, silent otherwise.

`progress(iterable, desc=..., unit=...)` wraps tqdm. It draws only when
standard error is a terminal and neither `CI` nor `CQIA_NO_PROGRESS` is set,
so `dvc repro` in a terminal shows bars, while logs, pipes, CI and tests stay
clean. Bars go to standard error and disappear when done (the stage's
one-line summary is what stays).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
MININTERVAL = 0.5  # seconds between redraws


def enabled() -> bool:
    if os.environ.get("CI") or os.environ.get("CQIA_NO_PROGRESS"):
        return False
    return sys.stderr.isatty()


def bar(total: int | None, desc: str, unit: str = "it") -> Any:
    """A manual bar (`.update(n)`, `.close()`); a no-op bar when progress is off."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled(), file=sys.stderr, leave=False,
                mininterval=MININTERVAL, dynamic_ncols=True)


def progress(iterable: Iterable[T], desc: str, unit: str = "it", total: int | None = None) -> Iterator[T]:
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with bar(total, desc, unit) as shown:
        for item in iterable:
            yield item
            shown.update(1)


def quiet_libraries() -> None:
    """Off a terminal, silence the bars transformers, datasets and huggingface_hub draw themselves."""
    if enabled():
        return
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        from datasets import disable_progress_bars

        disable_progress_bars()
    except ImportError:  # datasets is only needed by train
        pass
