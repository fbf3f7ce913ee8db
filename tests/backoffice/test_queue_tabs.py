"""Switching queues with htmx swaps the tabs with the table, so the highlighted tab (and the
filter form's queue) follow the queue shown, as they do on a full page load."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from tests.backoffice.test_workspace import _officer
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn


def _current_tabs(html: str) -> list[str]:
    """The queues whose tab is marked as the current one."""
    return re.findall(r'<a href="/officer\?queue=(\w+)[^"]*"\s+aria-current="page"', html)


async def test_the_current_tab_follows_the_queue_with_and_without_htmx(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    officer = await _officer(sign_in, engine, tenant)
    full = await officer.get("/officer?queue=new")
    assert _current_tabs(full.text) == ["new"]
    region = re.search(r'<div id="(\w[\w-]*)"[^>]*>\s*<nav class="queue-tabs"', full.text)
    assert region is not None, "the tabs sit inside the region htmx swaps"
    assert f'hx-target="#{region.group(1)}"' in full.text

    # The fragment htmx asks for when "overdue" is clicked: the tabs come with it, "overdue"
    # now current, and the filters keep to that queue.
    fragment = await officer.get("/officer?queue=overdue", headers={"hx-request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert _current_tabs(fragment.text) == ["overdue"]
    assert '<input type="hidden" name="queue" value="overdue">' in fragment.text
    assert 'id="queue"' in fragment.text

    page = await officer.get("/officer?queue=overdue")
    assert _current_tabs(page.text) == ["overdue"]
