"""Discover the pipeline's stages and their outputs from `dvc.yaml` at one side.

DVC's own index parses `dvc.yaml` (so `foreach` stages expand to
`scrape@<key>` exactly as `dvc repro` sees them, with `${...}` resolved from
that revision's params). A stage is a *record stage* when one of its outputs
is a directory holding `records.parquet` (and usually `rejected.parquet`) at
that side. Stages whose outputs do not exist at a side are kept in the list
with `record_dir=None`, so callers can say why they skip them; `unstored` marks a
stage whose output DVC does not cache (`cache: false`: scrape's `data/raw/<name>`),
which a git revision other than the workspace cannot show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from stages.audit.revisions import Side
from stages.lib.errors import StageError
from stages.review.decisions import LOG_FILE

RECORDS = "records.parquet"
REJECTED = "rejected.parquet"
CLUSTERS = "clusters.parquet"


@dataclass
class StageInfo:
    name: str  # as DVC addresses it: "clean", "scrape@cqia_zhihu"
    group: str  # the dvc.yaml entry: "scrape" for every "scrape@<key>"
    order: int  # position in dvc.yaml
    outs: list[str] = field(default_factory=list)  # non-metric outputs, repo-relative
    metrics: list[str] = field(default_factory=list)  # metric files
    params_files: list[str] = field(default_factory=list)
    record_dir: str | None = None  # the output directory with records.parquet, if it exists at this side
    has_rejected: bool = False
    uncached: list[str] = field(default_factory=list)  # cached outputs whose data is not in the local DVC cache
    unstored: bool = False  # an output DVC does not cache (cache: false) that this git revision cannot show

    @property
    def records_path(self) -> str | None:
        return f"{self.record_dir}/{RECORDS}" if self.record_dir else None

    @property
    def rejected_path(self) -> str | None:
        return f"{self.record_dir}/{REJECTED}" if self.record_dir and self.has_rejected else None


@dataclass
class Pipeline:
    stages: list[StageInfo]
    notes: list[str]

    def by_name(self) -> dict[str, StageInfo]:
        return {stage.name: stage for stage in self.stages}

    @property
    def metric_files(self) -> list[str]:
        return sorted({m for stage in self.stages for m in stage.metrics})

    @property
    def params_files(self) -> list[str]:
        return sorted({"params.yaml", *(p for stage in self.stages for p in stage.params_files)})


def _record_dir(side: Side, out: str) -> str | None:
    path = PurePosixPath(out)
    if path.name == RECORDS:
        return str(path.parent) if side.is_file(out) else None
    return out if side.is_file(f"{out}/{RECORDS}") else None


def discover(side: Side) -> Pipeline:
    """All stages of the side's `dvc.yaml` files, in file order, with their record directories."""
    notes: list[str] = []
    try:
        raw_stages = list(side.dvc_repo.index.stages)
    except Exception as exc:  # noqa: BLE001 - a broken or missing dvc.yaml at an old revision
        return Pipeline([], [f"{side.label}: cannot read the pipeline: {exc}"])
    stages: list[StageInfo] = []
    for order, stage in enumerate(raw_stages):
        if not getattr(stage, "name", None):
            continue  # a .dvc file from `dvc add`, not a pipeline stage
        dvcfile = str(getattr(stage, "path_in_repo", "dvc.yaml"))
        name = stage.name if dvcfile == "dvc.yaml" else f"{dvcfile}:{stage.name}"
        info = StageInfo(name=name, group=name.split("@", 1)[0], order=order)
        for out in stage.outs:
            (info.metrics if out.metric else info.outs).append(str(out.def_path))
            if out.use_cache and not out.metric and side.uncached(str(out.def_path)):
                info.uncached.append(str(out.def_path))
            if not out.use_cache and not out.metric and side.kind != "workspace" \
                    and not side.exists(str(out.def_path)):
                info.unstored = True  # scrape's data/raw/<name>: only the workspace has it
        info.params_files = sorted(
            {str(dep.def_path) for dep in stage.deps if type(dep).__name__ == "ParamsDependency"}
        )
        for out in info.outs:
            found = _record_dir(side, out)
            if found:
                info.record_dir = found
                info.has_rejected = side.is_file(f"{found}/{REJECTED}")
                break
        stages.append(info)
    if not stages:
        notes.append(f"{side.label}: no pipeline stages in dvc.yaml")
    return Pipeline(stages, notes)


def review_logs(side: Side, pipeline: Pipeline) -> list[tuple[str, str]]:
    """(stage, path) of every review decision log (the review stage's `decisions.parquet`) at this side."""
    return [(stage.name, f"{stage.record_dir}/{LOG_FILE}") for stage in pipeline.stages
            if stage.record_dir and side.is_file(f"{stage.record_dir}/{LOG_FILE}")]


def require_data(side: Side, pipeline: Pipeline) -> None:
    """Stop with one line when the revision's data is not in the local DVC cache (rather than call it absent)."""
    missing = [out for stage in pipeline.stages for out in stage.uncached]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise StageError(
            f"{side.label}: the data of {len(missing)} output(s) is not in the local DVC cache ({shown}); "
            "run `dvc pull` (for a revision other than the checked-out one: `dvc fetch --all-commits`), then retry")


def merge_order(a: list[str], b: list[str]) -> list[str]:
    """Union of two stage orders: B's order, with A-only stages placed after their A predecessor."""
    merged = list(b)
    for i, name in enumerate(a):
        if name in merged:
            continue
        anchor = next((a[j] for j in range(i - 1, -1, -1) if a[j] in merged), None)
        merged.insert(merged.index(anchor) + 1 if anchor else 0, name)
    return merged
