"""The ``motcua`` command.

Errors print one line (``motcua: error: …``) and exit non-zero; nothing half-made is left
(onboarding marks a tenant ``failed`` with its reason and can be re-run).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from motcua.core import startgate
from motcua.core.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:  # the commands import what they need when they run: `motcua --help` stays quick
    from sqlalchemy import Engine

    from motcua.core.audit import Actor
    from motcua.core.tenant import Tenant


def _operator(name: str = "cli") -> Actor:
    """Who acts when a command runs: the operator at the command line (or the demo seeding)."""
    from motcua.core.audit import Actor

    return Actor.operator(name)


class CommandError(Exception):
    pass


def _fail(message: str, code: int = 1) -> int:
    print(f"motcua: error: {message}", file=sys.stderr)
    return code


@contextmanager
def services(settings: Settings) -> Iterator[Settings]:
    """Settings with database and Redis URLs (the configured ones, or embedded servers), and the
    job broker set up: every command may change something whose events and jobs go through the
    outbox, and each event's subscribers are known only once the broker has loaded the actors."""
    from motcua.core.broker import setup_broker

    with _servers(settings) as live:
        setup_broker(live)
        yield live


@contextmanager
def _servers(settings: Settings) -> Iterator[Settings]:
    """Settings with database and Redis URLs: the configured ones, or embedded servers."""
    if settings.database_url and settings.redis_url:
        yield settings
        return
    if settings.is_production:  # settings already refuse this; keep the guard explicit
        raise CommandError("production needs MOTCUA_DATABASE_URL and MOTCUA_REDIS_URL")
    from motcua.core.db import sync_engine
    from motcua.core.embedded import EmbeddedServices
    from motcua.tenancy.migrate import migrate_platform

    embedded = EmbeddedServices(settings.data_dir)
    try:
        embedded.start()
        live = settings.with_urls(
            settings.database_url or embedded.database_url, settings.redis_url or embedded.redis_url
        )
        # An embedded database is ours: bring its platform schema up to date before any command.
        assert live.database_url
        engine = sync_engine(live.database_url, pool_size=0)
        try:
            migrate_platform(engine, live.root)
        finally:
            engine.dispose()
        yield live
    finally:
        embedded.stop()


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    assert settings.database_url and settings.redis_url
    env["MOTCUA_DATABASE_URL"] = settings.database_url
    env["MOTCUA_REDIS_URL"] = settings.redis_url
    env["MOTCUA_DATA_DIR"] = str(settings.data_dir)
    env["MOTCUA_ROOT"] = str(settings.root)
    env["MOTCUA_SECRET_KEY"] = settings.secret_key
    env["MOTCUA_PORT"] = str(settings.port)  # the development e-ID issuer URL carries the port
    return env


# Commands ------------------------------------------------------------------------------------
def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.tenancy.migrate import migrate_all

    def progress(done: int, total: int, schema: str) -> None:
        # About twenty lines however many tenants, so an operator sees a long run advance.
        if done == total or done % max(1, total // 20) == 0:
            print(f"  {done}/{total} tenant schemas migrated (last: {schema})", file=sys.stderr, flush=True)

    with services(settings) as live:
        report = migrate_all(live, progress=progress)
    print(
        f"platform at {report.platform_revision}; tenants: {len(report.at_head)} already at head, "
        f"{len(report.migrated)} migrated, {len(report.failed)} failed ({report.seconds:.2f}s)"
    )
    for schema, reason in sorted(report.failed.items()):
        print(f"  FAILED {schema}: {reason}", file=sys.stderr)
    return 0 if report.ok else 1


def _spec_for_create(settings: Settings, args: argparse.Namespace) -> Any:
    from motcua.admin.services import build_spec, spec_from_file
    from motcua.tenancy.services import validate_slug

    validate_slug(args.slug)
    overrides: dict[str, Any] = {
        "slug": args.slug,
        "name": args.name,
        "kind": args.kind,
        "domains": args.domain,
    }
    source: Path | None = Path(args.from_file) if args.from_file else None
    if source is None and (settings.tenants_dir / f"{args.slug}.toml").is_file():
        source = settings.tenants_dir / f"{args.slug}.toml"
    if source is not None:
        return spec_from_file(source, **overrides)
    return build_spec(
        slug=args.slug, name=args.name or "", kind=args.kind or "province", domains=args.domain or []
    )


def cmd_tenants_create(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.admin.services import onboard_tenant
    from motcua.core.broker import setup_broker
    from motcua.core.db import sync_engine
    from motcua.tenancy.migrate import migrate_platform

    spec = _spec_for_create(settings, args)  # validate everything before touching anything
    with services(settings) as live:
        setup_broker(live)
        assert live.database_url
        engine = sync_engine(live.database_url, pool_size=2)
        try:
            migrate_platform(engine, live.root)
            started = time.perf_counter()
            tenant = onboard_tenant(
                engine, live, spec, actor=_operator(), on_step=lambda step: print(f"  … {step}", flush=True)
            )
        finally:
            engine.dispose()
    print(
        f"tenant {tenant.slug} is {tenant.status} ({time.perf_counter() - started:.2f}s): "
        f"http://{tenant.slug}.{live.platform_domain}:{live.port}/"
    )
    return 0


def cmd_tenants_list(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.core.db import sync_engine
    from motcua.tenancy.services import list_tenants

    with services(settings) as live:
        assert live.database_url
        engine = sync_engine(live.database_url, pool_size=1)
        try:
            rows = list_tenants(engine, live.platform_domain)
        finally:
            engine.dispose()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no tenants")
        return 0
    width = max(len(r.slug) for r in rows)
    for r in rows:
        extra = (
            f"  [{r.onboarding_step or ''}{': ' + r.failure_reason if r.failure_reason else ''}]"
            if r.status in ("failed", "provisioning")
            else ""
        )
        print(f"{r.slug:<{width}}  {r.status:<12}  {r.kind:<8}  {r.name}  ({', '.join(r.domains)}){extra}")
    return 0


def _status_change(settings: Settings, slug: str, suspend: bool, reason: str | None = None) -> int:
    from motcua.core.db import sync_engine
    from motcua.tenancy.services import resume_tenant, suspend_tenant

    with services(settings) as live:
        assert live.database_url
        engine = sync_engine(live.database_url, pool_size=1)
        try:
            if suspend:
                tenant = suspend_tenant(engine, slug, actor=_operator(), reason=reason)
            else:
                tenant = resume_tenant(engine, slug, actor=_operator())
        finally:
            engine.dispose()
    print(f"tenant {tenant.slug} is {tenant.status}")
    return 0


def cmd_tenants_suspend(settings: Settings, args: argparse.Namespace) -> int:
    return _status_change(settings, args.slug, suspend=True, reason=args.reason)


def cmd_tenants_resume(settings: Settings, args: argparse.Namespace) -> int:
    return _status_change(settings, args.slug, suspend=False)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    with services(settings) as live:
        proc = subprocess.run(_worker_argv(args.processes, args.threads), env=_child_env(live), check=False)
    return proc.returncode


def cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.core.logging import configure_logging
    from motcua.core.scheduler import serve

    with services(settings) as live:
        configure_logging(live)
        startgate.wait_blocking()  # under `motcua run`: until its migrations and seeding are done
        return serve(live)


# `motcua run` starts its scheduler through the CLI, so both paths run the same code.
_SCHEDULER_ARGV = [sys.executable, "-m", "motcua.cli", "scheduler"]


def _worker_argv(processes: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dramatiq",
        "motcua.worker",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]


def seed_demo_tenants(live: Settings) -> list[str]:
    """Onboard every ``tenants/*.toml`` that is not live yet (re-runs finish half-done ones)."""
    from motcua.admin.services import onboard_tenant, spec_from_file
    from motcua.core.db import sync_engine
    from motcua.tenancy.services import get_tenant

    seeded = []
    assert live.database_url
    engine = sync_engine(live.database_url, pool_size=2)
    try:
        for path in sorted(live.tenants_dir.glob("*.toml")):
            spec = spec_from_file(path)
            current = get_tenant(engine, spec.slug)
            if current is not None and current.status in ("active", "suspended", "archived"):
                continue
            onboard_tenant(engine, live, spec, actor=_operator("seed"))
            seeded.append(spec.slug)
    finally:
        engine.dispose()
    return seeded


# The demo administrator of the development e-ID provider (motcua.dev.people), console access for `make run`.
DEMO_PLATFORM_ADMIN = "031075009876"


def _seed_demo_platform_admin(live: Settings) -> None:
    from motcua.core.db import sync_engine
    from motcua.identity.services import add_platform_admin

    assert live.database_url
    engine = sync_engine(live.database_url, pool_size=0)
    try:
        add_platform_admin(engine, DEMO_PLATFORM_ADMIN, actor=_operator("seed"))
    finally:
        engine.dispose()


def _enrol_national_portal(live: Settings, port: int) -> None:
    """The national-portal stand-in becomes an API client of each demo tenant, with a webhook
    subscription to its own receiver (kept between runs in the data folder)."""
    from motcua.dev.national_portal import enrol_demo_tenants

    slugs = [spec_slug(path) for path in sorted(live.tenants_dir.glob("*.toml"))]
    done = enrol_demo_tenants(live, slugs, base_url=f"http://localhost:{port}")
    if done:
        print(
            f"the national-portal stand-in is connected to {', '.join(done)}: http://localhost:{port}/dev/national-portal"
        )


def spec_slug(path: Path) -> str:
    from motcua.admin.services import load_tenant_file

    return str(load_tenant_file(path).get("slug") or path.stem)


@contextmanager
def _dev_mail_catcher(live: Settings) -> Iterator[str | None]:
    """The local SMTP catcher's URL while it runs, when development has no SMTP server."""
    from motcua.dev.mailcatcher import MailCatcherError, dev_mail_catcher

    with ExitStack() as stack:
        try:
            url = stack.enter_context(dev_mail_catcher(live))
        except MailCatcherError as exc:
            raise CommandError(str(exc)) from None
        yield url


@contextmanager
def _with_env(env: dict[str, str], provider: AbstractContextManager[dict[str, str]]) -> Iterator[None]:
    with provider as extra:
        env.update(extra)
        yield


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.core.broker import setup_broker
    from motcua.tenancy.migrate import migrate_all

    host = args.host or settings.host
    port = args.port or settings.port
    settings = replace(settings, port=port)
    with services(settings) as live, _dev_mail_catcher(live) as smtp_url, ExitStack() as stack:
        env = _child_env(live)
        if live.dev_services and not live.stripe_secret_key:
            # Payments work offline: the local Stripe stand-in with its test checkout page.
            from motcua.dev.stripe_standin import dev_payments

            assert live.database_url
            stack.enter_context(
                _with_env(env, dev_payments(live.database_url, f"http://127.0.0.1:{port}/webhooks/stripe"))
            )
            print(f"test payments go to the local Stripe stand-in at {env['MOTCUA_STRIPE_API_BASE']}")
        if smtp_url:  # mail goes to the catcher (.motcua/mail/), never to a real inbox
            env["MOTCUA_SMTP_URL"] = smtp_url
            print(f"development mail is caught at {smtp_url} and kept in {live.data_dir / 'mail'}")
        web = [
            sys.executable,
            "-m",
            "uvicorn",
            "motcua.app:create_app_from_env",
            "--factory",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(args.workers or live.web_workers),
            "--no-access-log",
            # The app decides who the client is (MOTCUA_TRUSTED_PROXIES, web.requests); uvicorn's
            # own handling would trust X-Forwarded-For from any local peer.
            "--no-proxy-headers",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "5",
        ]
        # The processes start now and import the application while the schemas are migrated
        # and the demo tenants seeded; each waits at the gate until that is done (core.startgate).
        gate = startgate.StartGate(live.data_dir)
        env.update(gate.env())
        children = [
            _Child("worker", _worker_argv(1, 2), env, restart=True),
            _Child("scheduler", _SCHEDULER_ARGV, env, restart=True),
            _Child("web", web, env, restart=False),
        ]
        for child in children:
            child.start()
        try:
            report = migrate_all(live)
            for schema, reason in report.failed.items():
                print(f"motcua: warning: migration of {schema} failed: {reason}", file=sys.stderr)
            setup_broker(live)
            # Demo tenants are for trying the product: never seeded into a production platform.
            if not args.no_seed and not live.is_production:
                seeded = seed_demo_tenants(live)
                if seeded:
                    print(f"demo tenants ready: {', '.join(seeded)}")
                if live.dev_services:
                    _seed_demo_platform_admin(live)
                    _enrol_national_portal(live, port)
        except BaseException:
            _stop_children(children)
            raise
        gate.open()
        if live.is_production:
            print(f"motcua is up on port {port} (console on admin.{live.platform_domain}).", flush=True)
        else:
            print(
                f"motcua is up: http://hanoi.{live.platform_domain}:{port}/ (also danang, botuphap; "
                f"console on http://admin.{live.platform_domain}:{port}/). Ctrl-C stops.",
                flush=True,
            )
        return _supervise(children)


# A dead worker or scheduler is started again after 1 s, 2 s, 4 s… (at most 30 s); one that had
# stayed up for a minute counts as healthy again, so its next death waits 1 s.
RESTART_FIRST_DELAY, RESTART_MAX_DELAY, RESTART_STABLE_AFTER = 1.0, 30.0, 60.0


@dataclass
class _Child:
    """A process of `motcua run`, in its own process group: Ctrl-C reaches only the supervisor,
    which then stops each child exactly once (a second signal makes Dramatiq kill its workers hard)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    restart: bool  # the worker and the scheduler are restarted; the web server's end stops everything
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0  # deaths in a row, each within RESTART_STABLE_AFTER of its start
    restart_at: float = 0.0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, env=self.env, process_group=0)
        self.started = time.monotonic()

    def ended(self) -> str | None:
        """How the child ended ("exit code 1", "signal SIGKILL"), None while it runs. What is left
        of its process group (Dramatiq's forked worker processes) is killed with it."""
        if self.proc is None or self.proc.poll() is None:
            return None
        proc, self.proc = self.proc, None
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        code = proc.returncode
        if code >= 0:
            return f"exit code {code}"
        return "signal " + next((s.name for s in signal.Signals if s.value == -code), str(-code))

    def schedule_restart(self, now: float) -> float:
        self.failures = 1 if now - self.started >= RESTART_STABLE_AFTER else self.failures + 1
        delay = min(RESTART_MAX_DELAY, RESTART_FIRST_DELAY * 2.0 ** (self.failures - 1))
        self.restart_at = now + delay
        return delay


def _supervise(children: list[_Child]) -> int:
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while not stopping:
        now = time.monotonic()
        for child in children:
            if child.proc is None:
                if now >= child.restart_at:
                    child.start()
            elif (how := child.ended()) is None:
                continue
            elif child.restart:
                delay = child.schedule_restart(now)
                print(
                    f"motcua: warning: the {child.name} process ended ({how}); restarting it in {delay:g} s",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                print(f"motcua: error: the {child.name} process ended ({how})", file=sys.stderr)
                stopping, code = True, 1
        time.sleep(0.2)
    _stop_children(children)
    return code


def _stop_children(children: list[_Child]) -> None:
    running = [c.proc for c in children if c.proc is not None and c.proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in running:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def cmd_admins_add(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.core.db import sync_engine
    from motcua.identity.services import add_platform_admin

    with services(settings) as live:
        assert live.database_url
        engine = sync_engine(live.database_url, pool_size=1)
        try:
            created = add_platform_admin(engine, args.personal_id, actor=_operator())
        finally:
            engine.dispose()
    print(f"{args.personal_id} is {'now' if created else 'already'} a platform administrator")
    return 0


def cmd_admins_remove(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.core.db import sync_engine
    from motcua.identity.services import remove_platform_admin

    with services(settings) as live:
        assert live.database_url
        engine = sync_engine(live.database_url, pool_size=1)
        try:
            removed = remove_platform_admin(engine, args.personal_id, actor=_operator())
        finally:
            engine.dispose()
    # Their open console sessions lose the console on their next request.
    print(f"{args.personal_id} is {'no longer' if removed else 'not'} a platform administrator")
    return 0


@contextmanager
def _tenant_engine(settings: Settings, slug: str) -> Iterator[tuple[Settings, Engine, Tenant]]:
    """The live settings, a blocking engine and the tenant ``slug`` (one clear line if no such
    tenant), for the commands that change one tenant."""
    from motcua.core.db import sync_engine
    from motcua.tenancy.services import TenancyError, get_tenant

    with services(settings) as live:
        assert live.database_url
        engine = sync_engine(live.database_url, pool_size=1)
        try:
            tenant = get_tenant(engine, slug)
            if tenant is None:
                raise TenancyError(f"no tenant with slug {slug!r}")
            yield live, engine, tenant
        finally:
            engine.dispose()


def cmd_backup_create(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.tenancy.backup import BackupError, create_backup

    with _servers(settings) as live:
        assert live.database_url
        try:
            made = create_backup(live.database_url, Path(args.file), prefer_path=live.is_production)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
    rows = sum(made.counts.platform.tables.values()) + sum(
        sum(t.tables.values()) for t in made.counts.tenants.values()
    )
    tenants = len(made.counts.tenants)
    print(f"backup written: {made.dump} ({tenants} tenants, {rows} rows); manifest {made.manifest}")
    return 0


def cmd_backup_verify(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.tenancy.backup import BackupError, verify_backup

    if not Path(args.file).is_file():  # before any server is started for nothing
        raise CommandError(f"{args.file}: no such file")
    with _servers(settings) as live:
        assert live.database_url
        try:
            result = verify_backup(
                live.database_url,
                Path(args.file),
                prefer_path=live.is_production,
                manifest=Path(args.manifest) if args.manifest else None,
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from None
    if not result.ok:
        for problem in result.problems:
            print(f"  {problem}", file=sys.stderr)
        return _fail(
            f"backup {args.file} does not match {result.expected_from}: {len(result.problems)} problems"
        )
    print(
        f"backup {args.file} restores and matches {result.expected_from}: platform and "
        f"{result.tenants} tenants, {result.tables} tables, {result.rows} rows"
    )
    return 0


def cmd_roles_grant(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.identity.schemas import RoleGrantCreate
    from motcua.identity.services import grant_role_sync

    grant = RoleGrantCreate.parse(args.personal_id, args.role)
    with _tenant_engine(settings, args.slug) as (_, engine, tenant):
        created = grant_role_sync(engine, tenant, grant, actor=_operator())
    print(f"{grant.personal_id} {'now has' if created else 'already had'} role {grant.role} in {args.slug}")
    return 0


def cmd_units_list(settings: Settings, args: argparse.Namespace) -> int:
    """The tenant's units, as /manage/units lists them: the tree, kind, agency code, status."""
    from sqlalchemy import text

    from motcua.core.db import search_path_sql
    from motcua.organisation.models import UnitKind

    with _tenant_engine(settings, args.slug) as (_, engine, tenant), engine.begin() as conn:
        conn.execute(text(search_path_sql(tenant.schema)))
        rows = conn.execute(
            text("SELECT id, parent_id, kind, name, agency_code, active FROM units ORDER BY position, name")
        ).all()
    children: dict[int | None, list[Any]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)

    def show(parent: int | None, depth: int) -> None:
        for row in children.get(parent, []):
            state = "" if row.active else "  (đã đóng)"
            print(f"{'  ' * depth}{row.agency_code}  {row.name}  [{UnitKind(row.kind).label}]{state}")
            show(row.id, depth + 1)

    show(None, 0)
    return 0


def cmd_units_seed(settings: Settings, args: argparse.Namespace) -> int:
    """Add the units a tenant starts with (for a tenant onboarded before units existed, or after
    the national list changed); those already there are kept."""
    from sqlalchemy import text

    from motcua.core.db import search_path_sql
    from motcua.organisation.seeding import seed_units_on, starting_units

    with _tenant_engine(settings, args.slug) as (_, engine, tenant):
        tenant_settings = dict(tenant.settings)
        if args.province:
            tenant_settings["locality"] = {"code": args.province}
        specs = starting_units(tenant.kind, tenant_settings)
        with engine.begin() as conn:
            conn.execute(text(search_path_sql(tenant.schema)))
            added = seed_units_on(conn, specs)
    print(f"{added} units added to {args.slug} ({len(specs) - added} already there)")
    return 0


def _province_code(value: str) -> str:
    from vietnam_provinces import Province

    codes = {f"{int(p.code):02d}" for p in Province.iter_all()}
    code = value.strip().zfill(2)
    if code not in codes:
        raise argparse.ArgumentTypeError(f"not a province code (one of {', '.join(sorted(codes))})")
    return code


def cmd_tenants_identity(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.identity.services import set_identity_setting

    # The secret never goes on the command line (it would show in `ps` and shell history).
    secret = os.environ.get("MOTCUA_TENANT_CLIENT_SECRET") or (
        sys.stdin.readline().strip() if args.client_secret_stdin else ""
    )
    if not secret:
        raise CommandError(
            "give the client secret in MOTCUA_TENANT_CLIENT_SECRET or with --client-secret-stdin"
        )
    with _tenant_engine(settings, args.slug) as (live, engine, tenant):
        set_identity_setting(
            engine,
            live,
            tenant,
            issuer=args.issuer,
            client_id=args.client_id,
            client_secret=secret,
            scopes=args.scopes,
            personal_id_claim=args.personal_id_claim,
            display_name=args.display_name,
            actor=_operator(),
        )
    print(f"tenant {args.slug} now logs in with {args.issuer}")
    return 0


def cmd_tenants_payments(settings: Settings, args: argparse.Namespace) -> int:
    """The platform's side of a tenant's payment settings: its connected account, whether it
    takes online payments, and the platform fee (which its own administrator cannot change)."""
    import asyncio

    from motcua.core.db import Database
    from motcua.payments.services import update_payment_settings
    from motcua.payments.settings import parse_payment_settings, payment_settings_of

    with _tenant_engine(settings, args.slug) as (live, _, tenant):
        # What is not given on the command line stays as it is.
        given = {
            "enabled": args.enabled,
            "stripe_account": args.account,
            "platform_fee_vnd": args.platform_fee,
        }
        current = payment_settings_of(tenant).as_json()
        wanted = parse_payment_settings({k: current[k] if v is None else v for k, v in given.items()})

        async def store() -> None:
            db = Database(live.database_url or "", pool_size=1)
            try:
                await update_payment_settings(db, tenant, wanted, actor=_operator())
            finally:
                await db.dispose()

        asyncio.run(store())
    state = "takes online payments" if wanted.online else "does not take online payments"
    print(
        f"tenant {args.slug} {state} (account {wanted.stripe_account or '-'}, "
        f"platform fee {wanted.platform_fee_vnd} VND)"
    )
    return 0


def cmd_tenants_archive(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.tenancy.services import archive_tenant

    with _tenant_engine(settings, args.slug) as (_, engine, _tenant):
        tenant = archive_tenant(engine, args.slug, actor=_operator(), reason=args.reason)
    print(f"tenant {tenant.slug} is {tenant.status}")
    return 0


def cmd_tenants_export(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.admin.archive import export_tenant

    with _tenant_engine(settings, args.slug) as (live, engine, _tenant):
        path = export_tenant(engine, live, args.slug, actor=_operator())
    print(path)
    return 0


def cmd_tenants_restore(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.admin.archive import restore_tenant
    from motcua.core.db import sync_engine

    archive = Path(args.file)
    if not archive.is_file():
        raise CommandError(f"no such export file: {archive}")
    with services(settings) as live:
        assert live.database_url
        # Two connections: one holds the slug's lock while the other restores.
        engine = sync_engine(live.database_url, pool_size=2)
        try:
            tenant = restore_tenant(engine, live, archive, args.slug, actor=_operator(), name=args.name)
        finally:
            engine.dispose()
    print(f"tenant {tenant.slug} is {tenant.status}")
    return 0


def cmd_tenants_delete(settings: Settings, args: argparse.Namespace) -> int:
    from motcua.admin.archive import delete_tenant

    with _tenant_engine(settings, args.slug) as (live, engine, _tenant):
        delete_tenant(engine, live, args.slug, actor=_operator(), confirmation=args.confirm)
    print(f"tenant {args.slug} is deleted")
    return 0


def _run_on_tenant(settings: Settings, slug: str, action: Any) -> Any:
    """Run ``await action(live, db, tenant)`` (an async settings action) for the tenant ``slug``."""
    import asyncio

    from motcua.core.db import Database

    with _tenant_engine(settings, slug) as (live, _, tenant):

        async def run() -> Any:
            db = Database(live.database_url or "", pool_size=1)
            try:
                return await action(live, db, tenant)
            finally:
                await db.dispose()

        return asyncio.run(run())


def cmd_tenants_domains(settings: Settings, args: argparse.Namespace) -> int:
    """Attach or detach a tenant's own domains, as the console's settings page does."""
    from motcua.admin.tenant_settings import add_domain, remove_domain

    if args.add:
        host = _run_on_tenant(
            settings,
            args.slug,
            lambda live, db, tenant: add_domain(db, live, tenant, args.add, actor=_operator()),
        )
        print(f"{host} now serves tenant {args.slug}")
    elif args.remove:
        host = _run_on_tenant(
            settings,
            args.slug,
            lambda live, db, tenant: remove_domain(db, tenant, args.remove, actor=_operator()),
        )
        print(f"{host} no longer serves tenant {args.slug}")
    else:
        from motcua.admin.tenant_settings import domains_of

        for host in _run_on_tenant(settings, args.slug, lambda live, db, tenant: domains_of(db, tenant)):
            print(host)
    return 0


def cmd_tenants_mail(settings: Settings, args: argparse.Namespace) -> int:
    """The sender of a tenant's notification emails; what is not given stays as it is."""
    from motcua.admin.tenant_settings import set_mail_sender
    from motcua.notifications.services import reply_to_for, sender_for

    async def change(live: Settings, db: Any, tenant: Tenant) -> tuple[str, str, str | None]:
        name, address = sender_for(live, tenant)
        reply_to = reply_to_for(tenant) or ""
        return await set_mail_sender(
            db,
            live,
            tenant,
            name=name if args.name is None else args.name,
            address=address if args.address is None else args.address,
            reply_to=reply_to if args.reply_to is None else args.reply_to,
            actor=_operator(),
        )

    name, address, reply_to = _run_on_tenant(settings, args.slug, change)
    print(f"tenant {args.slug} mails as {name} <{address}>, replies to {reply_to or '-'}")
    return 0


def cmd_storage_move(settings: Settings, args: argparse.Namespace) -> int:
    """Copy a tenant's files from the backend in use (MOTCUA_STORAGE) to ``--to``; the bucket
    is the one MOTCUA_S3_* name, whichever side it is on."""
    import asyncio

    from motcua.dossiers.backends import storage_named
    from motcua.dossiers.storage import StorageError
    from motcua.dossiers.storage_move import MoveReport, move_tenant_files

    if args.to == settings.storage:
        return _fail(
            f"MOTCUA_STORAGE is already {settings.storage}: files are copied from the backend in use "
            f"to the other one (run this before switching MOTCUA_STORAGE to {args.to})",
            2,
        )
    if settings.s3 is None:
        return _fail("MOTCUA_S3_BUCKET: required to move files to or from s3 (with MOTCUA_S3_*)", 2)
    source, target = storage_named(settings, settings.storage), storage_named(settings, args.to)
    with _tenant_engine(settings, args.tenant) as (_, _engine, tenant):
        schema = tenant.schema

    def progress(report: MoveReport) -> None:
        if report.seen % 500 == 0:
            print(f"  {report.seen} files checked", flush=True)

    try:
        report = asyncio.run(move_tenant_files(source, target, schema, progress=progress))
    except StorageError as exc:
        return _fail(f"{exc}; nothing is lost, run the move again once storage answers")
    print(
        f"{args.tenant}: {settings.storage} → {args.to}: {report.copied} copied "
        f"({report.bytes_copied} bytes), {report.skipped} already there, {len(report.failed)} failed"
    )
    if not report.ok:
        for key in report.failed:
            print(f"  checksum differs after copy: {key}", file=sys.stderr)
        return _fail(f"{len(report.failed)} files did not copy intact; run the move again")
    return 0


# Parser --------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motcua", description="Multi-tenant online public-service portals")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="start everything: embedded services, migrations, demo tenants, web, worker, scheduler"
    )
    run.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=_port, help="port to listen on (default 8000)")
    run.add_argument("--workers", type=_positive, help="web worker processes")
    run.add_argument("--no-seed", action="store_true", help="do not onboard the demo tenants")
    run.set_defaults(handler=cmd_run)

    sub.add_parser("migrate", help="upgrade the platform schema and every tenant schema").set_defaults(
        handler=cmd_migrate
    )

    worker = sub.add_parser("worker", help="run the job worker")
    worker.add_argument("--processes", type=_positive, default=1)
    worker.add_argument("--threads", type=_positive, default=4)
    worker.set_defaults(handler=cmd_worker)

    sub.add_parser(
        "scheduler", help="run the periodic job scheduler (safe to run more than one)"
    ).set_defaults(handler=cmd_scheduler)

    tenants = sub.add_parser("tenants", help="manage tenants").add_subparsers(
        dest="tenants_command", required=True, metavar="ACTION"
    )
    create = tenants.add_parser("create", help="onboard a tenant (re-run to finish a half-done one)")
    create.add_argument("slug")
    create.add_argument("--name")
    create.add_argument("--kind", choices=["province", "ministry"])
    create.add_argument("--domain", action="append", default=[], metavar="HOST")
    create.add_argument("--from", dest="from_file", metavar="TOML")
    create.set_defaults(handler=cmd_tenants_create)
    lst = tenants.add_parser("list", help="list tenants")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_tenants_list)
    for name, handler in (("suspend", cmd_tenants_suspend), ("resume", cmd_tenants_resume)):
        p = tenants.add_parser(name, help=f"{name} a tenant's portal")
        p.add_argument("slug")
        if name == "suspend":
            p.add_argument("--reason", help="shown to visitors on the portal's notice page")
        p.set_defaults(handler=handler)
    ident = tenants.add_parser(
        "identity", help="set a tenant's own e-ID provider (secret from the environment)"
    )
    ident.add_argument("slug")
    ident.add_argument("--issuer", required=True)
    ident.add_argument("--client-id", required=True)
    ident.add_argument("--client-secret-stdin", action="store_true")
    ident.add_argument("--scopes", default="openid profile email phone address personal_id")
    ident.add_argument("--personal-id-claim", default="personal_id")
    ident.add_argument("--display-name", default="VNeID")
    ident.set_defaults(handler=cmd_tenants_identity)
    pay = tenants.add_parser("payments", help="set a tenant's payment account, platform fee, on/off")
    pay.add_argument("slug")
    pay.add_argument("--account", metavar="ACCT", help="Stripe Connect account id (acct_…); '' removes it")
    pay.add_argument("--platform-fee", metavar="VND", help="platform fee per online payment, whole đồng")
    onoff = pay.add_mutually_exclusive_group()
    onoff.add_argument("--enable", dest="enabled", action="store_const", const=True, default=None)
    onoff.add_argument("--disable", dest="enabled", action="store_const", const=False)
    pay.set_defaults(handler=cmd_tenants_payments)
    doms = tenants.add_parser("domains", help="list, add or remove a tenant's own domains")
    doms.add_argument("slug")
    which = doms.add_mutually_exclusive_group()
    which.add_argument("--add", metavar="HOST")
    which.add_argument("--remove", metavar="HOST")
    doms.set_defaults(handler=cmd_tenants_domains)
    mail = tenants.add_parser("mail", help="set the sender of a tenant's notification emails")
    mail.add_argument("slug")
    mail.add_argument("--name", help="display name of the sender")
    mail.add_argument("--address", help="sending address (under the tenant's or the platform's domain)")
    mail.add_argument("--reply-to", help="where replies go; '' removes it")
    mail.set_defaults(handler=cmd_tenants_mail)
    archive = tenants.add_parser("archive", help="make a tenant's portal read-only (first step to delete)")
    archive.add_argument("slug")
    archive.add_argument("--reason", required=True, help="shown on every page of the portal")
    archive.set_defaults(handler=cmd_tenants_archive)
    export = tenants.add_parser("export", help="write a tenant's data and files to one archive file")
    export.add_argument("slug")
    export.set_defaults(handler=cmd_tenants_export)
    restore = tenants.add_parser("restore", help="make a new tenant from an export file")
    restore.add_argument("file", metavar="FILE")
    restore.add_argument("--slug", required=True, help="the new tenant's slug")
    restore.add_argument("--name", help="the new tenant's name (default: the exported one)")
    restore.set_defaults(handler=cmd_tenants_restore)
    delete = tenants.add_parser("delete", help="delete an archived tenant after its grace period")
    delete.add_argument("slug")
    delete.add_argument("--confirm", required=True, metavar="SLUG", help="the slug again, to confirm")
    delete.set_defaults(handler=cmd_tenants_delete)

    admins = sub.add_parser("admins", help="platform administrators").add_subparsers(
        dest="admins_command", required=True, metavar="ACTION"
    )
    add = admins.add_parser("add", help="make a personal ID a platform administrator")
    add.add_argument("personal_id")
    add.set_defaults(handler=cmd_admins_add)
    remove = admins.add_parser("remove", help="take the console away from a personal ID")
    remove.add_argument("personal_id")
    remove.set_defaults(handler=cmd_admins_remove)

    roles = sub.add_parser("roles", help="tenant roles").add_subparsers(
        dest="roles_command", required=True, metavar="ACTION"
    )
    grant = roles.add_parser("grant", help="grant officer or tenant_admin to a personal ID in a tenant")
    grant.add_argument("slug")
    grant.add_argument("personal_id")
    grant.add_argument("--role", required=True, choices=["officer", "tenant_admin"])
    grant.set_defaults(handler=cmd_roles_grant)

    units = sub.add_parser("units", help="a tenant's units (as /manage/units)").add_subparsers(
        dest="units_command", required=True, metavar="ACTION"
    )
    ulist = units.add_parser("list", help="the tree of a tenant's units with their agency codes")
    ulist.add_argument("slug")
    ulist.set_defaults(handler=cmd_units_list)
    useed = units.add_parser("seed", help="add the units a tenant starts with (kept if already there)")
    useed.add_argument("slug")
    useed.add_argument(
        "--province",
        type=_province_code,
        help="the province's two-digit code, when the tenant does not say it",
    )
    useed.set_defaults(handler=cmd_units_seed)

    backup = sub.add_parser("backup", help="whole-platform backups (docs/backup.md)").add_subparsers(
        dest="backup_command", required=True, metavar="ACTION"
    )
    bcreate = backup.add_parser("create", help="pg_dump the database, with a manifest of row counts")
    bcreate.add_argument("file", metavar="FILE", help="the dump (FILE.manifest.json is written beside it)")
    bcreate.set_defaults(handler=cmd_backup_create)
    bverify = backup.add_parser(
        "verify", help="restore a dump into a scratch database and check every tenant's row counts"
    )
    bverify.add_argument("file", metavar="FILE")
    bverify.add_argument(
        "--manifest", help="the counts to expect (default FILE.manifest.json; without one, the live database)"
    )
    bverify.set_defaults(handler=cmd_backup_verify)

    storage = sub.add_parser("storage", help="where files are kept (MOTCUA_STORAGE)").add_subparsers(
        dest="storage_command", required=True, metavar="ACTION"
    )
    move = storage.add_parser(
        "move", help="copy a tenant's files from the backend in use to the other, checking each checksum"
    )
    move.add_argument("--tenant", required=True, metavar="SLUG")
    move.add_argument("--to", required=True, choices=["s3", "filesystem"])
    move.set_defaults(handler=cmd_storage_move)
    return parser


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(raw: str) -> int:
    value = _positive(raw)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        return int(args.handler(settings, args))
    except SettingsError as exc:
        return _fail(str(exc), 2)
    except CommandError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from motcua.identity.schemas import IdentityInputError
        from motcua.payments.settings import PaymentSettingsError
        from motcua.tenancy.services import TenancyError

        if isinstance(exc, TenancyError | IdentityInputError | PaymentSettingsError):
            return _fail(str(exc))
        from sqlalchemy.exc import OperationalError, ProgrammingError

        if isinstance(exc, ProgrammingError) and "platform." in str(exc) and "does not exist" in str(exc):
            return _fail("the platform schema is not set up in this database: run `motcua migrate` first")
        if isinstance(exc, OperationalError):
            return _fail(f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}")
        raise


if __name__ == "__main__":
    sys.exit(main())
