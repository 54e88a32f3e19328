"""Expectation suites as JSON files in `schemas/expectations/` (GX 1.x suite format).

A suite file is what GX itself writes for an `ExpectationSuite`:
`{"name", "expectations": [{"type", "kwargs", "severity", "description", "meta"}], "meta", "notes"}`.
On top of GX we require:

- `name` equals the file stem, so reports and messages name the file;
- every expectation states its `severity` (GX 1.24's native field: critical,
  warning or info; GX would silently default to critical) and a one-line
  `description` that the failure message prints;
- every expectation builds: GX only logs and drops an invalid expectation when
  it constructs a suite, so we build each one ourselves and raise instead.

Values that depend on the run rather than on data quality are GX suite
parameters, `{"$PARAMETER": "<name>"}` in kwargs (e.g. `min_rows`,
`configured_sources`); the caller passes them to `run_suite`. Those from params.yaml:

- `min_rows`: `validate.min_rows` (`ValidateParams`, the validate stage's section);
- `configured_sources`: the subsets of `params.yaml: sources` (`stages.ingest.subsets.configured_sources`), read by
  every stage that runs a suite (validate, rewrite, assemble): a second list would drift;
- `min_zh_share`: a stage section's `min_zh_share` (a `ZhShare` field: validate, rewrite,
  assemble), passed only when set, else the suite's default applies;
- `max_chars`: the longest record `clean` lets through, the largest `max_chars` of `params.yaml: clean`
  over the configured subsets, and `chinese_sources`, the subsets clean requires to be Chinese
  (`min_chinese` above 0; `clean_bounds`): a suite never bounds a length tighter than the filter that
  judged it, nor asks a source clean keeps English on purpose to be Chinese, so a record clean keeps
  cannot stop validate (one source of truth for limits). `chinese_sources` is read by the `zh_share`
  derived column (an expectation's `meta.parameters`, see `parameter_names`).
`run_parameters` builds them.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from stages.lib.errors import StageError
from stages.lib.params import NonNegativeInt, Params, check, load_section

SUITES_DIR = Path(__file__).resolve().parents[2] / "schemas" / "expectations"
SEVERITIES = ("critical", "warning", "info")
_ID_NAMESPACE = uuid.UUID("6f1c1f55-4a36-4f0e-9f53-3c0f3e7d2a10")


def suite_path(suite: str | Path) -> Path:
    """A suite name (`records`) resolves to `schemas/expectations/<name>.json`; a path is used as is."""
    text = str(suite)
    if text.endswith(".json") or "/" in text:
        return Path(suite)
    return SUITES_DIR / f"{text}.json"


def load_suite_config(suite: str | Path) -> dict[str, Any]:
    """Read and check a suite file; returns its JSON with a stable `id` per expectation."""
    path = suite_path(suite)
    if not path.is_file():
        raise StageError(f"{path}: expectation suite not found")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StageError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("expectations"), list):
        raise StageError(f"{path}: a suite is an object with an 'expectations' list")
    if config.get("name") != path.stem:
        raise StageError(f"{path}: suite name {config.get('name')!r} must equal the file name {path.stem!r}")
    for index, exp in enumerate(config["expectations"]):
        where = f"{path}: expectations[{index}]"
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str) or not isinstance(exp.get("kwargs"), dict):
            raise StageError(f"{where}: needs 'type' (string) and 'kwargs' (object)")
        if exp.get("severity") not in SEVERITIES:
            raise StageError(f"{where} ({exp['type']}): 'severity' must be one of {', '.join(SEVERITIES)}")
        if not isinstance(exp.get("description"), str) or not exp["description"].strip():
            raise StageError(f"{where} ({exp['type']}): needs a one-line 'description'")
        exp.setdefault("id", str(uuid.uuid5(_ID_NAMESPACE, f"{config['name']}:{index}")))
    return config


def build_suite(config: dict[str, Any]) -> Any:
    """Build the GX `ExpectationSuite`, raising on any expectation GX would drop."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    expectations = []
    for index, exp in enumerate(config["expectations"]):
        try:
            configuration = ExpectationConfiguration(**exp)
            configuration.to_domain_obj()  # raises where the suite constructor would only log
        except Exception as exc:  # GX raises several unrelated types for a bad configuration
            where = f"suite {config['name']}: expectations[{index}] ({exp['type']})"
            raise StageError(f"{where} is invalid: {exc}") from None
        expectations.append(configuration)
    suite = gx.ExpectationSuite(name=config["name"], expectations=expectations, meta=dict(config.get("meta") or {}),
                                notes=config.get("notes"))
    if len(suite.expectations) != len(expectations):
        dropped = len(expectations) - len(suite.expectations)
        raise StageError(f"suite {config['name']}: GX dropped {dropped} expectation(s)")
    return suite


def parameter_names(config: dict[str, Any]) -> set[str]:
    """Names of the `{"$PARAMETER": name}` references in the suite's kwargs, and in an expectation's
    `meta.parameters` (values a derived column reads, e.g. `zh_share`'s `chinese_sources`)."""
    names: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if "$PARAMETER" in value:
                names.add(str(value["$PARAMETER"]))
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    for exp in config["expectations"]:
        visit(exp["kwargs"])
        visit((exp.get("meta") or {}).get("parameters"))
    return names


def derived_parameters(config: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The run's values of the parameters the suite's derived columns read (`meta.parameters`)."""
    names: dict[str, Any] = {}
    for exp in config["expectations"]:
        for key, ref in ((exp.get("meta") or {}).get("parameters") or {}).items():
            names[key] = parameters[ref["$PARAMETER"]] if isinstance(ref, dict) and "$PARAMETER" in ref else ref
    return names


def referenced_columns(config: dict[str, Any]) -> set[str]:
    """Columns named by the suite's column expectations (`column` kwargs)."""
    return {exp["kwargs"]["column"] for exp in config["expectations"] if isinstance(exp["kwargs"].get("column"), str)}


# --- suite parameters from params.yaml ---------------------------------------------------------

# A section's `min_zh_share`: records must be mostly Chinese (Han share >= this); null = the suite's
# default (0.2), 0 for English data.
ZhShare = Annotated[float, check(lambda v: 0 <= v <= 1, "a number in [0, 1]")] | None


class CleanBounds(NamedTuple):
    """What the suites take from `params.yaml: clean`, so they never contradict the filter that judged a
    record: the longest record it keeps, and the subsets it requires to be Chinese."""

    max_chars: int
    chinese_sources: list[str]


def clean_bounds(params_path: str | Path, subsets: list[str]) -> CleanBounds:
    """`max_chars` (the largest `clean` lets any configured subset keep) and `chinese_sources`."""
    from stages.clean.filters import CleanParams, chinese_required, longest_allowed

    clean = load_section(CleanParams, params_path, context={"subsets": subsets})
    return CleanBounds(longest_allowed(clean, subsets), chinese_required(clean, subsets))


def run_parameters(min_rows: int, subsets: list[str], min_zh_share: float | None,
                   bounds: CleanBounds) -> dict[str, Any]:
    """A suite run's parameters from params.yaml: `min_rows`, `configured_sources`, `max_chars`,
    `chinese_sources` and `min_zh_share` (passed only when set, else the suite's default applies)."""
    zh = {} if min_zh_share is None else {"min_zh_share": float(min_zh_share)}
    return {"min_rows": min_rows, "configured_sources": subsets, "max_chars": bounds.max_chars,
            "chinese_sources": list(bounds.chinese_sources), **zh}


class ValidateParams(Params, section="validate"):
    """`params.yaml: validate`: what the `records` suite's parameters take from the run."""

    min_rows: NonNegativeInt
    min_zh_share: ZhShare = None

    def suite_parameters(self, subsets: list[str], bounds: CleanBounds) -> dict[str, Any]:
        return run_parameters(self.min_rows, subsets, self.min_zh_share, bounds)
