"""End-to-end tests: the product as `make run` starts it, and real browsers. Shared steps."""

from __future__ import annotations

import re

import httpx


async def choose_delivery(
    citizen: httpx.AsyncClient, url: str, token: str, method: str = "desk"
) -> httpx.Response:
    """Post the delivery step of an application as the page offers it, as a browser sends it:
    with the desk the page preselected (for a commune-level procedure, the ward named by the
    citizen's e-ID address)."""
    page = (await citizen.get(url)).text
    chosen = re.search(r'<option value="(\d+)"[^>]*\sselected>', page)
    data = {"_csrf_token": token, "delivery_method": method}
    if chosen:
        data["receiving_unit_id"] = chosen.group(1)
    return await citizen.post(url, data=data)
