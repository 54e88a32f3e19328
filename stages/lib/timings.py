"""Wall-clock timings, kept out of the DVC metrics.

`metrics/<stage>.json` is declared as a DVC metric and must be deterministic
(same inputs and params, same bytes), so `dvc exp show` compares what matters
and a fresh clone stays clean. How long a stage took goes to a timings file
that DVC does not track and git ignores: `metrics/<x>.json` ->
`reports/timings/<x>.json` (any other metrics path: `<stem>.timings.json`
beside it). `{"seconds": total, "phases": {name: seconds}}`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from stages.lib.io import write_json


def timings_path(metrics_path: str | Path) -> Path:
    path = Path(metrics_path)
    parts = path.parts
    if "metrics" in parts[:-1]:
        at = len(parts) - 2 - parts[:-1][::-1].index("metrics")
        return Path(*parts[:at], "reports", "timings", *parts[at + 1:])
    return path.with_name(f"{path.stem}.timings.json")


def write_timings(metrics_path: str | Path, started: float, phases: dict[str, float] | None = None) -> dict[str, Any]:
    """Write the seconds since `started` (a `time.perf_counter()` value) next to the stage's metrics."""
    timings: dict[str, Any] = {"seconds": round(time.perf_counter() - started, 3)}
    if phases:
        timings["phases"] = {name: round(value, 3) for name, value in phases.items()}
    write_json(timings, timings_path(metrics_path))
    return timings
