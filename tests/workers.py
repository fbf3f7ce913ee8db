"""Real Dramatiq worker processes for tests (the product's own `dramatiq motcua.worker`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def worker_argv(*queues: str, threads: int = 1) -> list[str]:
    argv = [sys.executable, "-m", "dramatiq", "motcua.worker", "--processes", "1", "--threads", str(threads)]
    return [*argv, "--queues", *queues] if queues else argv


def start_worker(
    *queues: str, threads: int = 1, env: dict[str, str] | None = None, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """A worker with the test process's settings plus ``env``; ``new_session`` so a test can
    kill the worker and its child processes together."""
    return subprocess.Popen(
        worker_argv(*queues, threads=threads),
        env={**os.environ, **(env or {})},
        start_new_session=new_session,
    )


@contextmanager
def running_worker(*queues: str, threads: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """``start_worker`` for the block; stopped as the product stops it (SIGTERM), killed if it
    has not ended 30 s later."""
    worker = start_worker(*queues, threads=threads)
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
