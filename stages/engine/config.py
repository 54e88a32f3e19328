"""The `engine` section of params.yaml: which engine clean, normalize and dedup run on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from stages.lib.params import DEFAULT_PARAMS, load_params, require_keys

ENGINES = ("local", "ray")
RAY_KEYS = {"address", "num_cpus", "block_rows"}


@dataclass(frozen=True)
class EngineSettings:
    """`kind` local or ray; for ray: the cluster address (None: RAY_ADDRESS, else start a local
    cluster with `num_cpus`, None = all cores) and the rows per block of the Ray Dataset."""

    kind: str = "local"
    address: str | None = None
    num_cpus: int | None = None
    block_rows: int = 4096

    def cluster_address(self) -> str | None:
        """The configured address, else RAY_ADDRESS, else None (start a local cluster)."""
        return self.address or os.environ.get("RAY_ADDRESS") or None


def _positive(where: str, value: Any, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: must be an integer >= 1{' or null' if allow_none else ''}, got {value!r}")
    return value


def parse_engine(section: Any, where: str = "params.yaml: engine") -> EngineSettings:
    """Check the section; raise ValueError naming the first bad key."""
    require_keys(where, section, {"kind", "ray"}, {"kind"})
    if section["kind"] not in ENGINES:
        raise ValueError(f"{where}.kind: must be one of {', '.join(ENGINES)}, got {section['kind']!r}")
    ray = section.get("ray") or {}
    require_keys(f"{where}.ray", ray, RAY_KEYS, set())
    address = ray.get("address")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ValueError(f"{where}.ray.address: must be a host:port, ray://host:port, auto or null, got {address!r}")
    return EngineSettings(kind=section["kind"], address=address,
                          num_cpus=_positive(f"{where}.ray.num_cpus", ray.get("num_cpus"), True),
                          block_rows=_positive(f"{where}.ray.block_rows", ray.get("block_rows", 4096), False) or 4096)


def load_engine(path: str = str(DEFAULT_PARAMS)) -> EngineSettings:
    """The engine section of a params file; `local` when the file has none."""
    params = load_params(path)
    return parse_engine(params["engine"], f"{path}: engine") if "engine" in params else EngineSettings()
