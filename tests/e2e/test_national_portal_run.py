"""The national front door on `make run`, over real HTTP: the national-portal stand-in submits a
dossier to Hà Nội through the API; an officer accepts it, asks for a supplement (the citizen
answers on the portal), finishes and delivers it; the stand-in receives every status change in
order, each signature verified. The job worker is killed and Redis stopped in the middle:
nothing is lost and nothing arrives twice."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from motcua.core.embedded import start_server, stop_server
from motcua.identity.oidc import LoopbackNames
from tests.e2e.test_back_office_run import PDF, _act, _dev_login, _token
from tests.e2e.test_faults import _supervised
from tests.e2e.test_run import _free_port, _start, _stop

EXPECTED = ["submitted", "accepted", "supplement_requested", "in_progress", "processed", "delivered"]


def _events(port: int) -> dict[str, Any]:
    answer = httpx.get(
        f"http://127.0.0.1:{port}/dev/national-portal/events.json", headers={"host": f"localhost:{port}"}
    )
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def _statuses(port: int, code: str) -> list[str]:
    return [e["data"]["status"] for e in _events(port)["events"] if e["data"]["code"] == code]


async def _until(port: int, code: str, count: int) -> list[str]:
    """The statuses received for ``code`` once ``count`` have arrived (the worker delivers them
    within seconds; the deadline only stops a broken run from hanging)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = _statuses(port, code)
        if len(statuses) >= count:
            return statuses
        await asyncio.sleep(0.3)
    raise AssertionError(f"received {_statuses(port, code)}, expected {count} events")


async def test_a_dossier_from_the_national_portal_goes_to_an_officer_and_back(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", _free_port()
    server = _start(data_dir, port, tmp_path / "run.log")
    base = f"http://hanoi.localhost:{port}"
    platform = f"http://localhost:{port}"
    try:
        async with (
            httpx.AsyncClient(transport=LoopbackNames(), follow_redirects=False, timeout=60) as citizen,
            httpx.AsyncClient(transport=LoopbackNames(), follow_redirects=False, timeout=60) as officer,
            httpx.AsyncClient(transport=LoopbackNames(), follow_redirects=False, timeout=60) as developer,
        ):
            # The citizen has used Hà Nội's portal before: the dossier from the national portal
            # joins their own list there.
            await _dev_login(citizen, base, port, "Nguyễn Văn An")

            stand_in = await developer.get(f"{platform}/dev/national-portal")
            assert stand_in.status_code == 200 and "hanoi" in stand_in.text
            sent = await developer.post(
                f"{platform}/dev/national-portal/submit",
                data={
                    "_csrf_token": _token(stand_in.text),
                    "tenant": "hanoi",
                    "procedure_code": "1.004873",
                    "personal_id": "001085012345",
                    "data": json.dumps({"purpose": "Kết hôn", "marital_status": "Chưa kết hôn"}),
                    "documents": "to-khai",
                    "external_id": "DVCQG-E2E-1",
                },
            )
            assert sent.headers["location"].endswith("result=201"), sent.headers["location"]
            submitted = [
                json.loads(line)
                for line in (data_dir / "national-portal" / "submitted.jsonl").read_text().splitlines()
            ]
            code = submitted[-1]["code"]
            assert code.startswith("000.00.01.H26-")
            assert code in (await citizen.get(f"{base}/my/dossiers")).text
            assert await _until(port, code, 1) == ["submitted"]

            await _dev_login(officer, base, port, "Phạm Thị Thu Hà")
            await _act(officer, base, code, "accept")
            await _act(
                officer,
                base,
                code,
                "request_supplement",
                reason="Tờ khai thiếu chữ ký",
                items="Tờ khai có chữ ký",
            )
            # Right after those changes the worker dies and Redis stops: what they must send waits
            # in the outbox and the delivery table, and goes out once both are back (the
            # supervisor restarts the worker by itself).
            worker = _supervised(server, "worker")
            assert worker is not None
            worker.send_signal(signal.SIGKILL)
            stop_server(data_dir, "redis")
            try:
                await asyncio.sleep(2)
            finally:
                start_server(data_dir, "redis")
            assert await _until(port, code, 3) == EXPECTED[:3]

            detail = await citizen.get(f"{base}/my/dossiers/{code}")
            assert "Tờ khai thiếu chữ ký" in detail.text
            await citizen.post(
                f"{base}/my/dossiers/{code}/supplement/files",
                data={"_csrf_token": _token(detail.text)},
                files={"file": ("to-khai-co-chu-ky.pdf", PDF, "application/pdf")},
            )
            answered = await citizen.post(
                f"{base}/my/dossiers/{code}/supplement", data={"_csrf_token": _token(detail.text)}
            )
            assert answered.status_code == 303
            workspace = await officer.get(f"{base}/officer/dossiers/{code}")
            await officer.post(
                f"{base}/officer/dossiers/{code}/results",
                data={"_csrf_token": _token(workspace.text)},
                files={"file": ("xac-nhan.pdf", PDF, "application/pdf")},
            )
            # The fee (15.000 ₫) is paid at the desk before the result is given.
            paid = await officer.post(
                f"{base}/officer/dossiers/{code}/payments/counter",
                data={"_csrf_token": _token(workspace.text), "method": "cash"},
            )
            assert paid.status_code == 303, paid.text[:500]
            await _act(officer, base, code, "finish")
            await _act(officer, base, code, "deliver")

            assert await _until(port, code, len(EXPECTED)) == EXPECTED
            # Nothing more arrives later (no duplicate), and nothing was refused as unsigned.
            await asyncio.sleep(3)
            events = _events(port)
            assert _statuses(port, code) == EXPECTED
            assert all(e["verified"] for e in events["events"])
            assert events["refused"] == []
            assert len({e["id"] for e in events["events"]}) == len(events["events"])
            assert server.poll() is None
    finally:
        _stop(server)
