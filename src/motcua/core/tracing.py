"""OpenTelemetry tracing of requests, SQL statements and jobs: off unless asked for.

It is on when the standard variables ask for it: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) names a collector, or ``OTEL_TRACES_EXPORTER`` names an
exporter other than ``none`` (``otlp``, ``console``). The OTLP exporter reads the other
``OTEL_*`` variables itself (headers, timeout, protocol); ``OTEL_SERVICE_NAME`` names the
service (``motcua`` by default). Otherwise nothing of OpenTelemetry is imported, and a request
pays one attribute read. The packages are the ``otel`` extra (``pip install 'motcua[otel]'``).

Every SQLAlchemy engine of the process is traced from its first connection (engines are made
in several places: the app's pool, the worker's job sessions, the tenant check). Span names
and URL attributes carry the route template, never the path, which may hold a dossier code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, cast

from dramatiq.broker import Broker, MessageProxy
from dramatiq.middleware import Middleware
from litestar.types import ASGIApp

from motcua.core.settings import Settings

_provider: Any = None


def requested(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(
        exporter
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def enabled() -> bool:
    return _provider is not None


def setup(settings: Settings, *, exporter: Any = None) -> bool:
    """Start tracing for this process if the environment asks for it (or a test hands in an
    ``exporter``); once per process. Returns whether tracing is on."""
    global _provider
    if _provider is not None:
        return True
    if exporter is None and not requested(os.environ):
        return False
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "OTEL_* asks for tracing, but OpenTelemetry is not installed: pip install 'motcua[otel]'"
        ) from None
    from opentelemetry import trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create(
        {
            SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or "motcua",
            "deployment.environment": settings.env,
        }
    )
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter_from_env()))
    trace.set_tracer_provider(provider)
    _provider = provider
    _trace_every_engine(provider)
    return True


def _exporter_from_env() -> Any:
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _trace_every_engine(provider: Any) -> None:
    import weakref

    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import get_meter
    from opentelemetry.trace import get_tracer
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine

    tracer = get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__, provider)
    usage = get_meter("opentelemetry.instrumentation.sqlalchemy", __version__).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    traced: weakref.WeakSet[Engine] = weakref.WeakSet()

    # Listeners added to an engine reach its open connections too (they share its dispatch).
    @event.listens_for(Engine, "engine_connect")
    def _first_connection(connection: Connection) -> None:
        engine = connection.engine
        if engine not in traced:
            traced.add(engine)
            EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]


def wrap_asgi(app: ASGIApp) -> ASGIApp:
    """The app inside OpenTelemetry's ASGI middleware, when tracing is on; else the app itself."""
    if _provider is None:
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    def method_only(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # Renamed to "METHOD /route/{template}" once routed (name_request_span).
        return str(scope.get("method", "HTTP")), {}

    wrapped = OpenTelemetryMiddleware(
        app,
        default_span_details=method_only,
        tracer_provider=_provider,
        exclude_spans=["receive", "send"],
    )
    return cast(ASGIApp, wrapped)


# URL attributes of both semantic-convention versions: overwritten with the template.
_URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full", "url.query")


def name_request_span(method: str, route: str, request_id: str) -> None:
    """Called by core.observability once the request is answered and its route is known."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("motcua.request_id", request_id)
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, route)


class TracedJobs(Middleware):
    """A consumer span around each job, parent of the job's SQL spans."""

    def __init__(self) -> None:
        from opentelemetry.trace import get_tracer

        self.tracer = get_tracer("motcua.jobs", tracer_provider=_provider)
        self._running: dict[str, tuple[Any, Any]] = {}

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        from opentelemetry import context, trace

        span = self.tracer.start_span(
            f"job {message.actor_name}",
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "dramatiq",
                "messaging.destination.name": message.queue_name,
                "messaging.message.id": message.message_id,
                "motcua.request_id": str(message.options.get("request_id") or ""),
                "motcua.tenant": str(message.kwargs.get("tenant") or ""),
            },
        )
        self._running[message.message_id] = (span, context.attach(trace.set_span_in_context(span)))

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self._end(message, exception)

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self._end(message, None)

    def _end(self, message: MessageProxy, exception: BaseException | None) -> None:
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        running = self._running.pop(message.message_id, None)
        if running is None:
            return
        span, token = running
        if exception is not None:
            span.record_exception(exception)
            span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
        context.detach(token)
        span.end()


def instrument_broker(broker: Broker) -> None:
    if _provider is not None:
        broker.add_middleware(TracedJobs())
