"""The start gate of `motcua run` (core.startgate): its processes start while it migrates and
seeds, and wait until that is done; a process without the gate, or started after it opened,
does not wait. (tests/e2e/test_run.py runs the whole start.)"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from motcua.core import startgate
from motcua.core.startgate import GATE_ENV, GateStillClosedError, StartGate


def _open_later(gate: StartGate, seconds: float, opened: list[float]) -> threading.Thread:
    def later() -> None:
        time.sleep(seconds)
        opened.append(time.monotonic())
        gate.open()

    thread = threading.Thread(target=later)
    thread.start()
    return thread


def test_a_process_waits_until_the_gate_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = StartGate(tmp_path)
    monkeypatch.setenv(GATE_ENV, gate.env()[GATE_ENV])
    opened: list[float] = []
    thread = _open_later(gate, 0.3, opened)
    startgate.wait_blocking()
    returned = time.monotonic()
    thread.join()
    assert opened and returned >= opened[0]
    assert not gate.path.exists()


def test_the_web_process_waits_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = StartGate(tmp_path)
    monkeypatch.setenv(GATE_ENV, gate.env()[GATE_ENV])
    opened: list[float] = []
    thread = _open_later(gate, 0.3, opened)
    asyncio.run(startgate.wait())
    returned = time.monotonic()
    thread.join()
    assert opened and returned >= opened[0]


def test_no_gate_or_an_open_one_means_no_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GATE_ENV, raising=False)
    startgate.wait_blocking(max_seconds=0)  # no gate: deployments run migrations as their own step
    gate = StartGate(tmp_path)
    gate.open()
    monkeypatch.setenv(GATE_ENV, gate.env()[GATE_ENV])
    startgate.wait_blocking(max_seconds=0)  # a worker restarted after the start
    asyncio.run(startgate.wait(max_seconds=0))


def test_a_gate_that_never_opens_ends_the_wait_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = StartGate(tmp_path)
    monkeypatch.setenv(GATE_ENV, gate.env()[GATE_ENV])
    with pytest.raises(GateStillClosedError, match="did not finish starting"):
        startgate.wait_blocking(max_seconds=0.1)
    with pytest.raises(GateStillClosedError, match="did not finish starting"):
        asyncio.run(startgate.wait(max_seconds=0.1))
