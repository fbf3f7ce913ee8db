"""The start gate of ``motcua run``.

``motcua run`` starts its web, worker and scheduler processes first, then migrates the schemas
and seeds the demo tenants while they import the application (seconds of work each, which now
overlap instead of following one another). Each process then waits at the gate before it serves
a request, runs a job or fires a periodic one: nothing touches a schema still being built, and
``/readyz`` answers only once the product is whole.

The gate is a file that exists while it is closed; its path is in ``MOTCUA_START_GATE``. A
process started without the variable (deployments, where migrations are their own step) or after
the gate opened (a worker restarted later) does not wait.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

GATE_ENV = "MOTCUA_START_GATE"
# How often a waiting process looks again, and how long it waits at most (a supervisor that
# died mid-migration would leave the gate closed: the process then ends with a clear message).
POLL_SECONDS = 0.05
MAX_WAIT_SECONDS = 600.0


class GateStillClosedError(RuntimeError):
    """The gate did not open in time."""


class StartGate:
    """The closed gate in ``folder`` until ``open()``; ``env()`` tells the children where it is."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / ".starting"
        self.path.touch()

    def env(self) -> dict[str, str]:
        return {GATE_ENV: str(self.path)}

    def open(self) -> None:
        self.path.unlink(missing_ok=True)


def _closed() -> bool:
    path = os.environ.get(GATE_ENV)
    return bool(path) and os.path.exists(path)  # type: ignore[arg-type]


def _still_closed(started: float, max_seconds: float) -> bool:
    """Whether to wait on; raises once the gate has stayed closed too long."""
    if not _closed():
        return False
    if time.monotonic() - started > max_seconds:
        raise GateStillClosedError(f"motcua run did not finish starting in {max_seconds:g} s")
    return True


def wait_blocking(max_seconds: float = MAX_WAIT_SECONDS) -> None:
    """Return once the gate is open (at once when there is none)."""
    started = time.monotonic()
    while _still_closed(started, max_seconds):
        time.sleep(POLL_SECONDS)


async def wait(max_seconds: float = MAX_WAIT_SECONDS) -> None:
    """``wait_blocking`` for the web processes' event loop."""
    import anyio  # here: the CLI imports this module and keeps its start light

    started = time.monotonic()
    # Polling, not an anyio.Event: the gate is opened by another process.
    while _still_closed(started, max_seconds):  # noqa: ASYNC110
        await anyio.sleep(POLL_SECONDS)
