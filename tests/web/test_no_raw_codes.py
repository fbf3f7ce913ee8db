"""People see words (issue 14): no rendered page shows a raw status code, a role code
(``officer``, ``citizen:1``, ``system:online-payment``) or a personal ID number where a name
exists, nor a number printed the programmer's way ("24.0 giờ", "100.0%").

One tenant, one walk: the citizen's main pages and the officer's queue and workspace for
dossiers in every state, with a history of several actors (an officer, the online payment, the
citizen). Every problem of every page is collected, so one run says everything that is wrong."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import Engine

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.dossiers.models import DossierStatus
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync
from tests.conftest import MakeTenant
from tests.dossiers import conftest as dossier_fixtures
from tests.dossiers.conftest import SignIn
from tests.dossiers.test_dossier_page import (
    CITIZEN_ID,
    CITIZEN_NAME,
    OFFICER,
    OFFICER_NAME,
    PROCEDURE,
    advance,
    db,
    new_dossier,
)

# The signed-in browser of the citizen journey, and its database handle (fixtures).
sign_in = dossier_fixtures.sign_in
__all__ = ["db", "sign_in"]

STATUS_CODES = re.compile(r"\b(" + "|".join(s.value for s in DossierStatus) + r")\b")
ROLE_CODES = re.compile(
    r"\b(officer|tenant_admin|platform_admin|citizen|operator)\b|\b(system|person):[\w-]*", re.IGNORECASE
)
TWELVE_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")
LABELLED_ID = re.compile(r"(Số định danh|Personal ID)[^.—]*$", re.IGNORECASE)
PROGRAMMER_NUMBERS = re.compile(r"\b\d+\.0 ?(giờ|ngày|%)")
# Attributes a person reads (or hears) besides the text.
READ_ATTRIBUTES = re.compile(r'\b(?:aria-label|title|placeholder|alt)="([^"]*)"')


def read_by_people(html: str) -> str:
    """The text of a page as people read or hear it: text nodes and the labelling attributes;
    scripts, styles, comments and other attribute values (hidden inputs, URLs) left out."""
    html = re.sub(r"(?is)<!--.*?-->|<(script|style)\b.*?</\1>", " ", html)
    labels = " ".join(READ_ATTRIBUTES.findall(html))
    text = re.sub(r"(?s)<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", f"{text} {labels}")


def problems_of(html: str, *, allowed_ids: frozenset[str] = frozenset()) -> list[str]:
    text = read_by_people(html)
    found = [f"status code {m.group(0)!r}" for m in STATUS_CODES.finditer(text)]
    found += [f"role code {m.group(0)!r}" for m in ROLE_CODES.finditer(text)]
    found += [
        f"personal ID {m.group(0)}"
        for m in TWELVE_DIGITS.finditer(text)
        # Shown deliberately, as the value of a field labelled as the ID (the applicant's, on
        # the officer's workspace): data, not a person named by their number.
        if m.group(0) not in allowed_ids and not LABELLED_ID.search(text[max(0, m.start() - 80) : m.start()])
    ]
    found += [f"number {m.group(0)!r}" for m in PROGRAMMER_NUMBERS.finditer(text)]
    return sorted(set(found))


async def test_no_page_shows_codes_or_personal_ids(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, db: Database
) -> None:
    tenant = make_tenant(procedures=[PROCEDURE])
    citizen = await sign_in(tenant, name=CITIZEN_NAME, personal_id=CITIZEN_ID)
    grant_role_sync(engine, tenant, RoleGrantCreate.parse(OFFICER, "officer"), actor=Actor.operator("test"))
    officer = await sign_in(tenant, name=OFFICER_NAME, personal_id=OFFICER)

    codes: dict[str, str] = {}
    for status in (
        DossierStatus.SUBMITTED,
        DossierStatus.REFUSED,
        DossierStatus.ACCEPTED,
        DossierStatus.SUPPLEMENT_REQUESTED,
        DossierStatus.PAYMENT_REQUESTED,
        DossierStatus.IN_PROGRESS,  # paid online, back at work
        DossierStatus.STOPPED,
        DossierStatus.PROCESSED,
        DossierStatus.DELIVERED,
    ):
        codes[status] = await new_dossier(db, tenant)
        if status != DossierStatus.SUBMITTED:
            await advance(db, tenant, codes[status], status)
    withdrawn = await new_dossier(db, tenant)
    token = re.search(
        r'name="_csrf_token" value="([^"]+)"', (await citizen.get(f"/my/dossiers/{withdrawn}")).text
    )
    assert token is not None
    out = await citizen.post(f"/my/dossiers/{withdrawn}/withdraw", data={"_csrf_token": token.group(1)})
    assert out.status_code == 303
    codes[DossierStatus.WITHDRAWN] = withdrawn
    delivered = codes[DossierStatus.DELIVERED]

    pages: dict[str, httpx.Response] = {}
    citizen_paths = [
        "/",
        "/procedures",
        "/procedures?q=khai+snh",
        f"/procedures/{PROCEDURE['code']}",
        f"/procedures/{PROCEDURE['code']}/apply",
        "/my/dossiers",
        "/my/documents",
        f"/my/dossiers/{delivered}/slip",
        f"/tracking?code={delivered}",
        "/feedback",
        f"/my/dossiers/{delivered}/rating",
        *(f"/my/dossiers/{code}" for code in codes.values()),
    ]
    for path in citizen_paths:
        response = await citizen.get(path, follow_redirects=True)
        assert response.status_code == 200, (path, response.status_code)
        pages[f"citizen {path}"] = response
    officer_paths = [
        "/officer",
        *(f"/officer?queue={q}" for q in ("new", "in_progress", "supplement", "payment", "finished")),
        *(f"/officer/dossiers/{code}" for code in codes.values()),
        "/officer/feedback",
    ]
    for path in officer_paths:
        response = await officer.get(path, follow_redirects=True)
        assert response.status_code == 200, (path, response.status_code)
        pages[f"officer {path}"] = response

    # The citizen's own ID may show on their own applicant summary while applying (better not).
    own = frozenset({CITIZEN_ID})
    found = {
        name: problems
        for name, response in pages.items()
        if (problems := problems_of(response.text, allowed_ids=own if "/apply" in name else frozenset()))
    }
    assert found == {}, "\n".join(f"{name}: {', '.join(p)}" for name, p in found.items())
    # Names where there are people: the officer by name on the citizen's page and in the workspace.
    assert OFFICER_NAME in pages[f"citizen /my/dossiers/{delivered}"].text
    assert OFFICER_NAME in pages[f"officer /officer/dossiers/{delivered}"].text


def test_the_checks_catch_what_they_are_for() -> None:
    shown = (
        "<p>Trạng thái: in_progress</p><li>citizen:1 — officer:001178006789</li>"
        '<td title="system:online-payment">x</td><p>24.0 giờ làm việc, 100.0%</p>'
        '<input type="hidden" name="version" value="processed"><a href="/officer?queue=new">Hàng đợi</a>'
    )
    assert problems_of(shown) == [
        "number '100.0%'",
        "number '24.0 giờ'",
        "personal ID 001178006789",
        "role code 'citizen'",
        "role code 'officer'",
        "role code 'system:online-payment'",
        "status code 'in_progress'",
    ]
    assert problems_of("<p>Cán bộ Trần Văn Bình — 24 giờ làm việc — 100 %</p>") == []
    # An ID is data where it is labelled as one, a leak where it stands for a person.
    assert problems_of("<dt>Số định danh cá nhân của người nộp</dt><dd>001190001234</dd>") == []
    assert problems_of("<dt>Cán bộ phụ trách:</dt><dd>001178006789</dd>") == ["personal ID 001178006789"]
