"""The `engine` section of params.yaml (`EngineParams`): where clean, normalize and dedup run.

    engine:
      kind: local          # local (this process) | ray
      ray:
        address:           # host:port, ray://host:port or auto; null: RAY_ADDRESS, else a local cluster
        num_cpus:          # CPUs of a local cluster (null: all cores)
        block_rows: 4096   # rows per Ray Dataset batch in clean and normalize
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from stages.lib.params import DEFAULT_PARAMS, Block, Params, check, load_section

Address = Annotated[str, check(lambda v: bool(v.strip()), "a host:port, ray://host:port, auto or null")]


class RayParams(Params):
    """The `engine.ray` subsection."""

    address: Address | None = None
    num_cpus: Annotated[int, check(lambda v: v >= 1, "an integer >= 1 or null")] | None = None
    block_rows: Annotated[int, check(lambda v: v >= 1, "an integer >= 1")] = 4096


class EngineParams(Params, section="engine"):
    """`kind` local or ray; for ray: the cluster address (None: RAY_ADDRESS, else start a local
    cluster with `num_cpus`, None = all cores) and the rows per block of the Ray Dataset."""

    kind: Literal["local", "ray"] = "local"
    ray: Annotated[RayParams, Block] = RayParams()

    def cluster_address(self) -> str | None:
        """The configured address, else RAY_ADDRESS, else None (start a local cluster)."""
        return self.ray.address or os.environ.get("RAY_ADDRESS") or None


def ray_engine(**ray: Any) -> EngineParams:
    """`engine: ray` with these `engine.ray` keys (for code and tests)."""
    return EngineParams(kind="ray", ray=RayParams(**ray))


def load_engine(path: str | os.PathLike = str(DEFAULT_PARAMS)) -> EngineParams:
    """The engine section of a params file; `local` when the file has none."""
    return load_section(EngineParams, path, optional=True)
