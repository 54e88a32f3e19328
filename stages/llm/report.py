"""Perplexity summaries for `dvc plots`: CSV tables and one PNG.

`ppl_by_source.csv` and `ppl_by_answer_from.csv` have one row per group with
`n`, `mean_ppl`, `median_ppl`, `p25_ppl`, `p75_ppl` (rounded to 4 decimals,
sorted by group), which dvc.yaml shows as horizontal bar charts of the median.
`ppl.png` has box plots of the distribution per group (log scale). Files are
written atomically; the PNG carries no timestamp or software metadata.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from stages.lib.io import atomic_path

GROUPS = ("source", "answer_from")


def summary(scored: pl.DataFrame, group: str) -> pl.DataFrame:
    ppl = pl.col("ppl")
    return (
        scored.group_by(group)
        .agg(pl.len().alias("n"), ppl.mean().alias("mean_ppl"), ppl.median().alias("median_ppl"),
             ppl.quantile(0.25, interpolation="linear").alias("p25_ppl"),
             ppl.quantile(0.75, interpolation="linear").alias("p75_ppl"))
        .with_columns(pl.col(pl.Float64).round(4), pl.col("n").cast(pl.Int64))
        .sort(group)
    )


def plot(scored: pl.DataFrame, target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(GROUPS), figsize=(10, 4), squeeze=False)
    for ax, group in zip(axes[0], GROUPS):
        names = sorted(scored[group].unique().to_list())
        data = [scored.filter(pl.col(group) == name)["ppl"].to_list() for name in names]
        if data:
            ax.boxplot(data, orientation="horizontal")
            ax.set_yticks(range(1, len(names) + 1), names)
            ax.set_xscale("log")
        ax.set_title(f"answer-only perplexity by {group}")
        ax.set_xlabel("ppl (base model, before tuning)")
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=80, metadata={"Software": None})
    plt.close(fig)


def write_summaries(scored: pl.DataFrame, reports_dir: str | Path) -> None:
    """Write the CSV summaries and the box plot for records that have a ppl."""
    reports_dir = Path(reports_dir)
    for group in GROUPS:
        with atomic_path(reports_dir / f"ppl_by_{group}.csv") as tmp:
            summary(scored, group).write_csv(tmp)
    plot(scored, reports_dir / "ppl.png")
