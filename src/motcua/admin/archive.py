"""A tenant's export, restore and deletion: the end of the lifecycle that onboarding starts.

An export is one tar file under ``<data_dir>/exports/<slug>/<name>.tar``::

    manifest.json        format, source slug, schema revision, rows and sha256 of every table
                         dump, size and sha256 of every file, sha256 of platform.json
    platform.json        the tenant's platform rows: name, kind, theme, branding, settings,
                         domains, its e-ID provider without the sealed secret
    data/<table>.copy    every table of the tenant schema, ``COPY … TO STDOUT`` (text format)
    files/<yyyy>/<mm>/<id>  the tenant's stored documents, under their storage keys

Every table of the schema is dumped, whatever its name, so a table added by a later migration
is carried without touching this module. A restore migrates a new schema to the archive's
revision, loads the dumps, fixes the sequences, then migrates to head: the same path every
schema takes. It all happens in one transaction (PostgreSQL DDL is transactional), and the files
are written before that transaction commits and removed if it does not, so a failed restore
leaves nothing of the new tenant behind.

Files are read and written through the storage in use (``dossiers.backends``: the folder or the
S3 bucket), so an export carries them and a restore puts them back wherever they are kept. These
functions block (they run in a worker thread, a job or the command line); each storage call runs
in a private event loop of its own (``_blocking``).

Errors are ``ArchiveError``: a Vietnamese msgid with ``%(name)s`` placeholders that the pages
translate, and ``str()`` of it is the filled-in sentence for the command line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import tarfile
import tempfile
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import IO, Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, delete, func, insert, select, text

from motcua.admin.export_store import (
    ExportStoreError,
    export_bucket,
    fetch_export,
    put_export,
    stored_in_bucket,
)
from motcua.core.audit import Actor, ActorKind, PlatformAudit
from motcua.core.outbox import relay_sync, write_sync
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.core.theming import VIETNAM
from motcua.dossiers.backends import storage_for_settings
from motcua.dossiers.storage import NotFoundInTenantError, Storage
from motcua.identity.models import IdentitySetting
from motcua.tenancy import events
from motcua.tenancy.backup import file_sha256
from motcua.tenancy.models import Domain, TenantFigures, TenantKind, TenantRecord, TenantStatus
from motcua.tenancy.services import (
    TENANTS,
    TenancyError,
    one_line,
    platform_audit,
    schema_for,
    to_tenant,
    validate_slug,
)

log = logging.getLogger(__name__)

FORMAT = "motcua-tenant-export"
FORMAT_VERSION = 1
NAME_MAX = 200
CHUNK = 1024 * 1024

_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
_EXPORT_NAME = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_FILE_KEY = re.compile(r"^[0-9]{4}/(0[1-9]|1[0-2])/[0-9a-f]{32}$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_REVISION = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# The job that makes an export, named like a subscriber (actor and queue): see admin.jobs.
EXPORT_JOB_ACTOR = "export_tenant"
EXPORT_JOB_QUEUE = "provisioning"

_EXPORT_ACTIONS = (
    "tenant.export_requested",
    "tenant.export_started",
    "tenant.exported",
    "tenant.export_failed",
)


def _(message: str) -> str:
    """Marks a Vietnamese msgid for extraction; the page that shows it translates it."""
    return message


class ArchiveError(TenancyError):
    """An archive, export, restore or delete was refused. ``message`` is a Vietnamese msgid with
    ``%(name)s`` placeholders filled from ``params``; ``field`` names the form field at fault
    (None when the tenant's state, not what was typed, is the reason)."""

    def __init__(self, message: str, *, field: str | None = None, **params: str | int) -> None:
        self.message = message
        self.params = params
        self.field = field
        super().__init__(message % params if params else message)

    def as_problem(self) -> dict[str, Any]:
        return {"message": self.message, "params": self.params}


def _vietnam(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")


def _ident(name: str) -> str:
    # Identifiers cannot be bound; every one used in SQL here is checked against a strict pattern.
    if not _IDENT.match(name):
        raise ArchiveError(_("Tên bảng hoặc cột không hợp lệ trong dữ liệu: %(name)s."), name=name[:70])
    return f'"{name}"'


def _tenant_row(conn: Connection, slug: str, *, lock: bool = False) -> Any:
    query = select(TENANTS).where(TENANTS.c.slug == slug)
    row = conn.execute(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise ArchiveError(_("Không có địa phương %(slug)s trên nền tảng."), slug=slug[:31])
    return row


def exports_dir(settings: Settings) -> Path:
    return settings.data_dir / "exports"


_T = TypeVar("_T")


def _blocking(work: Coroutine[Any, Any, _T]) -> _T:
    """Run a storage coroutine to its end from blocking code. A thread of its own with a fresh
    event loop works whether or not the calling thread already runs one (a request's worker
    thread does not, the test suite's does)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def new_export_name(now: datetime | None = None) -> str:
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{when:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def export_path(settings: Settings, slug: str, name: str) -> Path:
    """The stored export ``name`` of ``slug``; refuses anything that is not one."""
    if not _SLUG.match(slug) or not _EXPORT_NAME.match(name):
        raise ArchiveError(_("Không có bản xuất này."), field="archive")
    path = exports_dir(settings) / slug / f"{name}.tar"
    if path.is_symlink():
        raise ArchiveError(_("Không có bản xuất này."), field="archive")
    if not path.is_file():
        # Files in a bucket: the export may have been made by another replica.
        bucket = export_bucket(settings)
        try:
            found = bucket is not None and fetch_export(bucket, slug, name, path)
        except ExportStoreError as exc:
            log.error("export %s of %s: %s", name, slug, exc)
            message = _("Không đọc được bản xuất này lúc này, vui lòng thử lại sau.")
            raise ArchiveError(message, field="archive") from exc
        if not found:
            raise ArchiveError(_("Không có bản xuất này."), field="archive")
    return path


# Export --------------------------------------------------------------------------------------
def _add_member(tar: tarfile.TarFile, name: str, content: IO[bytes], size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o640
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, content)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> str:
    _add_member(tar, name, io.BytesIO(data), len(data))
    return hashlib.sha256(data).hexdigest()


def _add_spool(tar: tarfile.TarFile, name: str, spool: IO[bytes]) -> int:
    """A spooled member (its size is known only once it is written); returns the size."""
    size = spool.tell()
    spool.seek(0)
    _add_member(tar, name, spool, size)
    return size


def _tables(conn: Connection, schema: str) -> list[str]:
    return [
        str(name)
        for name in conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relkind = 'r' AND c.relname <> 'alembic_version' "
                "ORDER BY c.relname"
            ),
            {"s": schema},
        ).scalars()
    ]


def _columns(conn: Connection, schema: str, table: str) -> list[str]:
    # Generated columns are computed again on load; COPY cannot write them.
    return [
        str(name)
        for name in conn.execute(
            text(
                "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relname = :t AND a.attnum > 0 AND NOT a.attisdropped "
                "AND a.attgenerated = '' ORDER BY a.attnum"
            ),
            {"s": schema, "t": table},
        ).scalars()
    ]


def _driver(conn: Connection) -> Any:
    """The psycopg connection under ``conn``, for COPY (same transaction)."""
    return conn.connection.driver_connection


def _without_secrets(value: Any) -> Any:
    """Settings with anything sealed left out (a sealed value is of no use on another platform,
    and a backup must not carry secrets)."""
    if isinstance(value, dict):
        return {
            k: _without_secrets(v)
            for k, v in value.items()
            if not (str(k).endswith("_sealed") or "secret" in str(k))
        }
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def _platform_rows(conn: Connection, row: Any) -> dict[str, Any]:
    domains = list(
        conn.execute(select(Domain.host).where(Domain.tenant_id == row.id).order_by(Domain.host)).scalars()
    )
    identity = conn.execute(
        select(
            IdentitySetting.issuer,
            IdentitySetting.client_id,
            IdentitySetting.scopes,
            IdentitySetting.personal_id_claim,
            IdentitySetting.display_name,
        ).where(IdentitySetting.tenant_id == row.id)
    ).one_or_none()
    return {
        "slug": row.slug,
        "name": row.name,
        "kind": row.kind,
        "status": row.status,
        "status_reason": row.status_reason,
        "theme": row.theme,
        "branding": dict(row.branding or {}),
        "settings": _without_secrets(dict(row.settings or {})),
        "schema_version": row.schema_version,
        "created_at": row.created_at.isoformat(),
        "domains": domains,
        # Kept for the record; its client secret is sealed with this platform's key, so it is
        # left out, and a restored tenant signs in with the platform's issuer until set again.
        "identity": None if identity is None else dict(identity._mapping),
    }


def export_tenant(
    engine: Engine, settings: Settings, slug: str, *, actor: Actor, name: str | None = None
) -> Path:
    """Write one export of ``slug`` (any status) and return its path. The tables are read in one
    repeatable-read transaction, so the dumps agree with each other."""
    name = name or new_export_name()
    if not _EXPORT_NAME.match(name):
        raise ArchiveError(_("Không có bản xuất này."), field="archive")
    folder = exports_dir(settings) / slug
    with engine.connect() as conn:
        row = _tenant_row(conn, slug)
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    final = folder / f"{name}.tar"
    partial = folder / f".tmp-{name}-{uuid.uuid4().hex[:8]}.tar"
    try:
        manifest = _write_export(engine, settings, row, partial, name=name, actor=actor)
        sha256 = file_sha256(partial)
        partial.chmod(0o640)
        os.replace(partial, final)
        # Files in a bucket: the export goes there too, for every replica (admin/export_store).
        bucket = export_bucket(settings)
        if bucket is not None:
            put_export(bucket, slug, name, final, sha256)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    size = final.stat().st_size
    with engine.begin() as conn:
        platform_audit(
            conn,
            "tenant.exported",
            slug,
            actor=actor,
            export=name,
            size=size,
            sha256=sha256,
            revision=manifest["revision"],
            tables=len(manifest["tables"]),
            files=len(manifest["files"]),
        )
    return final


def _write_export(
    engine: Engine, settings: Settings, row: Any, target: Path, *, name: str, actor: Actor
) -> dict[str, Any]:
    schema = row.schema_name
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "slug": row.slug,
        "schema": schema,
        "created_at": datetime.now(UTC).isoformat(),
        "created_by": str(actor),
        "tables": {},
        "sequences": {},
        "files": {},
    }
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        conn.begin(),
        tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar,
    ):
        exists = conn.execute(
            text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"{schema}.alembic_version"}
        ).scalar_one()
        if not exists:
            raise ArchiveError(
                _("Địa phương %(slug)s chưa có dữ liệu để xuất (cơ sở dữ liệu chưa được tạo)."),
                slug=row.slug,
            )
        manifest["revision"] = conn.execute(
            text(f"SELECT version_num FROM {_ident(schema)}.alembic_version")
        ).scalar_one()
        platform = json.dumps(_platform_rows(conn, row), ensure_ascii=False, indent=1).encode()
        manifest["platform"] = {"path": "platform.json", "sha256": _add_bytes(tar, "platform.json", platform)}
        for table in _tables(conn, schema):
            columns = _columns(conn, schema, table)
            cols = ", ".join(_ident(c) for c in columns)
            digest, rows = hashlib.sha256(), 0
            with tempfile.TemporaryFile(dir=target.parent) as spool:
                with (
                    _driver(conn).cursor() as cur,
                    cur.copy(f"COPY {_ident(schema)}.{_ident(table)} ({cols}) TO STDOUT") as copy,
                ):
                    for chunk in copy:
                        data = bytes(chunk)
                        digest.update(data)
                        # Text format: one line per row (newlines inside values are escaped).
                        rows += data.count(b"\n")
                        spool.write(data)
                _add_spool(tar, f"data/{table}.copy", spool)
            manifest["tables"][table] = {
                "path": f"data/{table}.copy",
                "rows": rows,
                "sha256": digest.hexdigest(),
                "columns": columns,
            }
        for seq, value in conn.execute(
            text(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = :s "
                "ORDER BY sequencename"
            ),
            {"s": schema},
        ).all():
            manifest["sequences"][str(seq)] = None if value is None else int(value)
        manifest["files"] = _blocking(
            _export_files(storage_for_settings(settings), schema, tar, target.parent)
        )
        _add_bytes(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    return manifest


async def _export_files(
    storage: Storage, schema: str, tar: tarfile.TarFile, spool_dir: Path
) -> dict[str, Any]:
    """Every stored document of the tenant into ``files/<key without the schema>``; each is
    spooled first, because a tar member's size comes before its bytes. Blocking writes are fine
    here: this runs in ``_blocking``'s private loop."""
    files: dict[str, Any] = {}
    async for key in storage.keys(schema):
        name = key.split("/", 1)[1]
        try:
            chunks = await storage.open(schema, key)
        except NotFoundInTenantError:
            continue  # deleted since it was listed
        digest = hashlib.sha256()
        with tempfile.TemporaryFile(dir=spool_dir) as spool:
            async for chunk in chunks:
                digest.update(chunk)
                spool.write(chunk)
            size = _add_spool(tar, f"files/{name}", spool)
        files[name] = {"path": f"files/{name}", "size": size, "sha256": digest.hexdigest()}
    return files


# Export as a job, with its progress in the platform audit log ---------------------------------
def request_export(engine: Engine, slug: str, *, actor: Actor) -> str:
    """Queue an export of ``slug`` (after commit, through the outbox) and return its name."""
    name = new_export_name()
    with engine.begin() as conn:
        _tenant_row(conn, slug)
        platform_audit(conn, "tenant.export_requested", slug, actor=actor, export=name)
        # No ``tenant`` argument: the worker drops tenant jobs of archived tenants, and an
        # archived tenant is exactly the one whose data is exported.
        row = write_sync(
            conn,
            tenant=None,
            queue_name=EXPORT_JOB_QUEUE,
            actor_name=EXPORT_JOB_ACTOR,
            kwargs={
                "slug": slug,
                "export": name,
                "actor_kind": str(actor.kind),
                "actor_id": actor.id,
                "actor_address": actor.address,
            },
        )
    relay_sync(engine, [row])
    return name


def run_export(engine: Engine, settings: Settings, slug: str, name: str, *, actor: Actor) -> None:
    """The job's body: idempotent (a second delivery of a finished export does nothing), and a
    failure is recorded with its reason rather than retried (the person starts another)."""
    with engine.connect() as conn:
        finished = conn.execute(
            select(PlatformAudit.id).where(
                PlatformAudit.tenant_slug == slug,
                PlatformAudit.action.in_(("tenant.exported", "tenant.export_failed")),
                PlatformAudit.detail["export"].astext == name,
            )
        ).first()
    if finished is not None:
        return
    with engine.begin() as conn:
        platform_audit(conn, "tenant.export_started", slug, actor=actor, export=name)
    try:
        export_tenant(engine, settings, slug, actor=actor, name=name)
    except Exception as exc:
        log.exception("export %s of %s failed", name, slug)
        with engine.begin() as conn:
            platform_audit(conn, "tenant.export_failed", slug, actor=actor, export=name, reason=one_line(exc))


EXPORT_STATUS_LABELS = {
    "queued": _("Đang chờ"),
    "running": _("Đang xuất"),
    "done": _("Hoàn tất"),
    "failed": _("Không thành công"),
}


@dataclass
class ExportInfo:
    slug: str
    name: str
    status: str = "done"
    requested_at: datetime | None = None
    requested_by: str | None = None
    finished_at: datetime | None = None
    size: int | None = None
    sha256: str | None = None
    reason: str | None = None
    on_disk: bool = False

    @property
    def status_label(self) -> str:
        return EXPORT_STATUS_LABELS[self.status]


def list_exports(engine: Engine, settings: Settings, slug: str) -> list[ExportInfo]:
    """Every export of ``slug``, newest first: its progress from the audit log, and whether
    its file is here to download."""
    found: dict[str, ExportInfo] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(PlatformAudit.at, PlatformAudit.actor, PlatformAudit.action, PlatformAudit.detail)
            .where(PlatformAudit.tenant_slug == slug, PlatformAudit.action.in_(_EXPORT_ACTIONS))
            .order_by(PlatformAudit.id)
        ).all()
    for at, who, action, detail in rows:
        name = str((detail or {}).get("export") or "")
        if not _EXPORT_NAME.match(name):
            continue
        info = found.setdefault(name, ExportInfo(slug=slug, name=name, requested_at=at, requested_by=who))
        if action == "tenant.export_requested":
            info.status = "queued"
        elif action == "tenant.export_started":
            info.status = "running"
        elif action == "tenant.exported":
            info.status, info.finished_at = "done", at
            info.size, info.sha256 = detail.get("size"), detail.get("sha256")
        else:
            info.status, info.finished_at, info.reason = "failed", at, detail.get("reason")
    folder = exports_dir(settings) / slug
    if folder.is_dir():
        for path in folder.glob("*.tar"):
            name = path.stem
            if not _EXPORT_NAME.match(name) or path.is_symlink():
                continue
            info = found.setdefault(name, ExportInfo(slug=slug, name=name, size=path.stat().st_size))
            info.on_disk = True
    bucket = export_bucket(settings)
    if bucket is not None:
        for stored in stored_in_bucket(bucket, slug):
            if _EXPORT_NAME.match(stored.name) and stored.slug == slug:
                info = found.setdefault(
                    stored.name, ExportInfo(slug=slug, name=stored.name, size=stored.size)
                )
                info.on_disk = True
    return sorted(found.values(), key=lambda e: e.name, reverse=True)


def stored_exports(settings: Settings) -> list[ExportInfo]:
    """Every finished export stored on this platform (of any tenant, deleted ones too)."""
    root = exports_dir(settings)
    result: list[ExportInfo] = []
    bucket = export_bucket(settings)
    if bucket is not None:
        # The bucket holds every replica's exports; this process's folder is only a cache.
        for stored in stored_in_bucket(bucket):
            if _SLUG.match(stored.slug) and _EXPORT_NAME.match(stored.name):
                result.append(ExportInfo(slug=stored.slug, name=stored.name, size=stored.size, on_disk=True))
        result.sort(key=lambda e: e.name, reverse=True)  # newest first within a tenant, as below
        result.sort(key=lambda e: e.slug)
        return result
    if not root.is_dir():
        return result
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.is_symlink() or not _SLUG.match(folder.name):
            continue
        for path in sorted(folder.glob("*.tar"), reverse=True):
            if _EXPORT_NAME.match(path.stem) and not path.is_symlink():
                result.append(
                    ExportInfo(slug=folder.name, name=path.stem, size=path.stat().st_size, on_disk=True)
                )
    return result


# Reading and checking an archive ------------------------------------------------------------
@dataclass
class Archive:
    path: Path
    manifest: dict[str, Any]
    platform: dict[str, Any]
    members: dict[str, tarfile.TarInfo] = field(default_factory=dict)

    @property
    def revision(self) -> str:
        return str(self.manifest["revision"])


def _damaged(detail: str) -> ArchiveError:
    return ArchiveError(
        _("Bản xuất bị hỏng hoặc đã bị sửa (%(detail)s); không khôi phục từ bản này."),
        field="archive",
        detail=detail[:200],
    )


def _scan(tar: tarfile.TarFile) -> tuple[dict[str, tarfile.TarInfo], dict[str, str], Any, Any]:
    """Every member hashed, then the manifest and the platform rows read."""
    members: dict[str, tarfile.TarInfo] = {}
    hashes: dict[str, str] = {}
    for member in tar:
        if not member.isfile() or member.name in members:
            raise _damaged(f"mục lạ {member.name[:80]}")
        members[member.name] = member
        fh = tar.extractfile(member)
        assert fh is not None
        digest = hashlib.sha256()
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
        hashes[member.name] = digest.hexdigest()
    read: dict[str, Any] = {}
    for name in ("manifest.json", "platform.json"):
        listed = members.get(name)
        if listed is None or listed.size > 50 * 1024 * 1024:
            raise _damaged(f"thiếu {name}")
        fh = tar.extractfile(listed)
        assert fh is not None
        read[name] = json.loads(fh.read())
    return members, hashes, read["manifest.json"], read["platform.json"]


def read_archive(path: Path) -> Archive:
    """Open an export and check it whole: its manifest, that every member is listed there with
    the checksum it has, and that nothing else is in it."""
    try:
        with tarfile.open(path, "r:") as tar:
            members, hashes, manifest, platform = _scan(tar)
    except (OSError, tarfile.TarError, ValueError):
        raise _damaged("không đọc được tệp") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _damaged("không phải bản xuất của nền tảng")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise _damaged("phiên bản định dạng không hỗ trợ")
    if not isinstance(platform, dict):
        raise _damaged("platform.json")
    revision = manifest.get("revision")
    if not isinstance(revision, str) or not _REVISION.match(revision):
        raise _damaged("phiên bản cơ sở dữ liệu")
    expected: dict[str, str] = {}
    try:
        expected["platform.json"] = str(manifest["platform"]["sha256"])
        for table, entry in dict(manifest["tables"]).items():
            if not _IDENT.match(str(table)) or entry["path"] != f"data/{table}.copy":
                raise _damaged(f"bảng {str(table)[:60]}")
            if not all(_IDENT.match(str(c)) for c in entry["columns"]) or not isinstance(entry["rows"], int):
                raise _damaged(f"bảng {table}")
            expected[entry["path"]] = str(entry["sha256"])
        for key, entry in dict(manifest["files"]).items():
            if not _FILE_KEY.match(str(key)) or entry["path"] != f"files/{key}":
                raise _damaged(f"tệp {str(key)[:60]}")
            expected[entry["path"]] = str(entry["sha256"])
        for seq, value in dict(manifest["sequences"]).items():
            if not _IDENT.match(str(seq)) or not (value is None or isinstance(value, int)):
                raise _damaged(f"sequence {str(seq)[:60]}")
    except (KeyError, TypeError, AttributeError):
        raise _damaged("manifest.json") from None
    listed = set(expected) | {"manifest.json"}
    if set(members) != listed:
        odd = sorted(set(members) ^ listed)[0]
        raise _damaged(f"mục {odd[:80]} không khớp manifest")
    for member_name, sha in expected.items():
        if not _SHA256.match(sha) or hashes[member_name] != sha:
            raise _damaged(f"sai mã kiểm tra của {member_name[:80]}")
    return Archive(path=path, manifest=manifest, platform=platform, members=members)


# Restore -------------------------------------------------------------------------------------
def _alembic(root: Path, conn: Connection, schema: str) -> Config:
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = schema
    return cfg


def _known_tenant_revisions(root: Path) -> set[str]:
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
    script = ScriptDirectory.from_config(cfg)
    return {r.revision for r in script.iterate_revisions("tenant@head", "base")}


def restore_tenant(
    engine: Engine,
    settings: Settings,
    archive: Path,
    new_slug: str,
    *,
    actor: Actor,
    name: str | None = None,
) -> Tenant:
    """Make a new, active tenant ``new_slug`` from an export: all or nothing."""
    new_slug = new_slug.strip()
    try:
        validate_slug(new_slug)
    except TenancyError:
        raise ArchiveError(
            _(
                "Mã địa phương mới không hợp lệ: 2–31 ký tự gồm chữ thường không dấu, chữ số và "
                "dấu gạch ngang, bắt đầu bằng chữ cái, và không trùng tên dành riêng của nền tảng."
            ),
            field="slug",
        ) from None
    name = " ".join((name or "").split())
    if len(name) > NAME_MAX:
        raise ArchiveError(_("Tên địa phương dài tối đa 200 ký tự."), field="name")
    source = read_archive(archive)
    if source.revision not in _known_tenant_revisions(settings.root):
        raise ArchiveError(
            _(
                "Bản xuất được tạo từ phiên bản cơ sở dữ liệu %(revision)s mới hơn nền tảng này; "
                "hãy nâng cấp nền tảng rồi khôi phục lại."
            ),
            field="archive",
            revision=source.revision,
        )
    platform = source.platform
    name = name or " ".join(str(platform.get("name") or "").split())[:NAME_MAX] or new_slug
    kind = str(platform.get("kind") or TenantKind.PROVINCE)
    if kind not in {k.value for k in TenantKind}:
        raise _damaged("platform.json")
    theme = str(platform.get("theme") or "default")
    if not re.match(r"^[a-z][a-z0-9_-]{0,62}$", theme):
        theme = "default"
    schema = schema_for(new_slug)
    storage = storage_for_settings(settings)
    lock_key = f"onboard:{new_slug}"
    # The same lock as onboarding: a slug is never restored and onboarded at once.
    with engine.connect() as lock_conn:
        lock_conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": lock_key})
        try:
            with engine.connect() as conn:
                taken = conn.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM platform.tenants WHERE slug = :s OR schema_name = :n) "
                        "OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :n)"
                    ),
                    {"s": new_slug, "n": schema},
                ).scalar_one()
            if taken:
                raise ArchiveError(
                    _("Mã địa phương %(slug)s đã được dùng; chọn mã khác."), field="slug", slug=new_slug
                )
            # No tenant owns these files (checked above, under the lock): whatever is there is
            # left from a restore that crashed before it could clean up.
            _blocking(storage.purge(schema))
            try:
                tenant = _restore(
                    engine,
                    settings,
                    source,
                    new_slug,
                    schema,
                    storage,
                    name=name,
                    kind=kind,
                    theme=theme,
                    actor=actor,
                )
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    _blocking(storage.purge(schema))
                if isinstance(exc, Exception):
                    with engine.begin() as conn:
                        platform_audit(
                            conn,
                            "tenant.restore_failed",
                            new_slug,
                            actor=actor,
                            source=str(source.manifest.get("slug", ""))[:31],
                            export=str(source.manifest.get("name", ""))[:40],
                            reason=one_line(exc),
                        )
                if isinstance(exc, ArchiveError) or not isinstance(exc, Exception):
                    raise
                raise ArchiveError(
                    _("Không khôi phục được (%(reason)s); không có gì được tạo."), reason=one_line(exc)[:300]
                ) from exc
        finally:
            lock_conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": lock_key})
            lock_conn.commit()
    events.tenants_changed()
    return tenant


def _restore(
    engine: Engine,
    settings: Settings,
    source: Archive,
    slug: str,
    schema: str,
    storage: Storage,
    *,
    name: str,
    kind: str,
    theme: str,
    actor: Actor,
) -> Tenant:
    manifest = source.manifest
    tables: dict[str, Any] = manifest["tables"]
    old_schema = str(manifest.get("schema") or "")
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {_ident(schema)}"))
        command.upgrade(_alembic(settings.root, conn, schema), source.revision)
        present = set(_tables(conn, schema))
        missing = sorted(set(tables) - present)
        if missing:
            raise _damaged(f"bảng {missing[0]} không có ở phiên bản {source.revision}")
        # Migrations may seed rows; the archive holds them already, as they were.
        if present:
            conn.execute(text("TRUNCATE " + ", ".join(f"{_ident(schema)}.{_ident(t)}" for t in present)))
        with tarfile.open(source.path, "r:") as tar:
            for table in _load_order(conn, schema, list(tables)):
                entry = tables[table]
                cols = ", ".join(_ident(c) for c in entry["columns"])
                fh = tar.extractfile(source.members[entry["path"]])
                assert fh is not None
                with (
                    _driver(conn).cursor() as cur,
                    cur.copy(f"COPY {_ident(schema)}.{_ident(table)} ({cols}) FROM STDIN") as copy,
                ):
                    while chunk := fh.read(CHUNK):
                        copy.write(chunk)
            for seq, value in manifest["sequences"].items():
                if value is not None:
                    conn.execute(
                        text("SELECT setval(CAST(:q AS regclass), :v, true)"),
                        {"q": f"{_ident(schema)}.{_ident(seq)}", "v": value},
                    )
            if re.match(r"^t_[a-z][a-z0-9_]{1,30}$", old_schema):
                _rekey_files(conn, schema, old_schema)
            _blocking(_write_files(tar, source, storage, schema))
        command.upgrade(_alembic(settings.root, conn, schema), "tenant@head")
        version = conn.execute(text(f"SELECT version_num FROM {_ident(schema)}.alembic_version")).scalar_one()
        tenant_settings = _settings_for_restore(conn, dict(source.platform.get("settings") or {}))
        branding = source.platform.get("branding")
        row = conn.execute(
            insert(TenantRecord)
            .values(
                slug=slug,
                name=name,
                kind=kind,
                status=TenantStatus.ACTIVE,
                schema_name=schema,
                theme=theme,
                branding=branding if isinstance(branding, dict) else {},
                settings=tenant_settings,
                schema_version=version,
            )
            .returning(*TENANTS.c)
        ).one()
        platform_audit(
            conn,
            "tenant.restored",
            slug,
            actor=actor,
            source=str(manifest.get("slug", ""))[:31],
            export=str(manifest.get("name", ""))[:40],
            revision=source.revision,
            tables={t: e["rows"] for t, e in tables.items()},
            files=len(manifest["files"]),
        )
    return to_tenant(row)


def _load_order(conn: Connection, schema: str, tables: list[str]) -> list[str]:
    """Tables so that each comes after those its foreign keys point to."""
    graph: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in conn.execute(
        text(
            "SELECT c.relname, p.relname FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid "
            "JOIN pg_namespace n ON n.oid = k.connamespace WHERE k.contype = 'f' AND n.nspname = :s"
        ),
        {"s": schema},
    ).all():
        if child in graph and parent in graph and child != parent:
            graph[child].add(parent)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError:
        raise ArchiveError(_("Các bảng tham chiếu vòng tròn; không khôi phục được.")) from None


def _rekey_files(conn: Connection, schema: str, old_schema: str) -> None:
    """Storage keys start with the tenant's schema (dossiers.storage): the restored rows get
    the new schema's keys, in whichever text column holds them."""
    pattern = f"^{old_schema}/[0-9]{{4}}/(0[1-9]|1[0-2])/[0-9a-f]{{32}}$"
    columns = conn.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = :s AND data_type IN ('text', 'character varying') "
            "AND is_generated = 'NEVER'"
        ),
        {"s": schema},
    ).all()
    for table, column in columns:
        target = f"{_ident(schema)}.{_ident(table)}"
        col = _ident(column)
        holds = conn.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM {target} WHERE {col} ~ :p)"), {"p": pattern}
        ).scalar_one()
        if holds:
            conn.execute(
                text(f"UPDATE {target} SET {col} = :new || substr({col}, :cut) WHERE {col} ~ :p"),
                {"new": schema, "cut": len(old_schema) + 1, "p": pattern},
            )


async def _write_files(tar: tarfile.TarFile, source: Archive, storage: Storage, schema: str) -> None:
    for key, entry in source.manifest["files"].items():
        fh = tar.extractfile(source.members[entry["path"]])
        assert fh is not None

        async def chunks(member: IO[bytes] = fh) -> AsyncIterator[bytes]:
            while chunk := member.read(CHUNK):
                yield chunk

        # The key's schema is the new tenant's (as _rekey_files makes the rows say).
        stored = await storage.put_at(
            schema, f"{schema}/{key}", chunks(), media_type="application/octet-stream"
        )
        # Checked once already; checked again as written, in case the file changed since.
        if stored.sha256 != entry["sha256"]:
            raise _damaged(f"sai mã kiểm tra của {entry['path']}")


def _settings_for_restore(conn: Connection, tenant_settings: dict[str, Any]) -> dict[str, Any]:
    """The payment account belongs to one tenant only (platform index p0004): while another
    tenant holds it, the restored one starts without it, like without the custom domains."""
    payments = tenant_settings.get("payments")
    account = payments.get("stripe_account") if isinstance(payments, dict) else None
    if account:
        owner = conn.execute(
            text("SELECT slug FROM platform.tenants WHERE settings->'payments'->>'stripe_account' = :a"),
            {"a": account},
        ).scalar_one_or_none()
        if owner is not None:
            assert isinstance(payments, dict)
            tenant_settings["payments"] = {k: v for k, v in payments.items() if k != "stripe_account"}
    return tenant_settings


# Delete --------------------------------------------------------------------------------------
def deletable_from(settings: Settings, archived_at: datetime | None) -> datetime | None:
    if archived_at is None:
        return None
    return archived_at + timedelta(days=settings.tenant_delete_grace_days)


def delete_tenant(engine: Engine, settings: Settings, slug: str, *, actor: Actor, confirmation: str) -> None:
    """Delete an archived tenant for good once its grace period is over and ``confirmation`` is
    its slug, typed: its schema, files and platform rows. The platform audit log keeps its
    history (and any exports stay where they are, to restore from).

    The files go once the rows that point at them are gone (after the commit). Should that fail,
    they are only unreachable: no tenant owns the schema's prefix any more, and a later restore
    under the same slug clears it first."""
    with engine.begin() as conn:
        row = _tenant_row(conn, slug, lock=True)
        if row.status != TenantStatus.ARCHIVED:
            raise ArchiveError(
                _("Chỉ xoá được địa phương đã lưu trữ; hãy lưu trữ %(slug)s trước."), slug=slug
            )
        now = conn.execute(select(func.now())).scalar_one()
        allowed = deletable_from(settings, row.archived_at)
        if allowed is None or now < allowed:
            raise ArchiveError(
                _("Chưa hết thời gian chờ sau khi lưu trữ: có thể xoá từ %(when)s."),
                when=_vietnam(allowed or now),
            )
        if confirmation.strip() != slug:
            raise ArchiveError(
                _("Gõ đúng mã địa phương %(slug)s để xác nhận xoá."), field="confirmation", slug=slug
            )
        schema = row.schema_name
        conn.execute(text(f"DROP SCHEMA IF EXISTS {_ident(schema)} CASCADE"))
        conn.execute(delete(Domain).where(Domain.tenant_id == row.id))
        conn.execute(delete(IdentitySetting).where(IdentitySetting.tenant_id == row.id))
        conn.execute(delete(TenantFigures).where(TenantFigures.tenant_id == row.id))
        conn.execute(delete(TenantRecord).where(TenantRecord.id == row.id))
        platform_audit(
            conn,
            "tenant.deleted",
            slug,
            actor=actor,
            name=row.name,
            schema=schema,
            archived_at=row.archived_at.isoformat(),
        )
    try:
        _blocking(storage_for_settings(settings).purge(schema))
    except Exception:
        log.exception("tenant %s deleted, but its files under %s/ could not all be removed", slug, schema)
    events.tenants_changed()


def deletion_facts(engine: Engine, settings: Settings, slug: str) -> dict[str, Any]:
    """What the delete page says: the tenant, and from when it may be deleted."""
    with engine.connect() as conn:
        row = _tenant_row(conn, slug)
        now = conn.execute(select(func.now())).scalar_one()
    allowed = deletable_from(settings, row.archived_at) if row.status == TenantStatus.ARCHIVED else None
    return {
        "record": row,
        "deletable_from": allowed,
        "deletable": allowed is not None and now >= allowed,
    }


def tenant_record(engine: Engine, slug: str) -> Any:
    with engine.connect() as conn:
        return _tenant_row(conn, slug)


def actor_from_job(kind: str, ident: str, address: str | None) -> Actor:
    return Actor(kind=ActorKind(kind), id=ident, address=address)
