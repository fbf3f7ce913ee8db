from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from motcua.admin.services import build_spec, onboard_tenant
from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.tenancy.migrate import head_revision
from motcua.tenancy.services import (
    ONBOARDING_STEPS,
    OnboardingError,
    TenancyError,
    get_tenant,
    validate_slug,
)
from tests.conftest import MakeTenant, procedure, unique_slug


class SimulatedCrash(BaseException):
    """Stands for the process dying mid-step: no except-Exception handler sees it."""


def _table_exists(engine: Engine, schema: str, table: str) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": f"{schema}.{table}"}).scalar()
        )


def _domains(engine: Engine, slug: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT d.host FROM platform.domains d JOIN platform.tenants t ON t.id = d.tenant_id "
                    "WHERE t.slug = :s ORDER BY d.host"
                ),
                {"s": slug},
            ).scalars()
        )


def test_onboarding_creates_an_active_tenant_with_schema_catalog_and_domains(
    engine: Engine, live_settings: Settings
) -> None:
    slug = unique_slug("ob")
    spec = build_spec(
        slug=slug,
        name="Tỉnh Thử",
        domains=[f"dichvucong.{slug}.gov.vn"],
        procedures=[procedure("1.001193", "Đăng ký khai sinh")],
    )
    tenant = onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))
    assert tenant.status == "active"
    assert tenant.schema == "t_" + slug.replace("-", "_")
    assert _table_exists(engine, tenant.schema, "procedures")
    with engine.connect() as conn:
        version = conn.execute(text(f"SELECT version_num FROM {tenant.schema}.alembic_version")).scalar()
        names = conn.execute(text(f"SELECT name, search_text FROM {tenant.schema}.procedures")).all()
        audit = (
            conn.execute(
                text("SELECT action FROM platform.audit_log WHERE tenant_slug = :s ORDER BY id"), {"s": slug}
            )
            .scalars()
            .all()
        )
    assert version == head_revision(live_settings.root, "tenant")
    assert names == [("Đăng ký khai sinh", "dang ky khai sinh ho tich 1.001193")]
    assert _domains(engine, slug) == [f"dichvucong.{slug}.gov.vn"]
    assert audit == ["tenant.onboarding_started", "tenant.activated"]


@pytest.mark.parametrize("crash_at", ONBOARDING_STEPS[1:])
def test_rerun_after_a_crash_at_each_step_completes_the_tenant(
    crash_at: str, engine: Engine, live_settings: Settings
) -> None:
    slug = unique_slug("crash")
    spec = build_spec(
        slug=slug,
        name="Tỉnh Sập Nguồn",
        domains=[f"portal.{slug}.vn"],
        procedures=[procedure("1.000656", "Đăng ký khai tử")],
    )

    def crash(step: str) -> None:
        if step == crash_at:
            raise SimulatedCrash(step)

    with pytest.raises(SimulatedCrash):
        onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"), on_step=crash)
    half = get_tenant(engine, slug)
    assert half is not None
    assert half.status == "provisioning"  # never active while half-made

    tenant = onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))
    assert tenant.status == "active"
    assert _domains(engine, slug) == [f"portal.{slug}.vn"]
    with engine.connect() as conn:
        codes = conn.execute(text(f"SELECT code FROM {tenant.schema}.procedures")).scalars().all()
    assert codes == ["1.000656"]


def test_a_failing_step_leaves_the_tenant_failed_with_the_reason_and_a_rerun_fixes_it(
    engine: Engine, live_settings: Settings
) -> None:
    slug = unique_slug("fail")
    schema = "t_" + slug.replace("-", "_")
    # Something already squats the tenant's table name: the migration step fails.
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(text(f"CREATE TABLE {schema}.procedures (x int)"))
    spec = build_spec(slug=slug, name="Tỉnh Lỗi")
    with pytest.raises(OnboardingError, match="migrate"):
        onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))
    failed = get_tenant(engine, slug)
    assert failed is not None and failed.status == "failed"
    with engine.connect() as conn:
        reason = conn.execute(
            text("SELECT failure_reason FROM platform.tenants WHERE slug = :s"), {"s": slug}
        ).scalar()
    assert reason is not None and reason.startswith("migrate:") and "procedures" in reason

    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {schema}.procedures"))
    assert onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test")).status == "active"


def test_onboarding_twice_is_a_no_op(
    make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    again = onboard_tenant(
        engine, live_settings, build_spec(slug=tenant.slug, name="Khác"), actor=Actor.operator("test")
    )
    assert again == tenant
    assert again.name == tenant.name


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("admin", "reserved"),
        ("www", "reserved"),
        ("api", "reserved"),
        ("Hanoi", "invalid tenant slug"),
        ("1hanoi", "invalid tenant slug"),
        ("h", "invalid tenant slug"),
        ("ha_noi", "invalid tenant slug"),
        ("a" * 32, "invalid tenant slug"),
        ("ha noi", "invalid tenant slug"),
    ],
)
def test_bad_slugs_are_refused_with_a_clear_message(slug: str, message: str) -> None:
    with pytest.raises(TenancyError, match=message):
        validate_slug(slug)


def test_a_domain_of_another_tenant_is_refused_before_anything_is_written(
    make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    owner = make_tenant(domains=[f"shared.{unique_slug('d')}.vn"])
    host = _domains(engine, owner.slug)[0]
    slug = unique_slug("thief")
    with pytest.raises(TenancyError, match="already belongs"):
        onboard_tenant(
            engine,
            live_settings,
            build_spec(slug=slug, name="X", domains=[host]),
            actor=Actor.operator("test"),
        )
    assert get_tenant(engine, slug) is None


def test_domains_under_the_platform_domain_must_match_the_slug(
    engine: Engine, live_settings: Settings
) -> None:
    with pytest.raises(TenancyError, match="platform domain"):
        onboard_tenant(
            engine,
            live_settings,
            build_spec(slug=unique_slug(), name="X", domains=["hanoi.localhost"]),
            actor=Actor.operator("test"),
        )


def test_invalid_procedures_are_refused_with_the_place_of_the_error() -> None:
    with pytest.raises(TenancyError, match=r"procedures\[0\]: code: Mã thủ tục theo mã quốc gia"):
        build_spec(slug="tinhmoi", name="X", procedures=[{"code": "abc", "name": "A", "field": "B"}])
    with pytest.raises(TenancyError, match="fee_vnd"):
        build_spec(slug="tinhmoi", name="X", procedures=[procedure("1.000001", "A", fee_vnd=-5)])
