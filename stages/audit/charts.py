"""The `audit rules` chart: paired deltas per rule and task with their 95% intervals (a PNG, for --html and
--chart). One panel per metric (accuracy, margin); a row per task (overall first), a point and an
interval line per rule; a dashed line at 0. Detectable deltas are filled points, the others hollow;
a cell without an interval (too few questions) is a point without a line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.audit.paired import METRICS

TITLES = {"accuracy": "Δ accuracy", "margin": "Δ margin (nats)"}


def chart(result: dict[str, Any], target: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rules"]
    tasks = ["overall", *result["tasks"]]
    height = 1.4 + 0.28 * len(tasks) * max(len(rows), 1)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(10, height), dpi=110, sharey=True)
    step = 0.8 / max(len(rows), 1)
    colours = plt.get_cmap("tab10")
    for ax, metric in zip(axes, METRICS):
        ax.axvline(0, color="#888", linestyle="--", linewidth=0.8)
        for k, row in enumerate(rows):
            for i, task in enumerate(tasks):
                cell = row["cells"].get(task, {}).get(metric)
                if not cell or cell["delta"] is None:
                    continue
                y = i - 0.4 + step * (k + 0.5)
                colour = colours(k % 10)
                if cell["low"] is not None:
                    ax.plot([cell["low"], cell["high"]], [y, y], color=colour, linewidth=1.6)
                ax.plot([cell["delta"]], [y], "o", color=colour, label=row["label"] if i == 0 else None,
                        markerfacecolor=colour if cell["detectable"] else "white")
        ax.set_title(TITLES[metric], fontsize=10)
        ax.set_yticks(range(len(tasks)), tasks)
    axes[0].invert_yaxis()  # overall on top (the y axis is shared)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"paired delta vs rule=none ({result['baseline']['name']}), 95% intervals; filled: detectable",
                 fontsize=10)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, metadata={"Software": None})
    plt.close(fig)
    return target
