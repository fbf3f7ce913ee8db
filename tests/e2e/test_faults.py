"""Faults under a running `motcua run`: the job worker killed with SIGKILL, PostgreSQL stopped for a
while, Redis stopped while a paid webhook arrives. The product keeps answering (a friendly 503
while the database is away), comes back by itself, and the work queued meanwhile is done once."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
from pgserver.utils import PostmasterInfo
from sqlalchemy import Engine, text

from motcua.cli import _Child
from motcua.core.db import sync_engine
from motcua.core.embedded import start_server, stop_server
from motcua.identity.oidc import LoopbackNames
from tests.e2e import choose_delivery
from tests.e2e.test_back_office_run import PDF, _dev_login, _token
from tests.e2e.test_run import _free_port, _get, _servers_of, _start, _stop

# Cấp Giấy xác nhận tình trạng hôn nhân on Hà Nội: one document, two answers, a 15.000 ₫ fee.
PROCEDURE = "1.004873"
# The public tracking page with a code: it reads the database on every lookup (catalogue pages
# are served from a per-process cache for a while; the empty form needs no database at all). No
# dossier has this code: the database answered when the page says so (404).
DB_PAGE = "/tracking?code=HN-000000-0001"
DB_ANSWERED = 404
FRIENDLY = "Hệ thống tạm thời gián đoạn"  # web/error.html
# After a mail has arrived, how long a duplicate is given to show up before mails are counted.
DUPLICATE_WINDOW = 3.0
_MARKS = {"worker": "-m dramatiq motcua.worker", "scheduler": "motcua.cli scheduler", "web": "uvicorn"}


def _supervised(server: subprocess.Popen[str], name: str) -> psutil.Process | None:
    """The supervisor's live child of that name (the Dramatiq main process for the worker)."""
    for child in psutil.Process(server.pid).children():
        try:
            if _MARKS[name] in " ".join(child.cmdline()):
                return child
        except psutil.NoSuchProcess:  # gone, or a zombie not reaped yet
            continue
    return None


@contextmanager
def _database(data_dir: Path) -> Iterator[Engine]:
    """The embedded PostgreSQL of that run, at the URL its postmaster.pid gives."""
    info = PostmasterInfo.read_from_pgdata((data_dir / "postgres").resolve())
    assert info is not None
    engine = sync_engine(info.get_uri(), pool_size=0)
    try:
        yield engine
    finally:
        engine.dispose()


def _mails(port: int, subject: str) -> int:
    """How many mails with that subject (or subject start) the development catcher holds."""
    inbox = _get(port, "localhost", "/dev/mail")
    assert inbox.status_code == 200
    return len(re.findall(rf'<a href="/dev/mail/[^"]+">{re.escape(subject)}', inbox.text))


def _mails_once_settled(port: int, subject: str) -> int:
    """The count of those mails, once the first has arrived (or 30 s passed) and a duplicate has
    had its chance."""
    deadline = time.monotonic() + 30
    while _mails(port, subject) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(DUPLICATE_WINDOW)
    return _mails(port, subject)


def _browser() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=LoopbackNames(), follow_redirects=False, timeout=30)


async def _apply(citizen: httpx.AsyncClient, base: str) -> str:
    """Nguyễn Văn An (signed in) fills the application; returns its review page."""
    form = await citizen.get(f"{base}/procedures/{PROCEDURE}/apply")
    token = _token(form.text)
    uploaded = await citizen.post(
        f"{base}/procedures/{PROCEDURE}/apply/files/to-khai",
        data={"_csrf_token": token},
        files={"file": ("to-khai.pdf", PDF, "application/pdf")},
    )
    assert uploaded.status_code == 303
    answers = {"purpose": "Kết hôn", "marital_status": "Chưa kết hôn"}
    saved = await citizen.post(f"{base}/procedures/{PROCEDURE}/apply", data={"_csrf_token": token, **answers})
    assert saved.status_code == 303, saved.text[:1000]
    chosen = await choose_delivery(citizen, f"{base}/procedures/{PROCEDURE}/apply/delivery", token)
    assert chosen.status_code == 303, chosen.text[:1000]
    return (await citizen.get(f"{base}/procedures/{PROCEDURE}/apply/review")).text


async def _submit(citizen: httpx.AsyncClient, base: str, review: str) -> str:
    """Submits the reviewed application; returns the dossier code."""
    submit_token = re.search(r'name="token" value="([^"]+)"', review)
    assert submit_token is not None
    slip = await citizen.post(
        f"{base}/procedures/{PROCEDURE}/apply/submit",
        data={"_csrf_token": _token(review), "token": submit_token.group(1), "declaration": "yes"},
    )
    assert slip.status_code == 303, slip.text[:1000]
    return slip.headers["location"].split("/")[3]


async def test_a_killed_worker_is_restarted_and_the_job_queued_meanwhile_is_done_once(tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "run.log"
    server = _start(tmp_path / "data", port, log)
    base = f"http://hanoi.localhost:{port}"
    try:
        async with _browser() as citizen:
            await _dev_login(citizen, base, port, "Nguyễn Văn An")
            review = await _apply(citizen, base)

            old = _supervised(server, "worker")
            assert old is not None
            family = [old, *old.children(recursive=True)]
            assert len(family) > 1  # Dramatiq's main process and the worker process it forked
            old.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            _, alive = psutil.wait_procs(family, timeout=10)
            assert alive == []  # the supervisor killed what was left of it: nothing consumes jobs now

            # The submission's mail job is queued while no worker runs (the supervisor waits 1 s
            # before it starts a new one, which then needs a moment to boot).
            code = await _submit(citizen, base, review)

            new = None
            while new is None and time.monotonic() < killed_at + 10:
                candidate = _supervised(server, "worker")
                if candidate is not None and candidate.pid != old.pid and candidate.children():
                    new = candidate
                else:
                    await asyncio.sleep(0.2)
            assert new is not None, "no new worker (with its forked worker process) within 10 s"

            assert _get(port, "hanoi.localhost", "/healthz").json() == {"status": "ok"}
            home = _get(port, "hanoi.localhost")
            assert home.status_code == 200
            assert "Cổng Dịch vụ công Thành phố Hà Nội" in home.text
            assert _mails_once_settled(port, f"Đã nhận hồ sơ {code}<") == 1

            # The scheduler is brought back the same way.
            scheduler = _supervised(server, "scheduler")
            assert scheduler is not None
            scheduler.send_signal(signal.SIGKILL)
            deadline = time.monotonic() + 10
            replaced = None
            while replaced is None and time.monotonic() < deadline:
                candidate = _supervised(server, "scheduler")
                if candidate is not None and candidate.pid != scheduler.pid:
                    replaced = candidate
                else:
                    await asyncio.sleep(0.2)
            assert replaced is not None, "no new scheduler within 10 s"
    finally:
        _stop(server)
    assert server.returncode == 0
    output = log.read_text()
    for name in ("worker", "scheduler"):
        assert f"motcua: warning: the {name} process ended (signal SIGKILL); restarting it in 1 s" in output


def test_restarts_back_off_up_to_30_s_and_start_over_after_a_minute_up() -> None:
    child = _Child("worker", [], {}, restart=True)
    delays = []
    for _ in range(7):
        child.started = 1000.0
        delays.append(child.schedule_restart(1000.0 + 5))  # each run lasted 5 s
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    child.started = 2000.0
    assert child.schedule_restart(2000.0 + 60) == 1  # it had stayed up for a minute


def test_while_postgresql_is_down_pages_answer_a_friendly_503_and_recover_without_a_restart(
    tmp_path: Path,
) -> None:
    data_dir, port, log = tmp_path / "data", _free_port(), tmp_path / "run.log"
    # Every lookup spends the client's budget (30 a minute): this test makes about a hundred.
    server = _start(data_dir, port, log, env={"MOTCUA_TRACKING_RATE_LIMIT": "100000"})
    try:
        assert _get(port, "hanoi.localhost", DB_PAGE).status_code == DB_ANSWERED
        web = _supervised(server, "web")
        assert web is not None

        stop_server(data_dir, "postgres")
        outage: list[httpx.Response] = []
        try:
            until = time.monotonic() + 10
            while time.monotonic() < until:
                outage.append(_get(port, "hanoi.localhost", DB_PAGE))
                outage.append(_get(port, "hanoi.localhost", "/api/v1/tracking/HN-000000-0001"))
                assert _get(port, "hanoi.localhost", "/healthz").status_code == 200  # alive, not ready
                # The empty lookup form reads nothing: it still answers.
                assert _get(port, "hanoi.localhost", "/tracking").status_code == 200
                time.sleep(0.5)
            ready = _get(port, "hanoi.localhost", "/readyz")
        finally:
            start_server(data_dir, "postgres")

        assert ready.status_code == 503
        assert [r.status_code for r in outage] == [503] * len(outage)
        for answer in outage:
            assert answer.headers["retry-after"].isdigit()
            assert "Traceback" not in answer.text
        pages = [r for r in outage if r.headers["content-type"].startswith("text/html")]
        assert pages and all(FRIENDLY in r.text and '<html lang="vi">' in r.text for r in pages)
        api = [r for r in outage if r.headers["content-type"].startswith("application/json")]
        assert api and all(r.json()["status_code"] == 503 for r in api)

        # Back by itself: the pool connects again; the same processes serve.
        recovery: list[int] = []
        deadline = time.monotonic() + 30
        while (not recovery or recovery[-1] != DB_ANSWERED) and time.monotonic() < deadline:
            recovery.append(_get(port, "hanoi.localhost", DB_PAGE).status_code)
            time.sleep(0.2)
        assert recovery[-1] == DB_ANSWERED
        assert set(recovery) <= {503, DB_ANSWERED}
        assert "Cổng Dịch vụ công Thành phố Hà Nội" in _get(port, "hanoi.localhost", DB_PAGE).text
        assert _get(port, "hanoi.localhost", "/api/v1/tracking/HN-000000-0001").status_code == 404
        assert _get(port, "hanoi.localhost", "/readyz").status_code == 200
        assert server.poll() is None
        again = _supervised(server, "web")
        assert again is not None and again.pid == web.pid
    finally:
        _stop(server)
    assert server.returncode == 0
    assert _servers_of(data_dir) == []  # the restarted PostgreSQL stopped with the product too


async def test_a_payment_made_while_redis_is_down_is_recorded_and_its_receipt_mailed_once(
    tmp_path: Path,
) -> None:
    data_dir, port, log = tmp_path / "data", _free_port(), tmp_path / "run.log"
    server = _start(data_dir, port, log)
    base = f"http://hanoi.localhost:{port}"
    try:
        async with _browser() as citizen:
            # Everything that needs the citizen's session (kept in Redis) happens first.
            await _dev_login(citizen, base, port, "Nguyễn Văn An")
            code = await _submit(citizen, base, await _apply(citizen, base))
            detail = await citizen.get(f"{base}/my/dossiers/{code}")
            started = await citizen.post(
                f"{base}/my/dossiers/{code}/pay", data={"_csrf_token": _token(detail.text)}
            )
            assert started.status_code == 303, started.text[:500]
            checkout = started.headers["location"]
            assert "Thanh toán thử" in (await citizen.get(checkout)).text
            receipt_subject = f"Hồ sơ {code}: đã nhận phí, lệ phí — biên lai"

            stop_server(data_dir, "redis")
            try:
                # The stand-in completes the session and sends its signed webhook to the portal
                # before it answers; the portal verifies and applies it without Redis.
                paid = await citizen.post(checkout, data={"action": "pay"})
                assert paid.status_code == 303
                with _database(data_dir) as db, db.connect() as conn:
                    recorded = conn.execute(
                        text(
                            "SELECT p.status FROM t_hanoi.payments p "
                            "JOIN t_hanoi.receipts r ON r.payment_id = p.id WHERE r.dossier_code = :code"
                        ),
                        {"code": code},
                    ).all()
                    waiting = conn.execute(
                        text("SELECT count(*) FROM platform.outbox WHERE sent_at IS NULL")
                    ).scalar_one()
                assert [row.status for row in recorded] == ["succeeded"]
                assert waiting > 0  # the receipt's mail job waits in the outbox
                assert _get(port, "hanoi.localhost", "/healthz").status_code == 200
                assert _mails(port, receipt_subject) == 0
            finally:
                start_server(data_dir, "redis")

            assert _mails_once_settled(port, receipt_subject) == 1
            # The session survived in Redis's own files: the citizen sees the dossier paid.
            assert 'data-paid="yes"' in (await citizen.get(f"{base}/my/dossiers/{code}")).text
            assert server.poll() is None
    finally:
        _stop(server)
    assert server.returncode == 0
    assert _servers_of(data_dir) == []
