"""What an operator sees: one access line per request with its id, the same id on the lines of
the job the request queued (through the outbox and the real worker), and metrics on the
console host only."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from prometheus_client.parser import text_string_to_metric_families

from motcua.core.logging import ContextFilter, JsonFormatter, RedactSecrets
from motcua.core.metrics import MAX_SITE_LABELS
from motcua.core.settings import Settings, SettingsError, load_settings
from tests.backoffice.test_workspace import _submit
from tests.conftest import MakeTenant, asgi_transport
from tests.dossiers.conftest import BIRTH, SignIn, csrf
from tests.dossiers.test_journey import CODE, _prepare
from tests.notifications.test_delivery import Inbox, _free_port, inbox
from tests.workers import worker_argv

__all__ = ["inbox"]  # the SMTP server fixture, shared with the delivery tests


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "motcua.access"]


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def _wait(predicate: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


async def test_one_request_id_from_the_web_to_the_job_it_queued(
    app: Litestar,
    sign_in: SignIn,
    make_tenant: MakeTenant,
    inbox: tuple[Inbox, int],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.INFO, logger="motcua.access")
    tenant = make_tenant(procedures=[BIRTH])
    citizen = await sign_in(tenant, email="mai@example.vn", personal_id="001190007777")
    token = await _prepare(citizen)
    form = await csrf(citizen, "/procedures/1.001193/apply/review")
    request_id = f"lb-{uuid.uuid4().hex}"
    done = await citizen.post(
        "/procedures/1.001193/apply/submit",
        data={"_csrf_token": form, "token": token, "declaration": "yes"},
        headers={"X-Request-ID": request_id},
    )
    assert done.status_code == 303 and done.headers["x-request-id"] == request_id
    code = CODE.search(done.headers["location"])
    assert code is not None

    # The web process's access line: the route template, not the path with the procedure code;
    # the tenant; the user as a keyed hash, never the personal ID.
    [line] = [r for r in _access_lines(caplog) if getattr(r, "request_id", None) == request_id]
    fields = vars(line)
    assert fields["route"] == "/procedures/{code}/apply/submit"
    assert (fields["method"], fields["status"], fields["site"]) == ("POST", 303, tenant.slug)
    assert isinstance(fields["duration_ms"], float) and fields["duration_ms"] > 0
    assert re.fullmatch(r"[0-9a-f]{16}", fields["user"])
    formatted = JsonFormatter().format(line)
    assert "001190007777" not in formatted and "1.001193" not in formatted
    assert json.loads(formatted)["request_id"] == request_id

    # The real worker, logging JSON: the job the submission queued carries the same id.
    _, port = inbox
    metrics_port = _free_port()
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen(
            worker_argv("notifications"),
            env={
                **os.environ,
                "MOTCUA_SMTP_URL": f"smtp://127.0.0.1:{port}",
                "MOTCUA_LOG_FORMAT": "json",
                "MOTCUA_WORKER_METRICS_PORT": str(metrics_port),
            },
            stderr=log_file,
            stdout=log_file,
        )
        try:

            def job_line() -> dict[str, Any] | None:
                for entry in _json_lines(log_path):
                    if entry.get("logger") == "motcua.jobs" and entry.get("request_id") == request_id:
                        return entry
                return None

            assert _wait(lambda: job_line() is not None), log_path.read_text()[-3000:]

            # The worker's own metrics port (a process Dramatiq forks once a worker has booted)
            # counts the run.
            def scraped() -> str:
                try:
                    return httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
                except httpx.HTTPError:
                    return ""

            done_runs = 'motcua_job_runs_total{actor="notify_citizen",outcome="done"}'
            assert _wait(lambda: done_runs in scraped()), scraped()[:2000]
            assert 'motcua_job_duration_seconds_count{actor="notify_citizen"}' in scraped()
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    job = job_line()
    assert job is not None
    assert job["site"] == tenant.slug and job["outcome"] == "done"
    assert job["actor"] == "notify_citizen"
    # Every line the job wrote carries it too, and none names the citizen's personal ID.
    assert "001190007777" not in log_path.read_text(encoding="utf-8", errors="replace")


async def test_request_ids_are_kept_when_well_formed_and_made_otherwise(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="motcua.access")
    kept = await client.get("/healthz", headers={"X-Request-ID": "0af7651916cd43dd8448eb211c80319c"})
    assert kept.headers["x-request-id"] == "0af7651916cd43dd8448eb211c80319c"
    for bad in ("short", "has space in it ok", "x" * 200, "ab\"cdefgh'<>"):
        made = await client.get("/healthz", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"]), bad
    fresh = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    # A refused host gets an id and a line too, with no route (it never reached the router).
    unknown = await client.get("/", headers={"Host": "nobody.localhost"})
    assert unknown.status_code == 404 and unknown.headers["x-request-id"]
    lines = {r.request_id: r for r in _access_lines(caplog)}  # type: ignore[attr-defined]
    assert vars(lines["0af7651916cd43dd8448eb211c80319c"])["route"] == "/healthz"
    refused = vars(lines[unknown.headers["x-request-id"]])
    assert (refused["route"], refused["status"], refused["site"]) == ("-", 404, "-")


def test_json_lines_carry_the_context_and_stay_redacted(live_settings: Settings) -> None:
    settings = replace(live_settings, stripe_secret_key="sk_test_secret123456")
    logger = logging.getLogger("motcua.test.json")
    record = logger.makeRecord(
        logger.name,
        logging.WARNING,
        __file__,
        1,
        "key %s at redis://u:pw123@h/0",
        ("sk_test_secret123456",),
        None,
    )
    RedactSecrets([settings.stripe_secret_key]).filter(record)
    ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "key *** at redis://u:***@h/0"
    assert (line["level"], line["logger"], line["request_id"], line["site"]) == (
        "WARNING",
        "motcua.test.json",
        "-",
        "-",
    )
    assert "sk_test_secret123456" not in json.dumps(line)


def test_log_format_is_json_in_production_and_checked() -> None:
    assert load_settings({"MOTCUA_ENV": "test", "MOTCUA_SECRET_KEY": "k" * 40}).log_format == "text"
    chosen = load_settings({"MOTCUA_ENV": "test", "MOTCUA_SECRET_KEY": "k" * 40, "MOTCUA_LOG_FORMAT": "json"})
    assert chosen.log_format == "json"
    with pytest.raises(SettingsError, match="MOTCUA_LOG_FORMAT"):
        load_settings({"MOTCUA_ENV": "test", "MOTCUA_SECRET_KEY": "k" * 40, "MOTCUA_LOG_FORMAT": "xml"})
    with pytest.raises(SettingsError, match="MOTCUA_DATABASE_URL"):  # production: json unless told
        load_settings({"MOTCUA_ENV": "production"})


async def test_metrics_on_the_console_host_only(
    app: Litestar, live_settings: Settings, sign_in: SignIn, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    citizen, _ = await _submit(sign_in, tenant)
    assert (await citizen.get("/my/dossiers")).status_code == 200
    domain = live_settings.platform_domain
    hosts = {
        "console": f"http://admin.{domain}",
        "tenant": f"http://{tenant.slug}.{domain}",
        "platform": f"http://{domain}",
    }
    async with httpx.AsyncClient(transport=asgi_transport(app)) as http:
        await http.request("BREW", f"{hosts['tenant']}/my/dossiers")  # an invented method
        scraped = await http.get(f"{hosts['console']}/metrics")
        assert scraped.status_code == 200, scraped.text[:500]
        body = scraped.text
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }
        page = (("method", "GET"), ("route", "/my/dossiers"), ("status", "2xx"))
        assert samples[("motcua_request_duration_seconds_count", page)] >= 1
        assert samples[("motcua_request_duration_seconds_bucket", (("le", "+Inf"), *page))] >= 1
        # Labels stay bounded: an invented method is OTHER, not a series of its own.
        assert 'method="OTHER"' in body and "BREW" not in body
        # Sites are labelled up to MAX_SITE_LABELS per process, then counted as "other": a
        # worker that already served that many tenants (other test modules) counts this one there.
        # (This tenant may also be the one that reaches the bound: labelled, the last so.)
        named = set(re.findall(r'motcua_site_requests_total\{site="([^"]+)"\}', body)) - {"other"}
        if tenant.slug in named:
            assert len(named) <= MAX_SITE_LABELS
        else:
            assert len(named) == MAX_SITE_LABELS and 'motcua_site_requests_total{site="other"}' in body
        for series in (
            "motcua_db_pool_size ",
            "motcua_db_pool_in_use ",
            'motcua_queue_depth{queue="notifications"}',
            "motcua_outbox_lag_seconds ",
        ):
            assert series in body, series
        # The submission queued a notification that no worker took: it waits in Redis.
        depth = re.search(r'motcua_queue_depth\{queue="notifications"\} (\d+)', body)
        assert depth is not None and int(depth.group(1)) >= 1
        # Not on a tenant's host (under either spelling), nor on the platform's landing host.
        for url in (
            f"{hosts['tenant']}/metrics",
            f"{hosts['tenant']}/console/metrics",
            f"{hosts['platform']}/metrics",
        ):
            assert (await http.get(url)).status_code == 404, url

    from motcua.app import create_app

    guarded = create_app(replace(live_settings, metrics_token="scrape-token-" + "t" * 20))
    async with httpx.AsyncClient(transport=asgi_transport(guarded), base_url=hosts["console"]) as http:
        refused = await http.get("/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        allowed = await http.get("/metrics", headers={"Authorization": f"Bearer scrape-token-{'t' * 20}"})
        assert allowed.status_code == 200 and "motcua_request_duration_seconds" in allowed.text


_TRACED_REQUEST = """
import asyncio, json, sys

import httpx

from motcua.core import tracing
from motcua.core.settings import load_settings

settings = load_settings()
exporter = None
if sys.argv[1] == "on":
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracing.setup(settings, exporter=exporter)
from motcua.app import create_app

app = create_app(settings)


async def main() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        assert (await c.get("/readyz")).status_code == 200


asyncio.run(main())
spans = [
    {
        "name": s.name,
        "kind": s.kind.name,
        "id": s.context.span_id,
        "parent": s.parent.span_id if s.parent else None,
        "attributes": dict(s.attributes or {}),
    }
    for s in (exporter.get_finished_spans() if exporter else [])
]
# Installed, OpenTelemetry's API is imported by redis-py and Litestar themselves (Litestar also
# imports the ASGI middleware's module to look for it); what tracing adds is the SDK's tracer,
# the exporter, the SQL instrumentation, a tracer provider and the middleware in the app.
ours = ("opentelemetry.sdk.trace", "opentelemetry.instrumentation.sqlalchemy", "opentelemetry.exporter")
loaded = sorted(m for m in sys.modules if m.startswith(ours))
provider = "-"
if "opentelemetry.trace" in sys.modules:
    from opentelemetry import trace

    provider = type(trace.get_tracer_provider()).__name__
outermost = type(app.asgi_handler).__name__
found = {"spans": spans, "loaded": loaded, "provider": provider, "outermost": outermost}
print(json.dumps(found, default=str))
"""


def _traced_request(mode: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", _TRACED_REQUEST, mode],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def test_tracing_is_off_without_otel_variables_and_nests_sql_in_the_request(live_settings: Settings) -> None:
    from motcua.core.tracing import requested

    assert not requested({})
    assert not requested({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert requested({"OTEL_TRACES_EXPORTER": "console"})
    assert not requested({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})

    off = _traced_request("off")
    # Nothing of the SDK's tracing, the exporter or the SQL instrumentation is even imported.
    assert off["spans"] == [] and off["loaded"] == []
    assert off["provider"] in ("-", "ProxyTracerProvider") and off["outermost"] == "ObservedRequests"

    on = _traced_request("on")
    assert (on["provider"], on["outermost"]) == ("TracerProvider", "OpenTelemetryMiddleware")
    spans = on["spans"]
    [server] = [s for s in spans if s["kind"] == "SERVER"]
    assert server["name"] == "GET /readyz"
    assert server["attributes"]["http.route"] == "/readyz"
    by_id = {s["id"]: s for s in spans}

    def under_server(span: dict[str, Any]) -> bool:
        while span["parent"] is not None and span["parent"] in by_id:
            span = by_id[span["parent"]]
            if span is server:
                return True
        return False

    sql = [s for s in spans if s["kind"] == "CLIENT" and s["attributes"].get("db.system") == "postgresql"]
    assert sql and all(under_server(s) for s in sql), spans


def test_the_request_id_survives_the_relay_of_last_resort(live_settings: Settings, engine: Any) -> None:
    """A row the commit could not relay (Redis down, process killed) is sent later by the
    scheduler's relay, outside any request: its message still names the request."""
    import redis as redis_sync
    from dramatiq import Message

    from motcua.core import outbox
    from motcua.core.logging import LOG_CONTEXT

    @dataclass(frozen=True)
    class _Context:
        request_id: str
        site: str

    queue = f"obs-{uuid.uuid4().hex[:8]}"
    token = LOG_CONTEXT.set(_Context("relay-test-0123456789", "-"))
    try:
        with engine.begin() as conn:
            row = outbox.write_sync(conn, tenant=None, queue_name=queue, actor_name="nobody", kwargs={"n": 1})
    finally:
        LOG_CONTEXT.reset(token)
    assert row.request_id == "relay-test-0123456789"
    assert outbox.relay_pending(engine, grace_seconds=0) >= 1
    client = redis_sync.Redis.from_url(live_settings.redis_url or "")
    try:
        [encoded] = client.hvals(f"motcua:{queue}.msgs")
        assert isinstance(encoded, bytes)
        message = Message.decode(encoded)
        assert message.options["request_id"] == "relay-test-0123456789"
        assert message.kwargs == {"n": 1}  # the id is an option, never an argument
    finally:
        client.delete(f"motcua:{queue}", f"motcua:{queue}.msgs")
        client.close()
