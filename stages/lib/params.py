"""params.yaml, read and checked at load: one typed model per section, one line per problem.

Every section of params.yaml is a `<Section>Params` class next to the code that uses it, built on
`Params` below (pydantic, strict): wrong types, non-finite numbers, out-of-range values and unknown
keys fail with one line naming the key, e.g.

    params.yaml: clean.defaults.min_chars: must be an integer, got '4'
    params.yaml: clean.by_source.segmentfualt: names no configured subset (did you mean segmentfault?); ...

    class ExampleParams(Params, section="example"):   # declares the model of `params.yaml: example`
        num_perm: PositiveInt = 128
        threshold: Fraction

    settings = load_section(ExampleParams, "params.yaml")

Field types: `PositiveInt`, `NonNegativeInt`, `PositiveFloat`, `NonNegativeFloat`, `Fraction`,
`Number` (an int or float kept as YAML wrote it), `PositiveNumber`, `number(ok, phrase)`, `Names`
(a list of names; null = []), `Block` (an empty YAML block = the defaults); rules: `check(ok, phrase)`
(`must be <phrase>, got <value>`) and `rule(ok, message)` (worded in full); `known_subsets`.

The file itself is read by stages/lib/yamlfile.py (a key given twice, deep nesting, bad UTF-8: one
line each); a symlinked params file is refused. Each section's model declares its section where
the code is (`section="dedup"` above; a second model for one section fails at import); `stages.check`
and the tests find every declared section (stages/check/sections.py), and a stage reads its
sections through `load_section(Model, ...)` calls (tests/test_dvc_deps.py reads those calls to keep
`dvc.yaml` params honest). Keys that must name configured subsets
(`by_source` mappings) are checked against `context={"subsets": [...]}` (see `known_subsets`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainValidator, ValidationError, ValidationInfo,
                      model_validator)
from pydantic_core import PydanticCustomError

from stages.lib.yamlfile import read_yaml

DEFAULT_PARAMS = Path("params.yaml")
FROM_FILE = {"from_file": True}  # validation context of a section read from a params file (see `load_section`)
M = TypeVar("M", bound="Params")


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """The params file as a mapping; a symlinked file is refused (`dvc exp run -S` would rewrite the file
    it points at, wherever that is)."""
    if Path(path).is_symlink():
        raise ValueError(f"{path}: is a symbolic link; params are read only from a real file in the repository "
                         "(copy the file here instead of linking it)")
    data = read_yaml(path, "params file")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be a mapping")
    return data


def did_you_mean(key: Any, allowed: Any, missing: Any = ()) -> str:
    """` (did you mean threshold?)`, with ` it is missing` when the close key is a required one not given."""
    close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {close[0]}?{' it is missing' if close[0] in missing else ''})"


class Params(BaseModel):
    """Base of every section model: strict types, finite numbers, no unknown keys, immutable.

    `required_in_file` names keys that have a default in code but must be stated in a params file
    (`FROM_FILE` context). Unknown keys are reported before missing ones, so a typo is named even when
    it leaves a required key missing: `dedup.treshold: unknown key (did you mean threshold? it is
    missing); allowed: ...`, not `dedup.threshold: missing required key`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False,
                              validate_default=True)
    required_in_file: ClassVar[tuple[str, ...]] = ()
    section: ClassVar[str | None] = None  # the params.yaml section a stage's model declares (`declare_section`)

    def __init_subclass__(cls, section: str | None = None, **kwargs: Any) -> None:
        """`class DedupParams(Params, section="dedup")` declares the model of `params.yaml: dedup`."""
        super().__init_subclass__(**kwargs)
        if section is not None:
            declare_section(section, cls)

    @model_validator(mode="before")
    @classmethod
    def _required_in_file(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and (info.context or {}).get("from_file"):
            for key in cls.required_in_file:
                if key not in data:
                    raise key_problem(key, "missing required key")
        return data

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:  # runs before `_required_in_file` (defined after it)
        if not isinstance(data, dict):
            raise PydanticCustomError("mapping", "must be a mapping, got {got}", {"got": _shown(data)})
        allowed = {field.alias or name for name, field in cls.model_fields.items()}
        required = [*cls.required_in_file,
                    *(field.alias or name for name, field in cls.model_fields.items() if field.is_required())]
        require_known(data, allowed, "unknown key", "allowed", [key for key in required if key not in data])
        return data


# params.yaml section -> its model, filled as the modules declaring them are imported
# (stages/check/sections.py imports every one of them for `stages.check` and the tests)
SECTIONS: dict[str, type[Params]] = {}


def _place(model: type) -> str:
    return f"{model.__module__}:{model.__qualname__}"


def declare_section(section: str, model: type[Params]) -> None:
    """Register `model` as the one model of `params.yaml: <section>`; a second model is an import error."""
    known = SECTIONS.get(section)
    if known is not None and _place(known) != _place(model):
        raise ValueError(f"params section '{section}' is declared twice: {_place(known)} and {_place(model)}")
    model.section = section
    SECTIONS[section] = model


def key_problem(key: Any, text: str) -> PydanticCustomError:
    """A problem with a key below the validated value (an unknown key, a pair such as `bands/rows`),
    reported as `<where>.<key>: <text>`."""
    return PydanticCustomError("key_problem", "{key}: {text}", {"key": str(key), "text": text})


def require_known(keys: Any, known: Any, what: str, label: str, missing: Any = ()) -> None:
    """Fail on the first key not in `known`: `<key>: <what> (did you mean ...?); <label>: <known>`
    (`missing`: required keys not given, named as such in the suggestion)."""
    listed = ", ".join(known if isinstance(known, (list, tuple)) else sorted(known))
    for key in keys:
        if key not in known:
            raise key_problem(key, f"{what}{did_you_mean(key, known, missing)}; {label}: {listed}")


def check(ok: Any, phrase: str) -> AfterValidator:
    """A value rule with our wording: `Annotated[int, check(lambda v: v >= 1, "a positive integer")]`
    fails as `must be a positive integer, got 0`."""

    return rule(ok, f"must be {phrase}")


def rule(ok: Callable[[Any], Any], message: str, *, echo: bool = True) -> AfterValidator:
    """A value rule worded in full: fails as `<message>, got <value>`, or as `message` itself when it
    holds `{got}` or when `echo=False` (a URL or a key that may hold a secret is never echoed)."""
    if echo and "{got}" not in message:
        message += ", got {got}"

    def validate(value: Any) -> Any:
        if not ok(value):
            raise PydanticCustomError("value_rule", message, {"got": _shown(value)})
        return value

    return AfterValidator(validate)


def as_number(value: Any) -> int | float:
    """An int or a finite float, kept as YAML gave it (`epochs: 1` stays `1`, so cards, manifests, cache
    keys and rejected details keep their bytes); a bool or a string fails."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("value_rule", "must be a number, got {got}", {"got": _shown(value)})
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("value_rule", "must be a finite number, got {got}", {"got": _shown(value)})
    return value


Number = Annotated[int | float, PlainValidator(as_number)]


def number(ok: Callable[[Any], Any], phrase: str) -> Any:
    """A `Number` with a range rule: fails as `must be <phrase>, got <value>`."""
    return Annotated[int | float, PlainValidator(as_number), check(ok, phrase)]


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PydanticCustomError("value_rule", "must be a list of names (empty = any), got {got}",
                                  {"got": _shown(value)})
    return value


PositiveInt = Annotated[int, check(lambda v: v >= 1, "a positive integer")]
NonNegativeInt = Annotated[int, check(lambda v: v >= 0, "a whole number >= 0")]
PositiveFloat = Annotated[float, check(lambda v: v > 0, "a positive number")]
NonNegativeFloat = Annotated[float, check(lambda v: v >= 0, "a number >= 0")]
Fraction = Annotated[float, check(lambda v: 0 <= v <= 1, "between 0 and 1")]
PositiveNumber = number(lambda v: v > 0, "a positive number")
ShareBelowOne = number(lambda v: 0 <= v < 1, "in [0, 1)")  # a held-out or dropout share
Names = Annotated[list[str], BeforeValidator(_names)]  # a list of non-empty strings; null = []
Block = BeforeValidator(lambda value: {} if value is None else value)  # `generation:` left empty = the defaults


def known_subsets(mapping: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
    """For a `by_source` field (`field_validator("by_source")(known_subsets)`): every key must name a
    subset of the configured sources, when the loader passed them as context."""
    subsets = (info.context or {}).get("subsets")
    if subsets is not None:
        require_known(mapping, sorted(subsets), "names no configured subset", "configured")
    return mapping


_TYPE_WORDS = {
    "int": "an integer", "float": "a number", "bool": "true or false", "string": "a string",
    "list": "a list", "dict": "a mapping", "model": "a mapping", "none": "null",
}


def _shown(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return ".inf" if value > 0 else ("-.inf" if value < 0 else ".nan")
    return repr(value)


def _message(error: dict[str, Any]) -> tuple[list[Any], str]:
    """(location, message) of one pydantic error in our wording."""
    loc, kind, ctx = list(error["loc"]), error["type"], error.get("ctx") or {}
    got = _shown(error.get("input"))
    if "[key]" in loc:  # a mapping's key itself is wrong (an integer source name, ...)
        loc = loc[:loc.index("[key]") - 1]
        return loc, f"keys must be strings, got {got}"
    if kind == "key_problem":
        key, _, rest = error["msg"].partition(": ")
        return [*loc, key], rest
    if kind in {"value_rule", "mapping"}:
        return loc, error["msg"]
    if kind == "missing":
        return loc, "missing required key"
    if kind == "finite_number":
        return loc, f"must be a finite number, got {got}"
    if kind == "literal_error":
        return loc, f"must be one of {ctx.get('expected', '').replace(' or ', ', ').replace(chr(39), '')}, got {got}"
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "int_from_float":
        word = _TYPE_WORDS.get(kind.split("_")[0], kind.split("_")[0])
        return loc, f"must be {word}, got {got}"
    return loc, f"{error['msg'][0].lower()}{error['msg'][1:]}, got {got}"


def _where(prefix: str, loc: list[Any]) -> str:
    parts = [str(part) for part in loc if not (isinstance(part, str) and part.startswith(("function-", "union")))]
    return ".".join([prefix, *parts]) if prefix else ".".join(parts)


def first_problem(exc: ValidationError, where: str) -> str:
    """One line for a failed validation: the first problem, prefixed with the full key."""
    errors = exc.errors(include_url=False)
    # a union reports one error per arm; the value's own arm (not `null`) says the most
    errors.sort(key=lambda e: e["type"] == "none_required")
    loc, message = _message(errors[0])
    return f"{_where(where, loc)}: {message}"


def parse_section(model: type[M], raw: Any, where: str, context: dict[str, Any] | None = None) -> M:
    """Validate one section's raw value into its model, or raise ValueError with one line naming the key."""
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        raise ValueError(first_problem(exc, where)) from None


def load_section(section: str | type[M], path: str | Path = DEFAULT_PARAMS, context: dict[str, Any] | None = None,
                 optional: bool = False) -> Any:
    """A section of the params file: `load_section(ExampleParams)` reads the section the model declares
    (`params.yaml: example`) and validates it; `load_section("<name>")` returns a section without a model
    as written. ValueError names the missing section or the bad key (`params.yaml: dedup.threshold: must
    be between 0 and 1, got 2`). The context holds `FROM_FILE`, so a model may require in the file keys
    that code may leave to their defaults. An `optional` section that the file lacks is the model's
    defaults."""
    model = None if isinstance(section, str) else section
    name = section if model is None else model.section
    if name is None:
        raise TypeError(f"{_place(section)} declares no params section (class X(Params, section=...))")
    data = load_params(path)
    if name not in data and optional and model is not None:
        return model()
    if name not in data:
        raise ValueError(f"{path}: missing section '{name}'")
    if model is None:
        return data[name]
    return parse_section(model, data[name], f"{path}: {name}", {**FROM_FILE, **(context or {})})


def require_keys(where: str, settings: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    """Reject unknown and missing keys with a message that names them: for files that are not params
    sections (the rule catalog, schemas/rules.yaml); params sections declare a `Params` model instead."""
    if not isinstance(settings, dict):
        raise ValueError(f"{where}: must be a mapping, got {type(settings).__name__}")
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(settings))
    if missing:
        raise ValueError(f"{where}: missing required key(s) {', '.join(missing)}")
