"""Numbers in params that keep the type YAML gave them.

`stages.lib.params`' float fields turn `epochs: 1` into `1.0`. The sft stages write their params
into data/sft/manifest.json and the model card of models/sft, where `1` and `1.0` are different
bytes; `Number` accepts an integer or a finite float (never a bool) and keeps it as written.

    epochs: number(lambda v: v > 0, "a positive number") = 1
    # params.yaml: train.epochs: must be a positive number, got 0
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import PlainValidator
from pydantic_core import PydanticCustomError

from stages.lib.params import check


def _shown(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if value != value else (".inf" if value > 0 else "-.inf")
    return repr(value)


def as_number(value: Any) -> int | float:
    """An int or a finite float as given; anything else fails with our wording."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("value_rule", "must be a number, got {got}", {"got": _shown(value)})
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("value_rule", "must be a finite number, got {got}", {"got": _shown(value)})
    return value


Number = Annotated[int | float, PlainValidator(as_number)]


def number(ok: Any, phrase: str) -> Any:
    """A `Number` with a range rule: fails as `must be <phrase>, got <value>`."""
    return Annotated[int | float, PlainValidator(as_number), check(ok, phrase)]
