"""Connecting to Ray (imported here only, so the local engine never pays for it) and clear failures.

`connect` reuses a Ray session already started in this process, else joins the cluster at
`engine.ray.address` or RAY_ADDRESS, else starts a local one with `engine.ray.num_cpus`.
Workers of a local cluster see this checkout's `stages` package through PYTHONPATH; on a
remote cluster the package is shipped with the job (`runtime_env.py_modules`).

Work that fails inside a task raises `BlockFailure` with one line naming the record file and
the reason; `failure_line` finds that line in whatever Ray wraps it in, so the stage prints it
instead of a Ray traceback. When a Ray process dies instead (a worker killed or out of memory,
the raylet, or `ray::DashboardAgent`, which the raylet fate-shares with), `stage_error` names
what died, with the reason the raylet logged when there is one (`died_line`), after shutting Ray
down, so that line is the last one. A death that ends this process without a Python error is
caught by stages/engine/guard.py.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stages.engine.config import EngineParams
from stages.lib.errors import StageError

INSTALL_HINT = "engine: ray needs the ray package: pip install ray==2.60.0 (pinned in requirements.lock; `make setup`)"
MARK = "stage block failed: "
PACKAGE = Path(__file__).resolve().parents[1]


class BlockFailure(RuntimeError):
    """A task could not process its records; the message is one line: MARK + file: reason."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{MARK}{where}: {reason}".replace("\n", " "))


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise StageError(INSTALL_HINT) from None
    return ray


def _reachable(address: str) -> bool:
    """A TCP connection to host:port opens within 5 s (`auto` is left to Ray)."""
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return True
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return True
    except OSError:
        return False


def connect(settings: EngineParams) -> Any:
    """The `ray` module, with a session open on the configured cluster."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    address = settings.cluster_address()
    if address is not None:
        if not _reachable(address):
            raise StageError(f"engine.ray.address {address}: no Ray cluster reachable there "
                             "(start one with `ray start --head`, or set engine.ray.address: null for a local one)")
        try:
            ray.init(address=address, runtime_env={"py_modules": [str(PACKAGE)]}, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - Ray raises many types; one line is what the user needs
            raise StageError(f"engine.ray.address {address}: cannot join the Ray cluster: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        return ray
    path = os.pathsep.join(p for p in (str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=settings.ray.num_cpus, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path, "POLARS_MAX_THREADS": "1"}})
    return ray


def session_of(pid: int) -> str | None:
    """The session folder of the local Ray cluster that process `pid` started: Ray names it
    `session_<date>_<pid>` under $RAY_TMPDIR, else $TMPDIR, else /tmp, plus `/ray` (Ray's own rule)."""
    base = Path(os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp") / "ray"
    found = sorted(base.glob(f"session_*_{pid}"))
    return str(found[-1]) if found else None


def quiet_ray_data() -> None:
    """Ray Data logs a failed dataset's traceback on the console before it raises; the stage prints one
    line instead (the traceback stays in Ray Data's log file)."""
    import logging

    import ray.data  # noqa: F401 - configures Ray Data's loggers

    for handler in logging.getLogger("ray.data").handlers:
        console = isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
        if console and not any(f is _below_error for f in handler.filters):
            handler.addFilter(_below_error)


def _below_error(record: Any) -> bool:
    return record.levelno < 40  # logging.ERROR


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every error it wraps (Ray's `cause`, `__cause__`, `__context__`), each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        todo += [getattr(err, "cause", None), err.__cause__, err.__context__]


def failure_line(exc: BaseException) -> str | None:
    """The BlockFailure line inside a Ray error (its cause chain or its text), or None."""
    for err in chain(exc):
        found = re.search(re.escape(MARK) + r"([^\n]*)", str(err))
        if found:
            return found.group(1).strip().rstrip("')\"")
    return None


def raylet_reason(session: str | None) -> str | None:
    """The reason the raylet logged for stopping (`dashboard_agent failed and raylet fate-shares with it`)."""
    if not session:
        return None
    try:
        text = (Path(session) / "logs" / "raylet.out").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.findall(r'reason_message: "([^"\n]*)"', text)
    return found[-1].rstrip(". ") if found else None


def died_line(what: str, session: str | None) -> str:
    """`<what> died: <the raylet's reason>; Ray's logs: <session>/logs` (the parts that are known)."""
    reason = raylet_reason(session)
    logs = f"; Ray's logs: {Path(session) / 'logs'}" if session else ""
    return f"{what} died" + (f": {reason}" if reason else "") + logs


RAYLET, NODE = "the local Ray node (raylet)", "a Ray node"
# what died, by the type of the Ray error (the first that matches, most specific first)
DEATHS = (
    ("LocalRayletDiedError", RAYLET),
    ("NodeDiedError", NODE),
    ("OutOfMemoryError", "a Ray worker, killed by Ray for lack of memory,"),
    ("WorkerCrashedError", "a Ray worker process (killed, or out of memory; Ray's retries ran out)"),
    ("OwnerDiedError", "the Ray process that owned a result"),
    ("ObjectLostError", "the Ray process holding a result"),
    ("RayActorError", "a Ray actor process"),
)


def ray_death(exc: BaseException) -> str | None:
    """What died, when `exc` (or an error in its chain) says a Ray process or node died."""
    for err in chain(exc):
        names = {cls.__name__ for cls in type(err).__mro__}
        for name, what in DEATHS:
            if name in names:
                return what
    return None


def stage_error(stage: str, exc: BaseException) -> StageError:
    """One line for a failed distributed step: the task's file and reason; else what died (after a node's
    death Ray is shut down first, so its own shutdown messages come before this line); else Ray's first
    line."""
    line = failure_line(exc)
    if line is None:
        session = session_of(os.getpid())
        what = ray_death(exc) or (RAYLET if raylet_reason(session) else None)
        if what is not None:
            if what in (RAYLET, NODE):
                _shutdown()  # what is left of the cluster: its messages come before our line
            line = died_line(what, session)
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            line = f"Ray task failed: {first}"
    return StageError(f"{stage} (engine: ray): {line}")


def _shutdown() -> None:
    try:
        import_ray().shutdown()
    except Exception:  # noqa: BLE001 - a dead cluster may not shut down cleanly; the error line matters more
        pass
