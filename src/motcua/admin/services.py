"""Onboarding a locality in one action: the platform-side steps of `motcua.tenancy` composed
with what each domain seeds (catalogue, first administrators) and validates (working calendar,
payment settings). It lives above the domains so that tenancy never imports them."""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from motcua.catalog.schemas import ProcedureSpec, ProcedureSpecError
from motcua.catalog.services import upsert_procedures
from motcua.core.actions import emit_sync
from motcua.core.audit import Actor
from motcua.core.db import search_path_sql
from motcua.core.events import TenantOnboarded
from motcua.core.outbox import relay_sync
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import WorkCalendar
from motcua.identity.services import grant_role_on
from motcua.organisation.seeding import seed_staff_on, seed_units_on, starting_units
from motcua.payments.settings import PaymentSettingsError, parse_payment_settings
from motcua.tenancy import events
from motcua.tenancy.models import Domain, TenantKind, TenantRecord, TenantStatus
from motcua.tenancy.schemas import TenantCreate
from motcua.tenancy.services import (
    COLOUR,
    ONBOARDING_STEPS,
    TENANTS,
    OnboardingError,
    TenancyError,
    one_line,
    platform_audit,
    schema_for,
    to_tenant,
    validate_host,
    validate_slug,
)
from motcua.tenancy.template import provision_tenant_schema

log = logging.getLogger(__name__)


# What a tenant file's [contact] table may say: who runs the portal and how to reach them.
CONTACT_FIELDS = ("agency", "address", "hotline", "email", "hours")


# Tenant files ------------------------------------------------------------------------------------
def load_tenant_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise TenancyError(f"tenant file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TenancyError(f"{path}: not valid TOML ({exc})") from None
    return data


def spec_from_file(path: Path, **overrides: Any) -> TenantCreate:
    data = load_tenant_file(path)
    slug = overrides.get("slug") or data.get("slug") or path.stem
    theme = data.get("theme", {})
    if not isinstance(theme, dict):
        raise TenancyError(f"{path}: [theme] must be a table")
    procedures = _procedures_with_includes(path, data)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise TenancyError(f"{path}: [defaults] must be a table")
    # The agency code of dossier codes is the tenant's own setting (its administrator changes it
    # in /manage/settings); other defaults fill what a procedure leaves out.
    defaults = dict(defaults)
    agency_code = defaults.pop("agency_code", None)
    procedures = [{**defaults, **p} for p in procedures]
    calendar = data.get("working_calendar")
    settings: dict[str, Any] = {}
    if agency_code is not None:
        settings["agency_code"] = str(agency_code)
    if calendar is not None:
        if not isinstance(calendar, dict):
            raise TenancyError(f"{path}: [working_calendar] must be a table")
        settings["working_calendar"] = calendar
    payments = data.get("payments")
    if payments is not None:
        if not isinstance(payments, dict):
            raise TenancyError(f"{path}: [payments] must be a table")
        settings["payments"] = payments
    contact = data.get("contact")
    if contact is not None:
        # The footer and information pages show it (themes/default/templates/partials/footer_contact.html).
        if not isinstance(contact, dict):
            raise TenancyError(f"{path}: [contact] must be a table")
        settings["contact"] = {k: str(v) for k, v in contact.items() if k in CONTACT_FIELDS and v}
    locality = data.get("locality")
    if locality is not None:
        # The province (its two-digit code) or ministry the tenant is: onboarding seeds its units.
        if not isinstance(locality, dict) or not str(locality.get("code", "")).strip():
            raise TenancyError(f"{path}: [locality] must be a table with a code")
        staff = locality.get("staff", [])
        if not isinstance(staff, list) or not all(isinstance(m, dict) for m in staff):
            raise TenancyError(f"{path}: locality.staff must be a list of [[locality.staff]] tables")
        settings["locality"] = {
            "code": str(locality["code"]),
            "name": str(locality.get("name", "")),
            # The first staff of its units (organisation.seeding.seed_staff_on).
            "staff": [{k: str(v) for k, v in m.items()} for m in staff],
        }
    roles = data.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
        raise TenancyError(f"{path}: roles must be a list of [[roles]] tables")
    return build_spec(
        slug=slug,
        roles=[(str(r.get("personal_id", "")), str(r.get("role", ""))) for r in roles],
        name=overrides.get("name") or data.get("name", ""),
        kind=overrides.get("kind") or data.get("kind", TenantKind.PROVINCE),
        domains=overrides.get("domains") or data.get("domains", []),
        theme=str(theme.get("name", "default")),
        branding={k: v for k, v in theme.items() if k != "name"},
        procedures=procedures,
        settings=settings,
        where=str(path),
    )


def _procedures_with_includes(path: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The tenant's procedures after its shared catalogue files (``include``), a tenant's own
    entry replacing an included one with the same code."""
    includes = data.get("include", [])
    if not isinstance(includes, list):
        raise TenancyError(f"{path}: include must be a list of files")
    merged: dict[str, dict[str, Any]] = {}
    base = path.parent.resolve()
    for name in includes:
        target = (base / str(name)).resolve()
        if not target.is_relative_to(base):
            raise TenancyError(f"{path}: include {name!r} points outside {base}")
        included = load_tenant_file(target).get("procedures", [])
        if not isinstance(included, list):
            raise TenancyError(f"{target}: procedures must be a list of [[procedures]] tables")
        for p in included:
            merged[str(p.get("code"))] = p
    own = data.get("procedures", [])
    if not isinstance(own, list):
        raise TenancyError(f"{path}: procedures must be a list of [[procedures]] tables")
    for p in own:
        merged[str(p.get("code"))] = p
    return list(merged.values())


def build_spec(
    *,
    slug: str,
    name: str,
    kind: str = TenantKind.PROVINCE,
    domains: Sequence[str] = (),
    theme: str = "default",
    branding: dict[str, Any] | None = None,
    procedures: Sequence[dict[str, Any]] = (),
    roles: Sequence[tuple[str, str]] = (),
    settings: dict[str, Any] | None = None,
    where: str = "tenant",
) -> TenantCreate:
    """Validate everything about a new tenant before anything is written."""
    validate_slug(slug)
    if not isinstance(name, str) or not name.strip():
        raise TenancyError(f"{where}: a tenant needs a name (--name)")
    if len(name) > 200:
        raise TenancyError(f"{where}: the name is longer than 200 characters")
    if kind not in {k.value for k in TenantKind}:
        raise TenancyError(f"{where}: kind must be province or ministry, got {kind!r}")
    branding = dict(branding or {})
    for key in ("primary", "accent"):
        if key in branding and not COLOUR.match(str(branding[key])):
            raise TenancyError(f"{where}: theme.{key} must be a colour like #a4161a")
    if not re.match(r"^[a-z][a-z0-9_-]{0,62}$", theme):
        raise TenancyError(f"{where}: theme name {theme!r} is not valid")
    parsed: list[dict[str, Any]] = []
    codes: set[str] = set()
    for i, raw in enumerate(procedures):
        try:
            spec = ProcedureSpec.parse(raw, f"{where}: procedures[{i}]")
        except ProcedureSpecError as exc:
            raise TenancyError(str(exc)) from None
        if spec.code in codes:
            raise TenancyError(f"{where}: procedures[{i}]: code {spec.code} appears twice")
        codes.add(spec.code)
        parsed.append(raw)
    for i, (personal_id, role) in enumerate(roles):
        if not re.match(r"^\d{12}$", personal_id):
            raise TenancyError(f"{where}: roles[{i}].personal_id must be 12 digits")
        if role not in ("officer", "tenant_admin"):
            raise TenancyError(f"{where}: roles[{i}].role must be officer or tenant_admin")
    settings = dict(settings or {})
    if "working_calendar" in settings:
        try:
            WorkCalendar.from_config(settings["working_calendar"])
        except ValueError as exc:
            raise TenancyError(f"{where}: {exc}") from None
    if "payments" in settings:
        try:
            settings["payments"] = parse_payment_settings(
                dict(settings["payments"]), where=f"{where}: payments"
            ).as_json()
        except PaymentSettingsError as exc:
            raise TenancyError(str(exc)) from None
    return TenantCreate(
        settings=settings,
        roles=tuple(roles),
        slug=slug,
        name=name.strip(),
        kind=kind,
        domains=tuple(dict.fromkeys(d.strip().lower().rstrip(".") for d in domains)),
        theme=theme,
        branding=branding,
        procedures=tuple(parsed),
    )


# Onboarding ----------------------------------------------------------------------------------
StepHook = Callable[[str], None]
CatalogueLoader = Callable[[], Sequence[dict[str, Any]]]


def onboard_tenant(
    engine: Engine,
    settings: Settings,
    spec: TenantCreate,
    *,
    actor: Actor,
    on_step: StepHook | None = None,
    catalogue: CatalogueLoader | None = None,
) -> Tenant:
    """Create schema → migrate → seed catalog → register domains → activate.

    Idempotent: a re-run after a crash picks up where the previous run stopped (every step is
    safe to repeat). An error marks the tenant ``failed`` with the reason and re-raises; a tenant
    only becomes ``active`` in the last step, so it is never served half-made. ``catalogue``
    reads a shared catalogue file at the seed step (so a file fixed after a failure is read
    again by the retry); its procedures come after the spec's own.
    """
    validate_slug(spec.slug)
    hosts = [validate_host(h, slug=spec.slug, platform_domain=settings.platform_domain) for h in spec.domains]
    schema = schema_for(spec.slug)
    step = "record"
    # One onboarding of a slug at a time, across processes; the lock dies with the connection.
    with engine.connect() as lock_conn:
        lock_conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": f"onboard:{spec.slug}"})
        with engine.connect() as conn:
            # Refuse before writing anything: a host owned by another tenant is the caller's
            # mistake, not a half-made tenant to leave behind.
            _check_domains_free(conn, spec.slug, hosts)
            _check_payment_account_free(conn, spec.slug, spec.settings)
        try:
            with engine.begin() as conn:
                existing = _claim_record(conn, spec, schema, actor=actor)
            if existing is not None:
                return existing
            for step in ONBOARDING_STEPS[1:]:
                if on_step is not None:
                    on_step(step)
                with engine.begin() as conn:
                    conn.execute(
                        update(TenantRecord)
                        .where(TenantRecord.slug == spec.slug)
                        .values(onboarding_step=step)
                    )
                if step == "schema":
                    with engine.begin() as conn:
                        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
                elif step == "migrate":
                    # A clone of the migrated template schema, or Alembic when it cannot be.
                    provision_tenant_schema(engine, settings.root, schema)
                elif step == "seed":
                    procedures = _parse_procedures([*spec.procedures, *(catalogue() if catalogue else [])])
                    with engine.begin() as conn:
                        conn.execute(text(search_path_sql(schema)))
                        upsert_procedures(conn, procedures)
                        _seed_roles(conn, spec.roles, actor=actor)
                        seed_units_on(conn, starting_units(spec.kind, spec.settings))
                        staff = spec.settings.get("locality", {}).get("staff", [])
                        seed_staff_on(conn, list(staff), granted_by=str(actor))
                elif step == "domains":
                    with engine.begin() as conn:
                        _register_domains(conn, spec.slug, hosts)
                elif step == "activate":
                    with engine.begin() as conn:
                        row = conn.execute(
                            update(TENANTS)
                            .where(TENANTS.c.slug == spec.slug)
                            .values(status=TenantStatus.ACTIVE, onboarding_step=None, failure_reason=None)
                            .returning(*TENANTS.c)
                        ).one()
                        platform_audit(conn, "tenant.activated", spec.slug, actor=actor, domains=hosts)
                        # In the activating transaction: the post-onboarding job exists exactly
                        # when the tenant is active, even if Redis is down right now.
                        announcement = emit_sync(conn, TenantOnboarded(tenant=spec.slug))
                    tenant = to_tenant(row)
                    relay_sync(engine, announcement)
        except Exception as exc:
            reason = f"{step}: {one_line(exc)}"
            with engine.begin() as conn:
                conn.execute(
                    update(TenantRecord)
                    .where(TenantRecord.slug == spec.slug, TenantRecord.status == TenantStatus.PROVISIONING)
                    .values(status=TenantStatus.FAILED, failure_reason=reason)
                )
                platform_audit(conn, "tenant.onboarding_failed", spec.slug, actor=actor, reason=reason)
            events.tenants_changed()
            raise OnboardingError(f"onboarding {spec.slug} failed at step {reason}") from exc
        finally:
            lock_conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": f"onboard:{spec.slug}"})
            lock_conn.commit()
    events.tenants_changed()
    return tenant


def _parse_procedures(raw: Sequence[dict[str, Any]]) -> list[ProcedureSpec]:
    parsed: dict[str, ProcedureSpec] = {}
    for i, p in enumerate(raw):
        try:
            # Named by its code: the reason is read by a person who must find it in the file.
            spec = ProcedureSpec.parse(p, str(p.get("code") or f"procedures[{i}]"))
        except ProcedureSpecError as exc:
            raise TenancyError(str(exc)) from None
        parsed[spec.code] = spec  # a later entry with the same code replaces an earlier one
    return list(parsed.values())


def _claim_record(conn: Connection, spec: TenantCreate, schema: str, *, actor: Actor) -> Tenant | None:
    """Insert the tenant row, or take over a half-done one. Returns the tenant when there is
    nothing left to do (already active)."""
    row = conn.execute(select(TENANTS).where(TENANTS.c.slug == spec.slug).with_for_update()).one_or_none()
    if row is None:
        conn.execute(
            insert(TenantRecord).values(
                slug=spec.slug,
                name=spec.name,
                kind=spec.kind,
                status=TenantStatus.PROVISIONING,
                schema_name=schema,
                theme=spec.theme,
                branding=spec.branding,
                settings=spec.settings,
                onboarding_step="record",
            )
        )
        platform_audit(
            conn, "tenant.onboarding_started", spec.slug, actor=actor, name=spec.name, kind=spec.kind
        )
        return None
    if row.status == TenantStatus.ACTIVE:
        return to_tenant(row)
    if row.status in (TenantStatus.SUSPENDED, TenantStatus.ARCHIVED):
        raise TenancyError(f"tenant {spec.slug!r} already exists and is {row.status}")
    # Requested from the console and not started yet, a crashed run (provisioning) or an earlier
    # error (failed): finish it with the new spec.
    conn.execute(
        update(TenantRecord)
        .where(TenantRecord.id == row.id)
        .values(
            status=TenantStatus.PROVISIONING,
            name=spec.name,
            kind=spec.kind,
            theme=spec.theme,
            branding=spec.branding,
            settings=spec.settings,
            failure_reason=None,
        )
    )
    if row.status == TenantStatus.FAILED or row.onboarding_step != "record":
        platform_audit(conn, "tenant.onboarding_resumed", spec.slug, actor=actor, previous_status=row.status)
    return None


def _seed_roles(conn: Connection, roles: Sequence[tuple[str, str]], *, actor: Actor) -> None:
    for personal_id, role in roles:
        grant_role_on(conn, personal_id, role, actor=actor)


def _check_domains_free(conn: Connection, slug: str, hosts: Sequence[str]) -> None:
    if not hosts:
        return
    taken = conn.execute(
        select(Domain.host, TENANTS.c.slug)
        .join(TENANTS, TENANTS.c.id == Domain.tenant_id)
        .where(Domain.host.in_(hosts), TENANTS.c.slug != slug)
    ).first()
    if taken is not None:
        raise TenancyError(f"domain {taken.host!r} already belongs to tenant {taken.slug!r}")


def _check_payment_account_free(conn: Connection, slug: str, settings: dict[str, Any]) -> None:
    account = (settings.get("payments") or {}).get("stripe_account")
    if not account:
        return
    owner = conn.execute(
        text(
            "SELECT slug FROM platform.tenants "
            "WHERE settings->'payments'->>'stripe_account' = :a AND slug <> :s"
        ),
        {"a": account, "s": slug},
    ).scalar_one_or_none()
    if owner is not None:
        raise TenancyError(f"payment account {account!r} already belongs to tenant {owner!r}")


def _register_domains(conn: Connection, slug: str, hosts: Sequence[str]) -> None:
    tenant_id = conn.execute(select(TenantRecord.id).where(TenantRecord.slug == slug)).scalar_one()
    for host in hosts:
        conn.execute(pg_insert(Domain).values(host=host, tenant_id=tenant_id).on_conflict_do_nothing())
        owner = conn.execute(
            select(TenantRecord.slug)
            .join(Domain, Domain.tenant_id == TenantRecord.id)
            .where(Domain.host == host)
        ).scalar_one()
        if owner != slug:
            raise TenancyError(f"domain {host!r} already belongs to tenant {owner!r}")
