"""The `main()` of the stages that can run on Ray (clean, normalize, dedup): one line also when Ray ends
the process without a Python error.

Ray's core worker ends its process at once (no exception, no message of ours) when the raylet it
talks to dies at the wrong moment, e.g. `ray::DashboardAgent` killed while the driver registers
(the raylet fate-shares with that agent). So with `engine: ray` (in the `--params` file named on the
command line) `run_guarded` runs the stage in a child process, which reports its normal exit
through a pipe (`STATUS_FD`). A child that ends without that report gets the line it could not
print, with the reason from the raylet's log in the session folder the child started:
`Error: <stage> (engine: ray): the local Ray node (raylet) died: <the reason the raylet logged>;
Ray's logs: <session>/logs`, exit status 1.
With `engine: local` the stage runs in this process, as any other stage.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys

import click

from stages.engine.config import load_engine
from stages.engine.session import RAYLET, died_line, raylet_reason, session_of
from stages.lib.cli import run_main

STATUS_FD = "STAGES_RAY_STATUS_FD"  # set in a guarded child: the pipe it reports its normal exit on


def uses_ray(argv: list[str]) -> bool:
    """Whether the params file named on the command line (`--params`, default params.yaml) says `engine: ray`."""
    path = "params.yaml"
    for i, arg in enumerate(argv):
        if arg == "--params" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--params="):
            path = arg.split("=", 1)[1]
    try:
        return load_engine(path).kind == "ray"
    except Exception:  # noqa: BLE001 - a bad params file is the stage's to report, in its own words
        return False


def run_guarded(command: click.Command, module: str) -> None:
    """`run_main` for a stage that may run on Ray. With `engine: ray` the stage runs in a child process;
    if the child dies without passing through Python's exit (Ray's core worker ends the process when its
    raylet dies at the wrong moment; a SIGKILL), this prints the one line the child could not."""
    if os.environ.get(STATUS_FD, "").isdigit():
        atexit.register(os.write, int(os.environ[STATUS_FD]), b"exit\n")
        run_main(command, module)
        return
    if not uses_ray(sys.argv[1:]):
        run_main(command, module)
        return
    sys.exit(_supervise(module))


def _supervise(module: str) -> int:
    read_end, write_end = os.pipe()
    child = subprocess.Popen([sys.executable, "-m", module, *sys.argv[1:]], pass_fds=(write_end,),
                             env={**os.environ, STATUS_FD: str(write_end)})
    os.close(write_end)
    stopped: list[int] = []

    def stop(signum: int, _: object) -> None:  # passed on; the child's end is then no surprise
        stopped.append(signum)
        child.terminate()

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C reaches the child too
    signal.signal(signal.SIGTERM, stop)
    code = child.wait()
    if code == 0 or b"exit\n" in _drain(read_end) or stopped:
        return code if code >= 0 else 128 - code
    session = session_of(child.pid)
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    stage = module.rsplit(".", 1)[-1]
    what = RAYLET if raylet_reason(session) else f"the stage's process ({how}, no error)"
    click.echo(f"Error: {stage} (engine: ray): {died_line(what, session)}", err=True)
    return 1


def _drain(fd: int) -> bytes:
    """What the child wrote on the status pipe (without waiting on a writer Ray may have inherited)."""
    os.set_blocking(fd, False)
    told = b""
    try:
        while chunk := os.read(fd, 65536):
            told += chunk
    except BlockingIOError:
        pass
    os.close(fd)
    return told
