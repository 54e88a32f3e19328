"""The `sources` section of params.yaml: each entry validated into the class of its `kind`, at load.

Keys are source names (strings matching [a-z0-9_]+: they prefix record ids and name the scrape
stage's output folder data/raw/<name>). Each source is a mapping with a `kind` and a `path` (the
input DVC tracks); the other keys are those of its kind's class. The kinds are the classes of
stages/ingest/kinds/ (`SOURCE_KINDS`, registered through stages/ingest/base.py); an unknown `kind`
fails with one line listing them.

Other stages read this section too: `parse_sources` gives name -> source (`.name .kind .path
.subset .license`, `.subsets()`, and its kind's keys), and `stages.ingest.subsets.configured_subsets`
the `source` values their records may carry.
"""

from __future__ import annotations

import re
from typing import Any

import stages.ingest.kinds  # noqa: F401  (importing the kinds registers them)
from stages.ingest.base import KINDS, Source
from stages.lib.params import parse_section

WHERE = "params.yaml: sources"
_NAME = re.compile(r"^[a-z0-9_]+$")
NAME_RULE = ("source names must match [a-z0-9_]+ (they prefix record ids and name the stage's output folder "
             "data/raw/<name>)")
SOURCE_KINDS = KINDS  # kind name -> its class: every value `kind` may take


def parse_source(name: Any, raw: Any, where: str = WHERE) -> Source:
    """One source (`name` its key in `sources`) into the model of its kind, or ValueError with one line."""
    here = f"{where}.{name}"
    if not isinstance(name, str):
        raise ValueError(f"{here}: source names must be strings (quote the key), got {name!r}")
    if not _NAME.fullmatch(name):
        raise ValueError(f"{here}: {NAME_RULE}")
    if not isinstance(raw, dict):
        raise ValueError(f"{here}: must be a mapping, got {raw!r}")
    kind = raw.get("kind")
    if not (isinstance(kind, str) and kind in SOURCE_KINDS):
        raise ValueError(f"{here}.kind: must be one of {', '.join(sorted(SOURCE_KINDS))}, got {kind!r}")
    return parse_section(SOURCE_KINDS[kind], raw, here, context={"name": name})


def parse_sources(raw: Any, where: str = WHERE) -> dict[str, Source]:
    """The whole `sources` section: source name -> its settings (the first problem as one ValueError line)."""
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{where}: must be a non-empty mapping of source name to settings")
    return {name: parse_source(name, settings, where) for name, settings in raw.items()}
