"""The apply form of birth registration as the shipped catalogue defines it: the e-ID fills in
only the applicant's own answers (never the mother's, whoever applies), and an uploaded file's
size reads as people read sizes."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.core.theming import LANGUAGE_COOKIE
from tests.conftest import unique_slug
from tests.dossiers.conftest import PDF, SignIn, csrf

CATALOG = Path(__file__).resolve().parents[2] / "tenants" / "catalog"
# Whose answers a field holds when its label names someone other than the applicant.
OTHER_PEOPLE = ("mẹ", "cha", "trẻ", "người chết", "vợ", "chồng", "người được")


def _shipped() -> list[dict[str, Any]]:
    procedures: list[dict[str, Any]] = []
    for path in sorted(CATALOG.glob("*.toml")):
        procedures += tomllib.loads(path.read_text(encoding="utf-8")).get("procedures", [])
    return procedures


@pytest.fixture(scope="module")
def tenant(engine: Engine, live_settings: Settings) -> Tenant:
    from motcua.admin.services import build_spec, onboard_tenant
    from motcua.core.audit import Actor

    slug = unique_slug("af")
    birth = next(p for p in _shipped() if p["code"] == "1.001193")
    spec = build_spec(
        slug=slug, name=f"Cổng {slug}", kind="province", domains=[], theme="default", procedures=[birth]
    )
    return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))


async def test_a_father_applying_gets_his_own_answers_filled_in_but_not_the_mothers(
    sign_in: SignIn, tenant: Tenant
) -> None:
    father = await sign_in(tenant, name="Nguyễn Văn An", personal_id="001085012345")
    form = await father.get("/procedures/1.001193/apply/answers")
    assert form.status_code == 200
    assert 'id="mother_full_name" name="mother_full_name" value=""' in form.text
    assert 'id="mother_personal_id" name="mother_personal_id" value=""' in form.text
    assert "Nguyễn Văn An" not in form.text.split('id="mother_full_name"', 1)[1].split("</div>", 1)[0]
    assert 'id="contact_phone" name="contact_phone" value="0912345678"' in form.text  # his own

    # Every shipped procedure: what the e-ID fills in is the applicant's, nobody else's.
    for procedure in _shipped():
        for field in procedure.get("fields", []):
            if "prefill" in field:
                label = field["label"].lower()
                assert not any(who in label for who in OTHER_PEOPLE), (procedure["code"], field["name"])


async def test_an_uploaded_file_of_414_bytes_reads_414_byte(sign_in: SignIn, tenant: Tenant) -> None:
    citizen = await sign_in(tenant, name="Trần Thị Bình", personal_id="001190054321")
    small = PDF.replace(b"trailer", b"%" + b"x" * (414 - len(PDF) - 2) + b"\ntrailer")
    assert len(small) == 414
    uploaded = await citizen.post(
        "/procedures/1.001193/apply/files/to-khai",
        data={"_csrf_token": await csrf(citizen, "/procedures/1.001193/apply")},
        files={"file": ("to-khai.pdf", small, "application/pdf")},
    )
    assert uploaded.status_code == 303
    form = await citizen.get("/procedures/1.001193/apply/documents")
    assert "to-khai.pdf</a> (414 byte)" in form.text
    citizen.cookies.set(LANGUAGE_COOKIE, "en", domain=f"{tenant.slug}.localhost")
    in_english = await citizen.get("/procedures/1.001193/apply/documents")
    assert "to-khai.pdf</a> (414 bytes)" in in_english.text
