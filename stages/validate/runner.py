"""Running a suite on a polars frame with an ephemeral GX context.

`run_suite(frame, suite, parameters)` is the one entry point the validate,
rewrite and assemble stages call:

1. load and check the suite JSON (`suites.py`);
2. add the derived columns the suite refers to (`derived.py`), with polars;
3. hand GX a pandas frame with pyarrow-backed columns (GX does not take polars
   frames; arrow-backed columns avoid copying the text into Python objects);
4. validate every row in one batch with result format SUMMARY, the record
   `id` as the index column, and at most `MAX_IDS` offending ids per
   expectation (GX computes them on all rows, keeps the first ones);
5. return a `SuiteResult`: one `Outcome` per expectation, in suite order.

The GX context is ephemeral (in memory, nothing written, no network): it is
created once per process, with analytics and progress bars off.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.errors import StageError
from stages.lib.progress import tracker
from stages.validate.derived import DERIVED, add_derived
from stages.validate.suites import (SEVERITIES, build_suite, derived_parameters, load_suite_config, parameter_names,
                                      referenced_columns)

MAX_IDS = 10
ID_COLUMN = "id"
NULL_ID = "(null id)"
_GX_MISSING_COLUMN = re.compile(r'The column "([^"]+)" in BatchData does not exist')


@dataclass(frozen=True)
class Outcome:
    """The result of one expectation, flattened for messages, reports and metrics."""

    type: str
    kwargs: dict[str, Any]
    severity: str
    description: str
    success: bool
    observed: str
    unexpected_count: int | None = None
    element_count: int | None = None
    ids: tuple[str, ...] = ()
    error: str | None = None

    @property
    def column(self) -> str | None:
        column = self.kwargs.get("column")
        return column if isinstance(column, str) else None

    @property
    def label(self) -> str:
        """`expect_x(column, thresholds)`, e.g. `expect_column_values_to_be_between(zh_share, min_value=0.2)`."""
        args = [self.column] if self.column else []
        args += [f"{k}={_short(v)}" for k, v in self.kwargs.items() if k not in ("column", "batch_id", "column_set")]
        return f"{self.type}({', '.join(str(a) for a in args)})"


def _short(value: Any) -> str:
    """Thresholds as written (0 rather than GX's 0.0), long value sets abbreviated."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple, set)) and len(value) > 5:
        items = sorted(value, key=str)
        return "[" + ", ".join(repr(v) for v in items[:5]) + f", ... {len(items)} values]"
    return repr(value)


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    rows: int
    outcomes: tuple[Outcome, ...]
    gx_result: dict[str, Any] = field(repr=False)
    seconds: dict[str, float] = field(default_factory=dict)  # derive / to_pandas / gx wall time

    @property
    def success(self) -> bool:
        """True unless a critical expectation failed (warnings and info only report)."""
        return not self.failed("critical")

    def failed(self, severity: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and severity in (None, o.severity)]

    def counts(self) -> dict[str, Any]:
        """Evaluated / passed / failed expectations, in total and by severity."""
        def tally(items: list[Outcome]) -> dict[str, int]:
            passed = sum(o.success for o in items)
            return {"evaluated": len(items), "passed": passed, "failed": len(items) - passed}

        by = {sev: tally([o for o in self.outcomes if o.severity == sev]) for sev in SEVERITIES}
        return {**tally(list(self.outcomes)), "by_severity": by}


@functools.cache
def gx_context() -> Any:
    """One ephemeral GX context per process (in memory, analytics and progress bars off)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    # GX fingerprints every pandas batch under this many bytes by hashing all cells, twice per
    # validation: a third of the time at 1M records, for a marker we do not use (DVC hashes the input).
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    return context


@functools.cache
def _batch_definition() -> Any:
    """A pandas data source with one whole-dataframe batch definition; each run passes its frame."""
    asset = gx_context().data_sources.add_pandas("frames").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("all_rows")


def _observed(result: dict[str, Any], kwargs: dict[str, Any]) -> str:
    """A short text for what GX saw: the observed value, or how many rows broke the rule and some values."""
    if "observed_value" in result:
        missing = (result.get("details") or {}).get("mismatched", {}).get("missing")
        if "column_set" in kwargs:
            return f"missing columns {sorted(missing)}" if missing else "all listed columns present"
        return str(result["observed_value"])
    if "unexpected_count" in result:
        count, total = result["unexpected_count"], result.get("element_count") or 0
        pct = 100 * count / total if total else 0.0
        share = "" if not total else " (<0.01%)" if 0 < pct < 0.01 else f" ({pct:.2f}%)"
        text = f"{count} of {total} rows unexpected{share}"
        values = [v for v in result.get("partial_unexpected_list") or []
                  if v is not None and kwargs.get("column") != ID_COLUMN]
        if count and values:
            shown = sorted({str(v) for v in values})[:5]
            text += f", e.g. {kwargs.get('column')} = {', '.join(shown)}"
        return text
    return "no result"


def _error(result: dict[str, Any], skipped: dict[str, str], kwargs: dict[str, Any]) -> str | None:
    info = result.get("exception_info") or {}
    messages = []
    if info.get("raised_exception"):
        messages.append(str(info.get("exception_message")))
    messages += [str(v.get("exception_message")) for v in info.values()
                 if isinstance(v, dict) and v.get("raised_exception")]
    if not messages:
        return None
    column = kwargs.get("column")
    if column in skipped:
        return skipped[column]
    missing = _GX_MISSING_COLUMN.search(messages[0])
    return f"column {missing.group(1)} is missing" if missing else messages[0]


def _id_text(value: Any) -> str:
    return NULL_ID if value is None else str(value)


def _outcome(result: dict[str, Any], config: dict[str, Any], skipped: dict[str, str]) -> Outcome:
    resolved = result["expectation_config"]["kwargs"]  # suite parameters filled in by GX
    kwargs = {k: resolved[k] for k in config["kwargs"] if k in resolved}
    res = result.get("result") or {}
    ids = tuple(_id_text(row.get(ID_COLUMN)) for row in res.get("partial_unexpected_index_list") or []
                if isinstance(row, dict))
    if not ids and kwargs.get("column") == ID_COLUMN:
        ids = tuple(_id_text(v) for v in res.get("partial_unexpected_list") or [])
    error = _error(result, skipped, kwargs)
    return Outcome(
        type=config["type"],
        kwargs=kwargs,
        severity=config["severity"],
        description=config["description"],
        success=bool(result["success"]) and error is None,
        observed=f"not evaluated: {error}" if error else _observed(res, kwargs),
        unexpected_count=res.get("unexpected_count"),
        element_count=res.get("element_count"),
        ids=tuple(dict.fromkeys(ids))[:MAX_IDS],
        error=error,
    )


def to_pandas(frame: pl.DataFrame, derived: list[str]) -> Any:
    """The frame for GX: record columns pyarrow-backed, derived columns as numpy int64/float64/bool.

    Arrow-backed strings and lists are not copied into Python objects; numpy
    numbers keep GX's range checks vectorised (GX runs a Python function per
    value for any dtype other than numpy int/float, arrow-backed ones included).
    """
    import pandas as pd

    derived_frame = frame.select(
        pl.col(c).cast(pl.Int64) if frame.schema[c].is_integer() else pl.col(c) for c in derived
    )
    base = frame.drop(derived).to_pandas(use_pyarrow_extension_array=True)
    return pd.concat([base, derived_frame.to_pandas()], axis=1) if derived else base


def result_format(frame: pl.DataFrame) -> dict[str, Any]:
    """GX's result format: summaries, up to MAX_IDS unexpected ids when the frame has ids."""
    chosen: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_IDS,
                              "return_unexpected_index_query": False}
    if ID_COLUMN in frame.columns:
        chosen["unexpected_index_column_names"] = [ID_COLUMN]
    return chosen


def run_suite(frame: pl.DataFrame, suite: str | Path, parameters: Mapping[str, Any]) -> SuiteResult:
    """Validate every row of `frame` against `suite` (a name in schemas/expectations/ or a path).

    `parameters` fills the suite's `{"$PARAMETER": name}` references, over the suite's
    own `parameter_defaults`; a missing or unused one is an error, so a typo cannot
    silently disable a check.
    """
    config = load_suite_config(suite)
    parameters = {**(config.get("parameter_defaults") or {}), **parameters}
    needed = parameter_names(config)
    if needed != set(parameters):
        missing, extra = sorted(needed - set(parameters)), sorted(set(parameters) - needed)
        raise StageError(f"suite {config['name']}: parameters missing {missing}, not used by the suite {extra}")
    gx_suite = build_suite(config)
    batch_definition = _batch_definition()
    with tracker(f"validate[{config['name']}]", total=3, unit="phase") as shown:  # phases: no row-wise step
        shown.set_postfix(phase="derived columns")
        clock = time.perf_counter()
        with_derived, skipped = add_derived(frame, referenced_columns(config) & set(DERIVED),
                                            derived_parameters(config, parameters))
        seconds = {"derive": time.perf_counter() - clock}
        shown.set_postfix(phase="to pandas")
        shown.update(1)
        clock = time.perf_counter()
        pandas_frame = to_pandas(with_derived, [c for c in with_derived.columns if c in DERIVED])
        seconds["to_pandas"] = time.perf_counter() - clock
        shown.set_postfix(phase="expectations (GX)")
        shown.update(1)
        clock = time.perf_counter()
        batch = batch_definition.get_batch(batch_parameters={"dataframe": pandas_frame})
        validation = batch.validate(gx_suite, result_format=result_format(frame),
                                    expectation_parameters=dict(parameters))
        seconds["gx"] = time.perf_counter() - clock
        shown.update(1)
    gx_result = validation.to_json_dict()
    gx_result.get("meta", {}).get("batch_markers", {}).pop("ge_load_time", None)
    by_id = {r["expectation_config"].get("id"): r for r in gx_result["results"]}
    outcomes = []
    for exp in config["expectations"]:
        if exp["id"] not in by_id:
            raise StageError(f"suite {config['name']}: GX returned no result for {exp['type']} ({exp['description']})")
        outcomes.append(_outcome(by_id[exp["id"]], exp, skipped))
    gx_result["results"] = [by_id[exp["id"]] for exp in config["expectations"]]
    return SuiteResult(suite=config["name"], rows=frame.height, outcomes=tuple(outcomes), gx_result=gx_result,
                       seconds={k: round(v, 3) for k, v in seconds.items()})
