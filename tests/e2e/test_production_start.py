"""The compose file's settings start the product in production (issue 16, must-show 2): its
`migrate` service's command, then the image's web command, with the web service's environment
as compose gives it — only the addresses of PostgreSQL, Redis and the bucket are the test's own
real servers, and infra/.env's values are stand-ins (an https e-ID issuer and an SMTP server that
are never contacted at start-up: OIDC discovery happens at the first login, mail when a message
is sent). No development stand-in runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from motcua.core.settings import S3Bucket, Settings
from tests.deployment import compose, compose_environment, containerfile, image_environment
from tests.e2e.test_run import _free_port
from tests.s3 import s3_env


def _production_env(live_settings: Settings, s3_bucket: S3Bucket, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(image_environment())
    env.update(compose_environment("web"))
    assert live_settings.database_url and live_settings.redis_url
    # compose's hosts (postgres, redis, minio) are the test's servers; the image's /app is the
    # repository and its data folder a temporary one.
    env.update(
        {
            "MOTCUA_DATABASE_URL": live_settings.database_url,
            "MOTCUA_REDIS_URL": live_settings.redis_url,
            **s3_env(s3_bucket),
            "MOTCUA_ROOT": str(live_settings.root),
            "MOTCUA_DATA_DIR": str(data_dir),
            # compose's network: the test talks to the server directly.
            "MOTCUA_TRUSTED_PROXIES": "127.0.0.1/32",
        }
    )
    assert env["MOTCUA_ENV"] == "production" and "MOTCUA_DEV_SERVICES" not in env
    return env


def _web_argv(port: int) -> list[str]:
    """The image's CMD, on a free local port, with this interpreter's uvicorn."""
    (cmd,) = [json.loads(arguments) for instruction, arguments in containerfile() if instruction == "CMD"]
    assert cmd[0] == "uvicorn"
    argv = [sys.executable, "-m", *cmd]
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    return argv


def test_compose_settings_start_the_product_in_production(
    live_settings: Settings, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    env = _production_env(live_settings, s3_bucket, tmp_path / "data")
    migrate = compose()["services"]["migrate"]["command"]
    assert migrate == ["motcua", "migrate"]
    done = subprocess.run(
        [sys.executable, "-m", "motcua.cli", *migrate[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "0 failed" in done.stdout

    # The image's web command, as the web service runs it.
    port = _free_port()
    log = tmp_path / "web.log"
    web = _start(_web_argv(port), env, port, log)
    try:
        domain = env["MOTCUA_PLATFORM_DOMAIN"]
        # The landing page on the bare platform domain, as the Ingress sends it.
        landing = _get(port, domain)
        assert landing.status_code == 200, log.read_text()
        # Production: no development e-ID provider and no mail inbox.
        assert _get(port, f"eid.{domain}").status_code == 404
        assert _get(port, domain, "/dev/mail").status_code == 404
    finally:
        _stop(web, signal.SIGTERM)  # what the container runtime sends
    assert web.returncode == 0, log.read_text()

    # `motcua run` with the same settings: web, job worker and scheduler, nothing embedded.
    port = _free_port()
    log = tmp_path / "run.log"
    run = _start([sys.executable, "-m", "motcua.cli", "run", "--port", str(port)], env, port, log)
    try:
        # The worker and the scheduler come up beside the web server, and stay up.
        markers = ("Worker process is ready for action", "periodic job(s)")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(m in log.read_text() for m in markers):
            time.sleep(0.3)
        assert all(m in log.read_text() for m in markers), log.read_text()
        assert run.poll() is None, log.read_text()
        assert "restarting" not in log.read_text(), log.read_text()
        # A production platform never gets the demo tenants.
        assert "demo tenants ready" not in log.read_text() and "hanoi." not in log.read_text()
    finally:
        _stop(run, signal.SIGINT)
    assert run.returncode == 0, log.read_text()


def _start(argv: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """``argv`` started in its own process group, once its ``/readyz`` answers 200."""
    with log.open("w") as output:
        proc = subprocess.Popen(
            argv, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    ready = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            if ready.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    if ready is None or ready.status_code != 200 or proc.poll() is not None:
        _stop(proc, signal.SIGKILL)
        raise AssertionError(f"{argv} did not become ready:\n{log.read_text()}")
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    return proc


def _stop(proc: subprocess.Popen[bytes], how: signal.Signals) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, how)
    proc.wait(timeout=60)


def _get(port: int, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers={"host": host}, timeout=10)
