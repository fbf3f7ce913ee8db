"""The API reference at /schema works offline: its viewer is served from the portal itself,
and the page's policy lets it load from there and nowhere else."""

from __future__ import annotations

import re

import httpx

from tests.conftest import MakeTenant


async def test_the_api_reference_loads_its_viewer_from_the_portal_only(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    host = {"host": f"{tenant.slug}.localhost"}
    page = await client.get("/schema", headers=host)
    assert page.status_code == 200
    html = page.text
    scripts = re.findall(r"<script[^>]*\bsrc=[\"']([^\"']+)", html)
    styles = re.findall(r"<link[^>]*\bhref=[\"']([^\"']+)", html)
    assert scripts, html[:500]
    for url in scripts + styles:
        assert url.startswith("/") and not url.startswith("//"), url
        served = await client.get(url, headers=host)
        assert served.status_code == 200, url
        assert len(served.content) > 1000, url
        # Asked for by a sandboxed page (origin "null"), with <script crossorigin>.
        assert served.headers["access-control-allow-origin"] == "*", url
    policy = page.headers["content-security-policy"]
    assert "https:" not in policy  # no CDN, no web font
    assert "script-src 'self'" in policy
    assert "sandbox" in policy  # still run in an opaque origin
    # The JSON the viewer shows is there too.
    assert (await client.get("/schema/openapi.json", headers=host)).status_code == 200
