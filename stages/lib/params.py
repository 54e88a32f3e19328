"""Loading one stage's section of params.yaml, with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULT_PARAMS = Path("params.yaml")


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse a YAML file, or raise ValueError naming the file (`what` says what it should be)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: {what} not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    data = read_yaml(path, "params file")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be a mapping")
    return data


def load_section(section: str, path: str | Path = DEFAULT_PARAMS) -> Any:
    """Return params[section], or raise ValueError naming the missing key."""
    data = load_params(path)
    if section not in data:
        raise ValueError(f"{path}: missing section '{section}'")
    return data[section]


def require_keys(where: str, settings: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    """Reject unknown and missing keys with a message that names them."""
    if not isinstance(settings, dict):
        raise ValueError(f"{where}: must be a mapping, got {type(settings).__name__}")
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(settings))
    if missing:
        raise ValueError(f"{where}: missing required key(s) {', '.join(missing)}")
