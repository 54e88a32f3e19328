"""Field types shared by the LLM sections' params models (`model`, `rewrite`, `familiarity`).

They complete stages/lib/params.py for what these sections need:

- `Number`: an int or a float, kept as written (a YAML `5` stays `5`, so texts such as a
  rejected row's `max_ppl 5` and request bodies do not change), never a bool, finite;
- `NonNegative`: an integer >= 0, in the wording these sections always used;
- `Names`: a list of non-empty strings, null = empty;
- `Block`: a nested block that may be left empty in YAML (`generation:` with nothing under it
  means the defaults);
- `rule(ok, message)`: a value rule with a message of our own (`check` always says "must be ...").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainValidator
from pydantic_core import PydanticCustomError

from stages.lib.params import check


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("float_type", "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "must be a finite number")
    return value


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PydanticCustomError("value_rule", "must be a list of names (empty = any), got {got}",
                                  {"got": repr(value)})
    return value


def rule(ok: Callable[[Any], bool], message: str) -> AfterValidator:
    """Like `check`, with the whole message given: `rule(lambda v: v.startswith("http"), "must start with
    http:// or https://, got {got}")` (`{got}` is optional: leave it out for values not to be echoed)."""

    def validate(value: Any) -> Any:
        if not ok(value):
            raise PydanticCustomError("value_rule", message, {"got": repr(value)})
        return value

    return AfterValidator(validate)


Number = Annotated[int | float, PlainValidator(_number)]
PositiveNumber = Annotated[Number, check(lambda v: v > 0, "a positive number")]
NonNegative = Annotated[int, check(lambda v: v >= 0, "a non-negative integer")]
Names = Annotated[list[str], BeforeValidator(_names)]
Block = BeforeValidator(lambda value: {} if value is None else value)
