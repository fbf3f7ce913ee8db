"""A tenant file names the first staff of its units (``[[locality.staff]]``): onboarding gives
them their roles, and a unit name that does not exist fails the onboarding with the reason."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from motcua.admin.services import onboard_tenant, spec_from_file
from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.tenancy.services import schema_for

TENANT_FILE = """
name = "Cổng thử đơn vị Đà Nẵng"
kind = "province"

[locality]
code = "48"
name = "Thành phố Đà Nẵng"

[[locality.staff]]
unit = "{unit}"
personal_id = "048080003456"
name = "Lê Văn Tiếp Nhận"
role = "reception"
"""


def _onboard(engine: Engine, settings: Settings, folder: Path, unit: str) -> str:
    path = folder / "danang.toml"
    path.write_text(TENANT_FILE.format(unit=unit), encoding="utf-8")
    slug = f"staff-{uuid.uuid4().hex[:6]}"
    onboard_tenant(engine, settings, spec_from_file(path, slug=slug), actor=Actor.operator("test"))
    return slug


def test_the_staff_named_in_the_tenant_file_hold_their_roles(
    engine: Engine, live_settings: Settings, tmp_path: Path
) -> None:
    slug = _onboard(engine, live_settings, tmp_path, "Phường Hải Châu")
    schema = schema_for(slug)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f'SELECT u.name, s.full_name, s.role FROM "{schema}".unit_staff s '
                f'JOIN "{schema}".units u ON u.id = s.unit_id'
            )
        ).all()
    assert [tuple(r) for r in rows] == [("Phường Hải Châu", "Lê Văn Tiếp Nhận", "reception")]


def test_a_unit_that_does_not_exist_fails_the_onboarding_with_the_reason(
    engine: Engine, live_settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match="no unit named 'Phường Không Có'"):
        _onboard(engine, live_settings, tmp_path, "Phường Không Có")
