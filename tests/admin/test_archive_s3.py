"""A tenant's export, restore and deletion when its files are in an S3 bucket: the archive
carries them, a restore puts them back under the new tenant's prefix, a deletion clears it."""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import replace

import pytest
from sqlalchemy import Engine, text

from motcua.admin.archive import (
    ArchiveError,
    delete_tenant,
    export_path,
    export_tenant,
    exports_dir,
    list_exports,
    restore_tenant,
    stored_exports,
)
from motcua.admin.export_store import export_key
from motcua.core.audit import Actor
from motcua.core.settings import S3Bucket, Settings
from motcua.dossiers.s3_storage import S3Storage
from motcua.dossiers.storage import NotFoundInTenantError
from motcua.tenancy.services import archive_tenant
from tests.conftest import MakeTenant, unique_slug

OPERATOR = Actor.operator("test")
FILES = [b"%PDF-1.4 giay khai sinh", b"\x89PNG anh can cuoc"]


async def test_export_restore_and_delete_carry_the_bucket_s_files(
    make_tenant: MakeTenant, engine: Engine, live_settings: Settings, s3_bucket: S3Bucket
) -> None:
    settings = replace(live_settings, storage="s3", s3=s3_bucket)
    bucket = S3Storage(s3_bucket)
    tenant = make_tenant()
    stored = [await bucket.put(tenant.schema, data, media_type="application/pdf") for data in FILES]

    path = export_tenant(engine, settings, tenant.slug, actor=OPERATOR)
    with tarfile.open(path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == {
        s.key.split("/", 1)[1]: hashlib.sha256(data).hexdigest()
        for s, data in zip(stored, FILES, strict=True)
    }

    copy = restore_tenant(engine, settings, path, unique_slug("s3r"), actor=OPERATOR)
    restored = {key async for key in bucket.keys(copy.schema)}
    assert restored == {f"{copy.schema}/{s.key.split('/', 1)[1]}" for s in stored}
    for s in stored:
        moved = f"{copy.schema}/{s.key.split('/', 1)[1]}"
        assert await bucket.checksum(copy.schema, moved) == s.sha256
    # Nothing went to the local folder.
    assert not (live_settings.data_dir / "files" / copy.schema).exists()

    archive_tenant(engine, copy.slug, actor=OPERATOR, reason="thử xoá")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE platform.tenants SET archived_at = now() - interval '31 days' WHERE slug = :s"),
            {"s": copy.slug},
        )
    delete_tenant(engine, settings, copy.slug, actor=OPERATOR, confirmation=copy.slug)
    assert [key async for key in bucket.keys(copy.schema)] == []
    # The source tenant's objects are untouched.
    assert {key async for key in bucket.keys(tenant.schema)} == {s.key for s in stored}
    with pytest.raises(NotFoundInTenantError):
        await bucket.open(copy.schema, f"{tenant.schema}/{stored[0].key.split('/', 1)[1]}")


async def test_an_export_is_kept_in_the_bucket_for_every_replica(
    make_tenant: MakeTenant, engine: Engine, live_settings: Settings, s3_bucket: S3Bucket
) -> None:
    """Made by one process, downloadable and restorable by another whose folder never saw it:
    the bucket holds it under the platform's own prefix, checked against its SHA-256."""
    settings = replace(live_settings, storage="s3", s3=s3_bucket)
    bucket = S3Storage(s3_bucket)
    tenant = make_tenant()
    await bucket.put(tenant.schema, FILES[0], media_type="application/pdf")
    path = export_tenant(engine, settings, tenant.slug, actor=OPERATOR)
    name = path.stem
    original = hashlib.sha256(path.read_bytes()).hexdigest()
    key = export_key(tenant.slug, name)
    head = bucket.client.head_object(Bucket=bucket.bucket, Key=key)
    assert head["Metadata"]["sha256"] == original

    # Another replica: the same settings, an empty exports folder of its own.
    other = replace(settings, data_dir=live_settings.data_dir / f"replica-{tenant.slug}")
    listed = {e.name: e for e in list_exports(engine, other, tenant.slug)}
    assert listed[name].on_disk and listed[name].status == "done"
    assert any(e.slug == tenant.slug and e.name == name for e in stored_exports(other))
    fetched = export_path(other, tenant.slug, name)
    assert fetched != path and hashlib.sha256(fetched.read_bytes()).hexdigest() == original
    copy = restore_tenant(engine, other, fetched, unique_slug("s3x"), actor=OPERATOR)
    assert [k async for k in bucket.keys(copy.schema)]

    # A copy changed in the bucket is refused, not served; an unknown name is simply not there.
    bucket.client.put_object(
        Bucket=bucket.bucket, Key=key, Body=b"not the export", Metadata={"sha256": original}
    )
    third = replace(settings, data_dir=live_settings.data_dir / f"third-{tenant.slug}")
    with pytest.raises(ArchiveError, match="Không đọc được"):
        export_path(third, tenant.slug, name)
    assert not (exports_dir(third) / tenant.slug / f"{name}.tar").exists()
    with pytest.raises(ArchiveError, match="Không có bản xuất này"):
        export_path(third, tenant.slug, "20260101-000000-abcdef")
