"""The judge stage's run: every candidate judged against the rubric (cache first), columns added, written.

See stages/judge/__main__.py for what the stage reads and writes and README.md in this folder for the
scores. `judge_records` returns the kept and rejected frames before anything is written; `run_judge`
writes them through the stage contract with the per-source summary.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from stages.judge.answers import Judgement, Outcome, Rejected, Stats, check
from stages.judge.local import LocalJudge
from stages.judge.remote import RemoteJudge
from stages.judge.report import write_summary
from stages.judge.rubric import Rubric, load_rubric
from stages.judge.settings import JudgeParams
from stages.lib.contract import write_stage_outputs
from stages.lib.progress import quiet_libraries, tracker
from stages.lib.record import RECORD_SCHEMA
from stages.llm.cache import Removed, Response, ResponseCache
from stages.llm.prompts import sha256_of

TEXT = ("instruction", "input", "output")


@dataclass(frozen=True)
class JudgePaths:
    """Where the judge stage reads and writes (its command's options)."""

    records: Path
    rubric: Path
    base_model: Path
    cache: Path
    out: Path
    metrics: Path
    reports: Path


@dataclass(frozen=True)
class JudgeKey:
    """A cached judgement's key: what the judge reads, and nothing else (stages/llm/cache.py `Keyed`)."""

    backend: str
    model: str  # identity: a weights hash for local models, `<hub id>@<revision>`, an endpoint's model name
    record: str  # sha256 of the record's instruction, input and output
    rubric: str  # sha256 of the rubric file
    decoding: dict[str, Any]  # how the judgement is made: method (and dtype), generation params, max_chars

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "record": self.record, "rubric": self.rubric,
                "decoding": self.decoding}

    @property
    def key(self) -> str:
        return sha256_of(self.as_dict())


def judge_columns(rubric: Rubric) -> dict[str, Any]:
    return {"judge_score": pl.Float64, **{f"judge_{name}": pl.Float64 for name in rubric.names},
            "judge_verdict": pl.String, "judge_rationale": pl.String, "judge_model": pl.String,
            "judge_rubric": pl.String}


def make_judge(settings: JudgeParams, rubric: Rubric, base_model: Path) -> LocalJudge | RemoteJudge:
    if settings.backend == "openai":
        return RemoteJudge(rubric, settings)
    from stages.llm.backends.hf_local import BASE
    from stages.llm.base import read_model_dir, reference_spec

    local = settings.transformers
    if local.model == BASE:
        return LocalJudge(read_model_dir(base_model), rubric, settings)
    return LocalJudge(reference_spec(local.model, local.revision, local.dtype), rubric, settings)


def cached(cache: ResponseCache, key: JudgeKey, judge: LocalJudge | RemoteJudge, rubric: Rubric) -> Judgement | None:
    """A valid cached judgement, or None; an entry that holds the API key or no longer fits the schema
    (an edited schema file) is removed."""
    hit = cache.get(key, judge.guard)
    if isinstance(hit, Response):
        try:
            found = check(json.loads(hit.text), rubric)
        except json.JSONDecodeError:
            found = None
        if isinstance(found, Judgement):
            return found
    if hit is not None and not isinstance(hit, Removed):
        cache.discard(key)
    return None


def judge_all(rows: list[tuple[str, str, str]], judge: LocalJudge | RemoteJudge, rubric: Rubric,
              settings: JudgeParams, cache: ResponseCache) -> tuple[list[Outcome], int]:
    """An outcome per row (cache first; new valid judgements cached as they arrive) and the cache hits."""
    decoding = {**judge.key_settings, "generation": settings.generation.as_dict(), "max_chars": settings.max_chars}
    keys = [JudgeKey(judge.name, judge.identity, sha256_of(dict(zip(TEXT, row))), rubric.sha256, decoding)
            for row in rows]
    outcomes: list[Outcome | None] = [cached(cache, key, judge, rubric) for key in keys]
    hits = sum(outcome is not None for outcome in outcomes)
    missing = [i for i, outcome in enumerate(outcomes) if outcome is None]
    if missing:
        shown = tracker(f"judge ({hits} cached)", total=len(missing), unit="record")  # a line every 30 s in a log

        def done(position: int, outcome: Outcome) -> None:
            if isinstance(outcome, Judgement):
                cache.put(keys[missing[position]], Response(outcome.as_json(), "stop"), judge.guard)
            shown.update(1)

        with shown:
            fresh = judge.judge([rows[i] for i in missing], done)
        for position, index in enumerate(missing):
            outcomes[index] = fresh[position]
    return outcomes, hits  # type: ignore[return-value]


def with_columns(frame: pl.DataFrame, outcomes: dict[int, Outcome], rubric: Rubric, model: str) -> pl.DataFrame:
    """The frame with the judge columns (null where a row was not judged) and reason/detail for rejections."""
    def value(index: int, pick: Any) -> Any:
        outcome = outcomes.get(index)
        return pick(outcome) if isinstance(outcome, Judgement) else None

    indices = range(frame.height)
    values: dict[str, list[Any]] = {
        "judge_score": [value(i, lambda j: float(j.overall)) for i in indices],
        **{f"judge_{name}": [value(i, lambda j, n=name: float(j.dimensions[n])) for i in indices]
           for name in rubric.names},
        "judge_verdict": [value(i, lambda j: j.verdict) for i in indices],
        "judge_rationale": [value(i, lambda j: j.rationale) for i in indices],
        "judge_model": [model if i in outcomes else None for i in indices],
        "judge_rubric": [rubric.sha256 if i in outcomes else None for i in indices],
    }
    rejected = {i: o for i, o in outcomes.items() if isinstance(o, Rejected)}
    columns = [pl.Series(name, values[name], dtype=dtype) for name, dtype in judge_columns(rubric).items()]
    return frame.with_columns(
        *columns,
        pl.Series("reason", [rejected[i].reason if i in rejected else None for i in indices], dtype=pl.String),
        pl.Series("detail", [rejected[i].detail if i in rejected else None for i in indices], dtype=pl.String))


def judge_records(frame: pl.DataFrame, rubric: Rubric, settings: JudgeParams, base_model: Path,
                  cache: ResponseCache) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(kept, rejected, metrics) before anything is written. Rows with a blank output are not judged."""
    frame = frame.drop([c for c in judge_columns(rubric) if c in frame.columns])
    rows = frame.select(TEXT).rows()
    judged = [i for i, (_, _, output) in enumerate(rows) if output and output.strip()] if settings.enabled else []
    metrics: dict[str, Any] = {"enabled": settings.enabled, "backend": settings.backend, "model": None,
                               "rubric": rubric.sha256, "judged": len(judged), "unjudged": frame.height - len(judged),
                               "cache_hits": 0, "cache_misses": 0, "cache_stored": 0, **Stats().as_dict()}
    outcomes: dict[int, Outcome] = {}
    if judged:
        judge = make_judge(settings, rubric, base_model)
        found, hits = judge_all([rows[i] for i in judged], judge, rubric, settings, cache)
        outcomes = dict(zip(judged, found))
        metrics |= {"model": judge.model, "cache_hits": hits, "cache_misses": len(judged) - hits,
                    "cache_stored": cache.stored, **judge.stats.as_dict()}
    full = with_columns(frame, outcomes, rubric, metrics["model"])
    kept = full.filter(pl.col("reason").is_null()).drop("reason", "detail")
    return kept, full.filter(pl.col("reason").is_not_null()), metrics


def run_judge(settings: JudgeParams, paths: JudgePaths) -> dict[str, Any]:
    """The whole stage: check the rubric, judge every candidate, write the outputs and the summary."""
    started = time.perf_counter()
    quiet_libraries()  # library progress bars only on a terminal
    rubric = load_rubric(paths.rubric)  # a broken rubric stops the stage before anything is read
    if not paths.records.is_file():
        raise FileNotFoundError(f"{paths.records}: records not found")
    frame = pl.read_parquet(paths.records)
    cache = ResponseCache(paths.cache)
    cache.ensure_root()
    kept, rejected, metrics = judge_records(frame, rubric, settings, paths.base_model, cache)
    metrics |= write_summary(kept, rubric, paths.reports)
    passing = tuple(c for c in kept.columns if c not in RECORD_SCHEMA and c not in judge_columns(rubric))
    return write_stage_outputs("judge", paths.out, paths.metrics, kept=kept, rejected=rejected,
                               rows_in=frame.height, started=started,
                               extra_columns=(*passing, *judge_columns(rubric)), extra_metrics=metrics)
