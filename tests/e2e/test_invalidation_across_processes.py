"""Two real web processes with ten-minute caches: a change made from a third process (this test)
shows on both within seconds, which only cross-process invalidation can explain.

The measured latencies are printed (``pytest -s``); the target is one second, and nothing here
asserts a timing: only that the change shows before a deadline far below the caches' TTL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.catalog.schemas import ProcedureSpec
from motcua.catalog.services import upsert_procedures
from motcua.core.audit import Actor
from motcua.core.db import search_path_sql
from motcua.core.settings import Settings
from motcua.tenancy import events
from motcua.tenancy.services import resume_tenant, suspend_tenant
from tests.conftest import MakeTenant, procedure

CACHE_TTL = "600"
DEADLINE = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_web(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(
        MOTCUA_ENV="test",
        MOTCUA_DATABASE_URL=settings.database_url or "",
        MOTCUA_REDIS_URL=settings.redis_url or "",
        MOTCUA_SECRET_KEY=settings.secret_key,
        MOTCUA_DATA_DIR=str(settings.data_dir),
        MOTCUA_DOMAIN_CACHE_TTL=CACHE_TTL,
        MOTCUA_CATALOG_CACHE_TTL=CACHE_TTL,
    )
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "motcua.app:create_app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the web process on port {port} did not become ready:\n{log.read_text()}")


@pytest.fixture(scope="module")
def two_web_processes(
    live_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[int]]:
    logs = tmp_path_factory.mktemp("web-logs")
    ports = [_free_port(), _free_port()]
    procs = [_start_web(live_settings, port, logs / f"web-{port}.log") for port in ports]
    try:
        for proc, port in zip(procs, ports, strict=True):
            _wait_ready(proc, port, logs / f"web-{port}.log")
        yield ports
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _get(port: int, slug: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers={"host": f"{slug}.localhost"}, timeout=5)


def _latency(port: int, check: Callable[[int], bool], since: float) -> float:
    """Seconds from ``since`` until ``check(port)`` holds; fails after the deadline."""
    while time.monotonic() - since < DEADLINE:
        if check(port):
            return time.monotonic() - since
        time.sleep(0.02)
    raise AssertionError(f"not seen within {DEADLINE} s (the caches keep entries for {CACHE_TTL} s)")


def _report(what: str, port: int, seconds: float) -> None:
    print(f"\ninvalidation latency: {what} seen by the web process on port {port} after {seconds:.3f} s")


def test_a_suspension_and_a_resumption_reach_every_web_process(
    two_web_processes: list[int], make_tenant: MakeTenant, engine: Engine
) -> None:
    code = "1.009101"
    tenant = make_tenant(name="Tỉnh Bốn Phương", procedures=[procedure(code, "Đăng ký khai tử")])
    for port in two_web_processes:  # both caches warm, each for ten minutes
        assert "Tỉnh Bốn Phương" in _get(port, tenant.slug).text
        assert _get(port, tenant.slug, f"/procedures/{code}").status_code == 200

    def answers(status: int) -> Callable[[int], bool]:
        return lambda port: _get(port, tenant.slug).status_code == status

    suspend_tenant(engine, tenant.slug, actor=Actor.operator("test"))
    since = time.monotonic()
    for port in two_web_processes:
        _report("suspension", port, _latency(port, answers(503), since))

    resume_tenant(engine, tenant.slug, actor=Actor.operator("test"))
    since = time.monotonic()
    for port in two_web_processes:
        _report("resumption", port, _latency(port, answers(200), since))


def test_a_catalogue_change_reaches_every_web_process(
    two_web_processes: list[int], make_tenant: MakeTenant, engine: Engine
) -> None:
    code = "1.009102"
    tenant = make_tenant(procedures=[procedure(code, "Cấp giấy phép xây dựng")])
    page = f"/procedures/{code}"
    for port in two_web_processes:
        assert "Cấp giấy phép xây dựng" in _get(port, tenant.slug, page).text
        assert "Cấp giấy phép xây dựng" in _get(port, tenant.slug, "/procedures").text

    # The catalogue's own write path (as onboarding seeds it), then the one call that tells
    # every process.
    with engine.begin() as conn:
        conn.execute(text(search_path_sql(tenant.schema)))
        upsert_procedures(
            conn, [ProcedureSpec.parse(procedure(code, "Cấp giấy phép sửa chữa nhà ở"), "test")]
        )
    events.catalog_changed(tenant.slug)
    since = time.monotonic()

    def renamed(port: int) -> bool:
        return "Cấp giấy phép sửa chữa nhà ở" in _get(port, tenant.slug, page).text

    for port in two_web_processes:
        _report("catalogue change (procedure page)", port, _latency(port, renamed, since))
        assert "Cấp giấy phép sửa chữa nhà ở" in _get(port, tenant.slug, "/procedures").text
