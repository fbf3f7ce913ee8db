"""`motcua storage move`: a tenant's files copied between the filesystem and an S3 bucket, each
checksum verified, a second run copying nothing, and clear refusals."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from motcua.core.settings import S3Bucket, Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.s3_storage import S3Storage
from motcua.dossiers.storage import LocalStorage, Storage, StoredObject
from motcua.dossiers.storage_move import move_tenant_files
from tests.conftest import MakeTenant
from tests.s3 import s3_env
from tests.test_cli import run_cli

FILES = [b"%PDF-1.4 to khai", b"\x89PNG anh chup", b"x" * 200_000]


@pytest.fixture(scope="module")
def tenant(make_tenant_module: MakeTenant) -> Tenant:
    return make_tenant_module()


@pytest.fixture(scope="module")
def make_tenant_module(engine: Engine, live_settings: Settings) -> MakeTenant:
    from motcua.admin.services import build_spec, onboard_tenant
    from motcua.core.audit import Actor
    from tests.conftest import unique_slug

    def make() -> Tenant:
        slug = unique_slug("mv")
        spec = build_spec(slug=slug, name=f"Chuyển tệp {slug}", kind="province", domains=[], procedures=[])
        return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))

    return make


async def move(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    # The command runs its own event loop (asyncio.run), so not in the test's.
    return await asyncio.to_thread(run_cli, capsys, "storage", "move", *argv)


async def contents(storage: Storage, tenant: Tenant) -> dict[str, bytes]:
    found = {}
    async for key in storage.keys(tenant.schema):
        found[key] = b"".join([c async for c in await storage.open(tenant.schema, key)])
    return found


async def test_a_tenant_s_files_move_to_s3_and_back(
    live_settings: Settings,
    s3_bucket: S3Bucket,
    make_tenant_module: MakeTenant,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    local, bucket = LocalStorage.for_settings(live_settings), S3Storage(s3_bucket)
    tenant, other = make_tenant_module(), make_tenant_module()
    stored = [await local.put(tenant.schema, data, media_type="application/pdf") for data in FILES]
    await local.put(other.schema, b"another tenant's", media_type="text/plain")
    for name, value in s3_env(s3_bucket, backend="filesystem").items():
        monkeypatch.setenv(name, value)

    code, out, err = await move(capsys, "--tenant", tenant.slug, "--to", "s3")
    assert (code, err) == (0, "")
    assert f"{tenant.slug}: filesystem → s3: 3 copied ({sum(map(len, FILES))} bytes), 0 already there" in out
    moved = await contents(bucket, tenant)
    assert moved == {s.key: data for s, data in zip(stored, FILES, strict=True)}
    for s in stored:
        assert await bucket.checksum(tenant.schema, s.key) == s.sha256
    assert await contents(bucket, other) == {}  # only the tenant named moves

    # Again: nothing to copy. Then one object damaged in the bucket is copied anew.
    code, out, _ = await move(capsys, "--tenant", tenant.slug, "--to", "s3")
    assert code == 0 and "0 copied (0 bytes), 3 already there, 0 failed" in out
    await bucket.put_at(tenant.schema, stored[0].key, b"damaged", media_type="application/pdf")
    code, out, _ = await move(capsys, "--tenant", tenant.slug, "--to", "s3")
    assert code == 0 and f"1 copied ({len(FILES[0])} bytes), 2 already there" in out
    assert (await contents(bucket, tenant))[stored[0].key] == FILES[0]

    # Switched to S3, the bucket's files come back to a filesystem that lost them.
    monkeypatch.setenv("MOTCUA_STORAGE", "s3")
    extra = await bucket.put(tenant.schema, b"made after the switch", media_type="text/plain")
    await local.delete(tenant.schema, stored[1].key)
    code, out, _ = await move(capsys, "--tenant", tenant.slug, "--to", "filesystem")
    assert code == 0 and "s3 → filesystem: 2 copied" in out and "2 already there" in out
    assert await contents(local, tenant) == await contents(bucket, tenant)
    assert (await contents(local, tenant))[extra.key] == b"made after the switch"


@pytest.mark.parametrize(
    ("storage_env", "argv", "message"),
    [
        ("filesystem", ["--to", "filesystem"], "MOTCUA_STORAGE is already filesystem"),
        ("s3", ["--to", "s3"], "MOTCUA_STORAGE is already s3"),
        ("none", ["--to", "s3"], "MOTCUA_S3_BUCKET: required to move files"),
        ("filesystem", ["--to", "s3", "--tenant", "khong-co"], "no tenant with slug 'khong-co'"),
        ("no-bucket", ["--to", "filesystem"], "NoSuchBucket; nothing is lost, run the move again"),
    ],
)
def test_bad_arguments_are_one_clear_line(
    live_settings: Settings,
    s3_bucket: S3Bucket,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    storage_env: str,
    argv: list[str],
    message: str,
) -> None:
    if storage_env == "no-bucket":
        s3_bucket = replace(s3_bucket, bucket="khong-co-bucket")
        storage_env = "s3"
    if storage_env != "none":
        for name, value in s3_env(s3_bucket, backend=storage_env).items():
            monkeypatch.setenv(name, value)
    if "--tenant" not in argv:
        argv = [*argv, "--tenant", tenant.slug]
    code, out, err = run_cli(capsys, "storage", "move", *argv)
    assert code == (2 if "MOTCUA_" in message else 1)
    assert out == ""
    assert err.startswith("motcua: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_usage_errors_exit_2(live_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "storage", "move", "--tenant", "x", "--to", "ftp")
    assert code == 2 and "invalid choice: 'ftp'" in err
    code, _, err = run_cli(capsys, "storage", "move", "--to", "s3")
    assert code == 2 and "--tenant" in err


class Corrupting(LocalStorage):
    """A target whose writes lose a byte: the move must notice when it reads back."""

    async def put_at(
        self, tenant_schema: str, key: str, data: bytes | AsyncIterable[bytes], *, media_type: str
    ) -> StoredObject:
        async def damaged() -> AsyncIterator[bytes]:
            if isinstance(data, bytes):
                yield data[1:]
            else:
                first = True
                async for chunk in data:
                    yield chunk[1:] if first else chunk
                    first = False

        return await super().put_at(tenant_schema, key, damaged(), media_type=media_type)


async def test_a_copy_that_does_not_match_is_reported_failed(
    live_settings: Settings, s3_bucket: S3Bucket, tenant: Tenant
) -> None:
    bucket = S3Storage(s3_bucket)
    kept = await bucket.put(tenant.schema, b"%PDF-1.4 ban goc", media_type="application/pdf")
    target = Corrupting(live_settings.data_dir / "corrupting")
    report = await move_tenant_files(bucket, target, tenant.schema)
    assert report.failed == [kept.key] and report.copied == 0 and not report.ok
    assert await target.checksum(tenant.schema, kept.key) != hashlib.sha256(b"%PDF-1.4 ban goc").hexdigest()
