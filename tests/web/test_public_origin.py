"""Links that leave the page (e-ID redirect URIs, checkout return URLs, the slip's QR code) use
the scheme the browser sees: https in production, behind the TLS proxy, whatever the proxy
forwards."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from litestar import Litestar

from motcua.core.dependencies import bind_app_context
from motcua.core.pages import public_origin


def _request(*, production: bool, scheme: str, host: str) -> Any:
    app = Litestar()
    settings: Any = SimpleNamespace(is_production=production)
    bind_app_context(app, settings=settings, themes=cast(Any, None))
    return SimpleNamespace(
        app=app,
        url=SimpleNamespace(scheme=scheme),
        headers={"host": host},
    )


def test_production_links_are_https_even_when_the_proxy_speaks_http() -> None:
    request = _request(production=True, scheme="http", host="hanoi.dichvucong.example.vn")
    assert public_origin(request) == "https://hanoi.dichvucong.example.vn"


def test_development_links_keep_the_scheme_and_port_of_the_request() -> None:
    request = _request(production=False, scheme="http", host="hanoi.localhost:8000")
    assert public_origin(request) == "http://hanoi.localhost:8000"
