"""A real OpenID Provider for tests: panva's certified ``oidc-provider`` run under Node on loopback.

``NodeOidcProvider`` starts ``tests/identity/oidc_provider/server.mjs`` (needs ``node`` and the
packages from ``npm ci``); ``complete_interaction`` and ``complete_logout`` play the browser on the
provider's own pages (its development login/consent pages and its logout confirmation) and hand back
the redirect meant for the relying party, without following it.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin, urlsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = Path(__file__).resolve().parent / "oidc_provider" / "server.mjs"
PROVIDER_PACKAGE = REPO_ROOT / "node_modules" / "oidc-provider" / "package.json"

_MAX_STEPS = 20
_HTTP_TIMEOUT = 10.0


class NodeProviderUnavailableError(RuntimeError):
    """Node or the npm packages are missing: the provider cannot run on this machine at all."""


class NodeProviderError(RuntimeError):
    """The provider process failed to start, or a page on it did not behave as expected."""


class NodeOidcProvider:
    """One ``oidc-provider`` process with the given clients and accounts, on ``http://127.0.0.1:<port>``.

    ``clients``: OIDC client metadata, at least ``client_id``, ``client_secret``, ``redirect_uris``
    (and ``post_logout_redirect_uris`` for logout); ``token_endpoint_auth_method`` defaults to
    ``client_secret_basic``. ``accounts``: account id -> its claims (the ``sub`` claim defaults to the
    account id). With ``conform_id_token_claims`` true (the provider's default), claims granted through
    scopes only come from userinfo; false puts them in the ID token too.
    """

    def __init__(
        self,
        clients: Sequence[Mapping[str, Any]],
        accounts: Mapping[str, Mapping[str, Any]],
        *,
        conform_id_token_claims: bool = True,
        startup_timeout: float = 30.0,
    ) -> None:
        self.clients = [dict(client) for client in clients]
        self.accounts = {account_id: dict(claims) for account_id, claims in accounts.items()}
        self.conform_id_token_claims = conform_id_token_claims
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._port: int | None = None
        self._output: list[str] = []
        self._output_lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._process is not None:
            raise NodeProviderError("provider already started")
        node = shutil.which("node")
        if node is None:
            raise NodeProviderUnavailableError("node is not on PATH")
        if not PROVIDER_PACKAGE.is_file():
            raise NodeProviderUnavailableError(f"{PROVIDER_PACKAGE} missing: run `npm ci` in {REPO_ROOT}")
        last_error: NodeProviderError | None = None
        for _ in range(3):  # a free port can be taken between picking it and node binding it
            try:
                self._start_once(node, _free_port())
            except NodeProviderError as exc:
                last_error = exc
                if "EADDRINUSE" not in str(exc):
                    raise
            else:
                return self
        assert last_error is not None
        raise last_error

    def _start_once(self, node: str, port: int) -> None:
        config = {
            "port": port,
            "clients": self.clients,
            "accounts": self.accounts,
            "conform_id_token_claims": self.conform_id_token_claims,
        }
        env = {**os.environ, "OIDC_TEST_CONFIG": json.dumps(config)}
        env.pop("DEBUG", None)  # oidc-provider's debug output would swamp the captured output
        self._output = []
        process = subprocess.Popen(
            [node, str(SERVER_SCRIPT)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        ready: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None and process.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(process.stdout, ready), daemon=True),
            threading.Thread(target=self._pump, args=(process.stderr, None), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self._process = process
        self._port = port
        expected = f"READY http://127.0.0.1:{port}"
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                line = ready.get(timeout=0.1)
            except queue.Empty:
                line = None
            if line is not None and line.strip() == expected:
                return
            if process.poll() is not None:
                self._reap()
                raise NodeProviderError(
                    f"oidc provider exited with code {process.returncode} before it was ready:\n{self.output}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise NodeProviderError(
                    f"oidc provider not ready within {self.startup_timeout:.0f}s:\n{self.output}"
                )

    def _pump(self, stream: Any, ready: queue.Queue[str] | None) -> None:
        for line in stream:
            with self._output_lock:
                self._output.append(line)
            if ready is not None:
                ready.put(line)

    def _reap(self) -> None:
        for reader in self._readers:
            reader.join(timeout=5)
        self._readers = []
        self._process = None

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._reap()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- facts -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def port(self) -> int:
        if self._port is None:
            raise NodeProviderError("provider not started")
        return self._port

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def output(self) -> str:
        """Everything the node process printed so far (stdout and stderr interleaved by line)."""
        with self._output_lock:
            return "".join(self._output)

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document."""
        response = httpx.get(self.discovery_url, timeout=_HTTP_TIMEOUT)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- playing the browser on the provider's pages ---------------------------------------------------


class _Form:
    def __init__(self, action: str, method: str, form_id: str | None) -> None:
        self.action = action
        self.method = method
        self.form_id = form_id
        self.fields: dict[str, str] = {}


class _PageParser(HTMLParser):
    """Forms (hidden/text inputs), buttons bound to a form by id, and links of a provider page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self.links: list[str] = []
        self.buttons: list[dict[str, str]] = []
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = _Form(
                attributes.get("action", ""), attributes.get("method", "get").lower(), attributes.get("id")
            )
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and "name" in attributes:
            self._current.fields[attributes["name"]] = attributes.get("value", "")
        elif tag == "button":
            self.buttons.append(attributes)
        elif tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _parse(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _describe(response: httpx.Response) -> str:
    return (
        f"{response.request.method} {response.request.url} -> {response.status_code}:\n{response.text[:2000]}"
    )


class _ProviderBrowser:
    """Sends requests on one cookie jar and follows redirects only while they stay on the provider."""

    def __init__(self, start_url: str) -> None:
        self.origin = _origin(start_url)
        self.steps = 0

    def request(
        self, client: httpx.Client, method: str, url: str, data: Mapping[str, str] | None = None
    ) -> str:
        """Request ``url``, follow on-provider redirects; return the URL of the first off-provider
        redirect, or raise ``_Page`` carrying the HTML page the provider answered with."""
        while True:
            self.steps += 1
            if self.steps > _MAX_STEPS:
                raise NodeProviderError(f"more than {_MAX_STEPS} requests on the provider; last was {url}")
            response = client.request(method, url, data=data, follow_redirects=False)
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if _origin(target) != self.origin:
                    return target
                method, url, data = "GET", target, None
                continue
            if response.status_code == 200 and "html" in response.headers.get("content-type", ""):
                raise _Page(response)
            raise NodeProviderError(f"unexpected answer from the provider: {_describe(response)}")


class _Page(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(str(response.url))
        self.response = response
        self.url = str(response.url)
        self.parsed = _parse(response.text)


def _new_client() -> httpx.Client:
    return httpx.Client(timeout=_HTTP_TIMEOUT, follow_redirects=False)


def complete_interaction(
    authorization_url: str,
    account_id: str,
    *,
    cancel: bool = False,
    client: httpx.Client | None = None,
) -> str:
    """Log in as ``account_id`` on the provider's development pages and grant every requested scope.

    Starts at ``authorization_url`` (built by the relying party) and returns the provider's redirect to
    the client's ``redirect_uri`` (``code``, ``state`` and ``iss`` in its query) without following it.
    With ``cancel`` the first interaction page (normally login) is aborted, so the returned URL carries
    ``error=access_denied``. Pass ``client`` to keep the provider session (its cookies) for a later
    ``complete_logout`` or a second login; by default a fresh cookie jar is used and thrown away.
    An account id the provider was not given is refused by the provider: ``NodeProviderError``.
    """
    browser = _ProviderBrowser(authorization_url)
    owned = client is None
    http = client if client is not None else _new_client()
    try:
        method, url, data = "GET", authorization_url, None
        for _ in range(_MAX_STEPS):
            try:
                return browser.request(http, method, url, data)
            except _Page as page:
                method, url, data = _interaction_step(page, account_id, cancel=cancel)
        raise NodeProviderError("the provider kept asking for interaction")
    finally:
        if owned:
            http.close()


def _interaction_step(
    page: _Page, account_id: str, *, cancel: bool
) -> tuple[str, str, dict[str, str] | None]:
    forms = [form for form in page.parsed.forms if "prompt" in form.fields]
    if not forms:
        return _auto_submit(page)
    form = forms[0]
    if cancel:
        aborts = [link for link in page.parsed.links if link.rstrip("/").endswith("/abort")]
        if not aborts:
            raise NodeProviderError(f"no cancel link on the provider page: {_describe(page.response)}")
        return "GET", urljoin(page.url, aborts[0]), None
    prompt = form.fields["prompt"]
    data = dict(form.fields)
    if prompt == "login":
        data["login"] = account_id
        data["password"] = "any"  # devInteractions accept any password
    elif prompt != "consent":
        raise NodeProviderError(f"unknown interaction prompt {prompt!r}: {_describe(page.response)}")
    return form.method.upper(), urljoin(page.url, form.action), data


def _auto_submit(page: _Page) -> tuple[str, str, dict[str, str]]:
    """Submit a provider page that a browser would submit by script: the provider ends the current
    session this way before logging in as another account (``prompt=login`` on a shared client)."""
    forms = page.parsed.forms
    if len(forms) != 1 or "forms[0].submit()" not in page.response.text:
        raise NodeProviderError(f"not a login/consent page of the provider: {_describe(page.response)}")
    action = urljoin(page.url, forms[0].action)
    if _origin(action) != _origin(page.url):
        raise NodeProviderError(f"the provider posts the response to {action} (form_post is not supported)")
    return forms[0].method.upper(), action, dict(forms[0].fields)


def complete_logout(end_session_url: str, *, client: httpx.Client | None = None) -> str:
    """Confirm RP-initiated logout at ``end_session_url``; return the redirect to the
    ``post_logout_redirect_uri`` (with ``state`` if one was sent), or to the provider's own
    "signed out" page when the request named no post-logout redirect.

    Pass the ``client`` used for ``complete_interaction`` so the provider session is really ended;
    without one the provider has no session to end but still confirms and redirects.
    """
    browser = _ProviderBrowser(end_session_url)
    owned = client is None
    http = client if client is not None else _new_client()
    try:
        method, url, data = "GET", end_session_url, None
        for _ in range(3):
            try:
                return browser.request(http, method, url, data)
            except _Page as page:
                if urlsplit(page.url).path.endswith("/session/end/success"):
                    return page.url
                method, url, data = _logout_step(page)
        raise NodeProviderError("the provider kept asking for logout confirmation")
    finally:
        if owned:
            http.close()


def _logout_step(page: _Page) -> tuple[str, str, dict[str, str]]:
    forms = [form for form in page.parsed.forms if "xsrf" in form.fields]
    if not forms:
        raise NodeProviderError(f"not a logout page of the provider: {_describe(page.response)}")
    form = forms[0]
    data = dict(form.fields)
    # With a session the page shows "Yes, sign me out" (<button form=... name=logout value=yes>);
    # without one it is an auto-submitting form that already carries logout=yes.
    for button in page.parsed.buttons:
        if button.get("name") == "logout" and (form.form_id is None or button.get("form") == form.form_id):
            data["logout"] = button.get("value", "yes")
    return form.method.upper(), urljoin(page.url, form.action), data
