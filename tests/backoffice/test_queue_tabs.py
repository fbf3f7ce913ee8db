"""Switching queues with htmx swaps the tabs with the table, so the highlighted tab (and the
filter form's queue) follow the queue shown, as they do on a full page load."""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from tests.backoffice.test_workspace import OFFICER, _officer
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn, in_progress_dossier


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


async def test_the_filters_narrow_the_rows_and_the_officer_in_charge_shows_by_name(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    """The queue's rows come from one statement built once per shape of filter, its values bound
    at each view: each filter must still narrow the rows, and the officer in charge (read in the
    same statement) shows by their name, else their masked ID, never the full number."""
    other = {**BIRTH, "code": "1.009999", "name": "Thủ tục thử lọc", "field": "Chứng thực"}
    tenant = make_tenant(procedures=[BIRTH, other])
    officer = await _officer(sign_in, engine, tenant)  # signed in once: their name is known
    with engine.begin() as conn:
        rows = [
            ("LOC-1", BIRTH, OFFICER),  # assigned to the officer who signed in
            ("LOC-2", other, "001099000123"),  # assigned to someone who never signed in
            ("LOC-3", other, None),
        ]
        for code, procedure, assigned in rows:
            in_progress_dossier(conn, tenant, code, str(procedure["code"]), assigned=assigned)

    def codes(html: str) -> set[str]:
        return set(re.findall(r'href="/officer/dossiers/(LOC-\d)"', html))

    everything = await officer.get("/officer?queue=in_progress")
    assert codes(everything.text) == {"LOC-1", "LOC-2", "LOC-3"}
    assert f"Cán bộ {OFFICER[-3:]}" in everything.text
    assert "001099000123" not in everything.text  # masked, never the whole number
    assert "Chưa phân công" in everything.text
    by_procedure = await officer.get("/officer", params={"queue": "in_progress", "procedure": "1.009999"})
    assert codes(by_procedure.text) == {"LOC-2", "LOC-3"}
    by_field = await officer.get("/officer", params={"queue": "in_progress", "field": "Hộ tịch"})
    assert codes(by_field.text) == {"LOC-1"}
    mine = await officer.get("/officer", params={"queue": "in_progress", "mine": "true"})
    assert codes(mine.text) == {"LOC-1"}
    # Another queue's statement (same filters, other status) lists none of them.
    assert codes((await officer.get("/officer", params={"queue": "new", "mine": "true"})).text) == set()


async def test_a_row_shows_its_own_values_on_each_portal_and_after_each_change(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    """A queue row is rendered once per process for the values it shows (core.fragments): the
    same code on two portals, or the same dossier after a change, never shows another's row."""
    tenants = [make_tenant(procedures=[BIRTH]) for _ in range(2)]
    officers = [await _officer(sign_in, engine, t) for t in tenants]
    for tenant, applicant in zip(tenants, ("Nguyễn Văn Hà", "Trần Thị Huế"), strict=True):
        with engine.begin() as conn:
            in_progress_dossier(conn, tenant, "ROW-1", str(BIRTH["code"]), applicant=applicant)

    def row(html: str) -> str:
        return html.split('href="/officer/dossiers/ROW-1"', 1)[1].split("</tr>", 1)[0]

    for _ in range(2):  # the second view is the one served from the rendered rows
        first, second = [(await o.get("/officer?queue=in_progress")).text for o in officers]
        assert "Nguyễn Văn Hà" in row(first) and "Trần Thị Huế" not in first
        assert "Trần Thị Huế" in row(second) and "Nguyễn Văn Hà" not in second

    # Each value on its own: the officer in charge, then the due date.
    for change, shows in (
        ("assigned_to = :officer", f"Cán bộ {OFFICER[-3:]}"),
        ("due_at = now() - interval '2 days'", "Quá hạn"),
    ):
        with engine.begin() as conn:
            conn.execute(
                text(f"UPDATE {tenants[0].schema}.dossiers SET {change} WHERE code = 'ROW-1'"),
                {"officer": OFFICER},
            )
        assert shows in row((await officers[0].get("/officer?queue=in_progress")).text), change
    assert "Chưa phân công" in row((await officers[1].get("/officer?queue=in_progress")).text)
