"""`motcua run` as a developer runs it: embedded PostgreSQL and Redis, demo tenants, web and
worker; stopped with Ctrl-C and started again with the data still there."""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env["MOTCUA_DATA_DIR"] = str(data_dir)
    # The development mail catcher of each run gets its own port, so runs never collide.
    port_file = data_dir.parent / "smtp-port"
    if not port_file.exists():
        port_file.parent.mkdir(parents=True, exist_ok=True)
        port_file.write_text(str(_free_port()))
    env["MOTCUA_DEV_SMTP_PORT"] = port_file.read_text()
    return env


def _start(
    data_dir: Path, port: int, log: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`motcua run` until it is ready; its output is read by ``_stop``, or goes to ``log`` (for
    runs that write much while nobody reads: a full pipe would block the product); ``env`` adds
    settings (``MOTCUA_*``) to the run's environment."""
    output = log.open("w") if log is not None else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "motcua.cli", "run", "--port", str(port)],
        env={**_env(data_dir), **(env or {})},
        stdout=output or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    if output is not None:
        output.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else log and log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("motcua run did not become ready")


def _stop(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, _ = proc.communicate(timeout=60)
    return out or ""


def _get(port: int, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers={"host": host}, timeout=10)


def _servers_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if str(data_dir) in cmd and ("postgres" in cmd or "redis" in cmd):
            found.append(p)
    return found


def test_run_serves_demo_tenants_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = _free_port()
    proc = _start(data_dir, port)
    try:
        for host, name in (
            ("hanoi.localhost", "Cổng Dịch vụ công Thành phố Hà Nội"),
            ("danang.localhost:8000", "Cổng Dịch vụ công Thành phố Đà Nẵng"),
            ("botuphap.localhost", "Cổng Dịch vụ công Bộ Tư pháp"),
            ("dichvucong.hanoi.gov.vn", "Cổng Dịch vụ công Thành phố Hà Nội"),
        ):
            response = _get(port, host)
            assert response.status_code == 200, host
            assert name in response.text
        assert _get(port, "nope.localhost").status_code == 404
        assert _get(port, "hanoi.localhost", "/healthz").json() == {"status": "ok"}
        # A tenant created while the product runs, through the CLI sharing the embedded servers.
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "motcua.cli",
                "tenants",
                "create",
                "quangninh",
                "--name",
                "Cổng DVC Quảng Ninh",
            ],
            env=_env(data_dir),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr
        response = _get(port, "quangninh.localhost")
        assert "Cổng DVC Quảng Ninh" in response.text
    finally:
        _stop(proc)
    assert proc.returncode == 0
    assert _servers_of(data_dir) == []  # embedded PostgreSQL and Redis stopped with it

    proc = _start(data_dir, port)
    try:
        response = _get(port, "quangninh.localhost")
        assert response.status_code == 200
        assert "Cổng DVC Quảng Ninh" in response.text
        assert _get(port, "hanoi.localhost").status_code == 200
    finally:
        _stop(proc)
    assert _servers_of(data_dir) == []


async def test_run_citizen_logs_in_through_the_development_eid_provider(tmp_path: Path) -> None:
    """The `make run` experience: log in on hanoi with the dev e-ID provider, see your name,
    log out; the hanoi session cookie gives nothing on danang."""
    from motcua.identity.oidc import LoopbackNames

    data_dir = tmp_path / "data"
    port = _free_port()
    proc = _start(data_dir, port)
    hanoi, danang = f"http://hanoi.localhost:{port}", f"http://danang.localhost:{port}"
    try:
        async with httpx.AsyncClient(
            transport=LoopbackNames(), follow_redirects=False, timeout=20
        ) as browser:
            start = await browser.get(f"{hanoi}/login")
            assert start.status_code == 302
            authorize_url = start.headers["location"]
            assert authorize_url.startswith(f"http://eid.localhost:{port}/authorize?")
            picker = await browser.get(authorize_url)
            assert picker.status_code == 200
            assert "Nguyễn Văn An" in picker.text
            found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', picker.text)
            hidden = {k: html.unescape(v) for k, v in found}
            an = re.search(r'name="user" value="([^"]+)">Đăng nhập với tư cách Nguyễn Văn An', picker.text)
            assert an is not None
            chosen = await browser.post(
                f"http://eid.localhost:{port}/authorize", data={**hidden, "user": an.group(1)}
            )
            assert chosen.status_code == 303
            done = await browser.get(chosen.headers["location"])
            assert done.status_code == 303, done.text[:500]
            home = await browser.get(f"{hanoi}/")
            assert "Nguyễn Văn An" in home.text
            assert "Đăng xuất" in home.text

            session = browser.cookies.get("motcua_session", domain="hanoi.localhost")
            assert session
            elsewhere = await browser.get(f"{danang}/account", cookies={"motcua_session": session})
            assert elsewhere.status_code == 303  # not signed in on danang
            danang_home = await browser.get(f"{danang}/", cookies={"motcua_session": session})
            assert "Nguyễn Văn An" not in danang_home.text

            token = re.search(r'name="_csrf_token" value="([^"]+)"', home.text)
            assert token is not None
            out = await browser.post(f"{hanoi}/logout", data={"_csrf_token": token.group(1)})
            assert out.status_code == 303
            assert out.headers["location"].startswith(f"http://eid.localhost:{port}/logout?")
            back = await browser.get(out.headers["location"])
            assert back.headers["location"].startswith(f"{hanoi}/")
            after = await browser.get(f"{hanoi}/")
            assert "Nguyễn Văn An" not in after.text
            assert "Đăng nhập" in after.text
    finally:
        _stop(proc)
