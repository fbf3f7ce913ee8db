"""The reporting routes, gathered from each page family: the statistics API (``api.py``), the
public statistics page (``public_pages.py``), open data (``open_data.py``) and the tenant
administrators' reports (``manage_pages.py``)."""

from __future__ import annotations

from litestar import Router

from motcua.reporting import api, manage_pages, open_data, public_pages

_FAMILIES = (api, public_pages, open_data, manage_pages)

router = Router(path="/", route_handlers=[h for family in _FAMILIES for h in family.HANDLERS])
