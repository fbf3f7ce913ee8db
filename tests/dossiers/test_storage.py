"""Document storage: generated keys, tenant confinement, no way out of the root, atomic writes.

The tests of the interface run against both backends: the local folder and an S3-compatible
bucket on the suite's local S3 server (tests/s3.py). Those about the disk itself (links, FIFOs,
permissions, fsync) are the filesystem's own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import socket
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from motcua.core.settings import S3Bucket, Settings
from motcua.dossiers.backends import storage_for_settings
from motcua.dossiers.s3_storage import S3Storage
from motcua.dossiers.storage import (
    CHUNK_SIZE,
    DIR_MODE,
    FILE_MODE,
    LocalStorage,
    NotFoundInTenantError,
    Storage,
    StorageError,
    StoredObject,
    UnsafePathError,
    new_key,
    parse_key,
)
from motcua.dossiers.uploads import validate_upload
from tests.s3 import S3Stand

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

KEY = re.compile(r"^t_hanoi/(\d{4})/(\d{2})/[0-9a-f]{32}$")
HEX = "0123456789abcdef" * 2
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def local(root: Path) -> LocalStorage:
    return LocalStorage(root)


Listing = Callable[[], list[str]]


@pytest.fixture(scope="module")
def s3(s3_server: S3Stand, s3_bucket: S3Bucket) -> tuple[S3Storage, S3Client]:
    # One of each per module: a boto3 client takes a second or two to make on a busy machine.
    return S3Storage(s3_bucket), s3_server.client(s3_bucket)


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest, root: Path) -> tuple[Storage, Listing]:
    """A backend, empty, and a way to list every object it holds (bypassing the interface)."""
    if request.param == "filesystem":
        return LocalStorage(root), lambda: [p.relative_to(root).as_posix() for p in files_under(root)]
    storage, client = request.getfixturevalue("s3")
    storage.chunk_size = CHUNK_SIZE
    for item in client.list_objects_v2(Bucket=storage.bucket).get("Contents", []):
        client.delete_object(Bucket=storage.bucket, Key=item["Key"])

    def listing() -> list[str]:
        return sorted(o["Key"] for o in client.list_objects_v2(Bucket=storage.bucket).get("Contents", []))

    return storage, listing


@pytest.fixture
def storage(backend: tuple[Storage, Listing]) -> Storage:
    return backend[0]


@pytest.fixture
def stored_keys(backend: tuple[Storage, Listing]) -> Listing:
    return backend[1]


async def read(storage: Storage, tenant: str, key: str) -> bytes:
    return b"".join([chunk async for chunk in await storage.open(tenant, key)])


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if not p.is_dir())


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.fixture
def umask_077() -> Iterator[None]:
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


# Round trip and keys


async def test_put_and_open_round_trip(storage: Storage, stored_keys: Listing) -> None:
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    assert isinstance(stored, StoredObject)
    now = datetime.now(UTC)
    match = KEY.match(stored.key)
    assert match is not None and match.groups() in {(f"{now:%Y}", f"{now:%m}")}
    assert stored.size == len(PDF)
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored.media_type == "application/pdf"
    assert await read(storage, "t_hanoi", stored.key) == PDF
    assert stored_keys() == [stored.key]
    # Recomputed from what the backend holds (for S3, the checksum the server kept).
    assert await storage.checksum("t_hanoi", stored.key) == stored.sha256


async def test_put_streams_an_async_iterable(storage: Storage) -> None:
    parts = chunks(b"%PDF", b"-1.4 ", b"", b"rest")
    stored = await storage.put("t_hanoi", parts, media_type="application/pdf")
    assert stored.size == len(b"%PDF-1.4 rest")
    assert stored.sha256 == hashlib.sha256(b"%PDF-1.4 rest").hexdigest()
    assert await read(storage, "t_hanoi", stored.key) == b"%PDF-1.4 rest"


async def test_open_yields_chunks(storage: LocalStorage | S3Storage) -> None:
    storage.chunk_size = 10
    stored = await storage.put("t_hanoi", b"x" * 25, media_type="image/png")
    sizes = [len(chunk) async for chunk in await storage.open("t_hanoi", stored.key)]
    assert sizes == [10, 10, 5]


async def test_keys_are_generated_and_never_reused(storage: Storage) -> None:
    keys = {(await storage.put("t_hanoi", b"same", media_type="image/png")).key for _ in range(20)}
    assert len(keys) == 20
    assert new_key("t_danang", datetime(2024, 5, 1, tzinfo=UTC)).startswith("t_danang/2024/05/")


async def test_the_user_file_name_never_reaches_the_key(storage: Storage, stored_keys: Listing) -> None:
    upload = await validate_upload(chunks(PDF), max_bytes=1024, filename="../../t_danang/2024/05/" + HEX)
    stored = await storage.put("t_hanoi", upload.data, media_type=upload.detected.media_type)
    assert KEY.match(stored.key)
    assert HEX not in stored.key and "t_danang" not in stored.key
    assert stored_keys() == [stored.key]


def test_the_storage_comes_from_settings(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    local = storage_for_settings(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalStorage) and local.root == tmp_path / "files"
    bucket = storage_for_settings(Settings(data_dir=tmp_path, storage="s3", s3=s3_bucket))
    assert isinstance(bucket, S3Storage) and bucket.bucket == s3_bucket.bucket
    # One client per bucket and process.
    assert storage_for_settings(Settings(storage="s3", s3=s3_bucket)) is bucket


def test_both_backends_satisfy_the_protocol(local: LocalStorage, s3: tuple[S3Storage, S3Client]) -> None:
    backends: list[Storage] = [local, s3[0]]
    assert all(isinstance(b, Storage) for b in backends)


# Tenant confinement


async def test_a_key_of_one_tenant_is_not_found_from_another(storage: Storage, stored_keys: Listing) -> None:
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    with pytest.raises(NotFoundInTenantError):
        await storage.open("t_danang", stored.key)
    with pytest.raises(NotFoundInTenantError):
        await storage.delete("t_danang", stored.key)
    with pytest.raises(NotFoundInTenantError):
        await storage.put_at("t_danang", stored.key, b"overwritten", media_type="text/plain")
    assert await storage.checksum("t_danang", stored.key) is None
    assert [key async for key in storage.keys("t_danang")] == []
    assert stored_keys() == [stored.key]
    assert await read(storage, "t_hanoi", stored.key) == PDF
    # A schema that is a prefix of another must not match either.
    with pytest.raises(NotFoundInTenantError):
        await storage.open("t_han", stored.key)


@pytest.mark.parametrize(
    "key",
    [
        f"t_hanoi/../t_danang/2024/05/{HEX}",
        f"t_hanoi/2024/05/../../../t_danang/2024/05/{HEX}",
        f"/t_hanoi/2024/05/{HEX}",
        "/etc/passwd",
        f"{{root}}/t_hanoi/2024/05/{HEX}",
        f"t_hanoi/2024/13/{HEX}",
        f"t_hanoi/2024/05/{HEX.upper()}",
        f"t_hanoi/2024/05/{HEX}/",
        f"t_hanoi//2024/05/{HEX}",
        f"t_hanoi/2024/05/{HEX}\n",
        f"t_hanoi/2024/05/{HEX}\x00",
        f"t_hanoi\\2024\\05\\{HEX}",
        f"t_hanoi/2024/05/.tmp-{HEX}",
        "t_hanoi",
        "",
    ],
)
async def test_malformed_and_traversal_keys_are_refused(
    storage: Storage, stored_keys: Listing, root: Path, key: str
) -> None:
    await storage.put("t_hanoi", PDF, media_type="application/pdf")
    key = key.replace("{root}", str(root))
    with pytest.raises(NotFoundInTenantError):
        await storage.open("t_hanoi", key)
    with pytest.raises(NotFoundInTenantError):
        await storage.delete("t_hanoi", key)
    with pytest.raises(NotFoundInTenantError):
        await storage.put_at("t_hanoi", key, b"x", media_type="text/plain")
    assert len(stored_keys()) == 1


@pytest.mark.parametrize("schema", ["platform", "../t_hanoi", "t_Hanoi", "t_hanoi/2024", "", "t_x"])
async def test_a_wrong_schema_is_a_programming_error(storage: Storage, schema: str) -> None:
    with pytest.raises(ValueError, match="not a tenant schema"):
        await storage.put(schema, PDF, media_type="application/pdf")
    with pytest.raises(ValueError, match="not a tenant schema"):
        await storage.open(schema, f"{schema}/2024/05/{HEX}")


async def test_a_missing_object_is_not_found_and_delete_is_idempotent(storage: Storage) -> None:
    with pytest.raises(NotFoundInTenantError):
        await storage.open("t_hanoi", f"t_hanoi/2024/05/{HEX}")  # no root folder yet
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    await storage.delete("t_hanoi", stored.key)
    await storage.delete("t_hanoi", stored.key)
    with pytest.raises(NotFoundInTenantError):
        await storage.open("t_hanoi", stored.key)
    assert await storage.checksum("t_hanoi", stored.key) is None


async def test_keys_lists_a_tenant_and_put_at_copies_under_a_key(
    storage: Storage, stored_keys: Listing
) -> None:
    first = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    second = await storage.put("t_hanoi", b"second", media_type="text/plain")
    await storage.put("t_danang", b"other tenant", media_type="text/plain")
    assert [key async for key in storage.keys("t_hanoi")] == sorted([first.key, second.key])
    key = f"t_hanoi/2024/05/{HEX}"
    copied = await storage.put_at("t_hanoi", key, chunks(b"co", b"py"), media_type="text/plain")
    assert copied.key == key and copied.size == 4 and copied.sha256 == hashlib.sha256(b"copy").hexdigest()
    assert await storage.checksum("t_hanoi", key) == copied.sha256
    # A second copy under the same key replaces the first.
    await storage.put_at("t_hanoi", key, b"again", media_type="text/plain")
    assert await read(storage, "t_hanoi", key) == b"again"
    assert len(stored_keys()) == 4
    # Purging a tenant (deleted, or a failed restore) leaves the others alone.
    await storage.purge("t_hanoi")
    await storage.purge("t_hanoi")
    assert [key async for key in storage.keys("t_hanoi")] == []
    assert [k.split("/")[0] for k in stored_keys()] == ["t_danang"]


async def test_the_bucket_keeps_our_checksum_and_failures_are_storage_errors(
    s3: tuple[S3Storage, S3Client], s3_bucket: S3Bucket
) -> None:
    storage, client = s3
    stored = await storage.put("t_hanoi", chunks(b"%PDF-1.4 ", b"ket qua"), media_type="application/pdf")
    head = client.head_object(Bucket=s3_bucket.bucket, Key=stored.key, ChecksumMode="ENABLED")
    # Sent with the upload, so the server checks the bytes it got and keeps the checksum.
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == stored.sha256
    assert head["Metadata"] == {"sha256": stored.sha256}
    assert head["ContentType"] == "application/pdf"

    missing = S3Storage(replace(s3_bucket, bucket="khong-co-bucket"), client=client)
    with pytest.raises(StorageError, match="NoSuchBucket") as refused:
        await missing.put("t_hanoi", PDF, media_type="application/pdf")
    assert not isinstance(refused.value, NotFoundInTenantError)
    with pytest.raises(StorageError):
        await missing.open("t_hanoi", stored.key)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = S3Storage(replace(s3_bucket, endpoint_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(StorageError, match="unreachable"):
        await unreachable.open("t_hanoi", stored.key)


def test_parse_key_returns_the_parts() -> None:
    assert parse_key("t_hanoi", f"t_hanoi/2024/05/{HEX}") == ("t_hanoi", "2024", "05", HEX)


# Nothing outside the root


async def test_a_symlink_planted_as_the_file_is_not_followed(
    local: LocalStorage, root: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("mật khẩu")
    stored = await local.put("t_hanoi", PDF, media_type="application/pdf")
    planted = (root / stored.key).parent / HEX
    planted.symlink_to(secret)
    key = stored.key.rsplit("/", 1)[0] + "/" + HEX
    with pytest.raises(UnsafePathError):
        await local.open("t_hanoi", key)
    await local.delete("t_hanoi", key)  # removes the link, never its target
    assert not planted.is_symlink()
    assert secret.read_text() == "mật khẩu"


def plant_tenant_link(root: Path, outside: Path) -> None:
    (outside / "2024" / "05").mkdir(parents=True)
    (outside / "2024" / "05" / HEX).write_bytes(b"not yours")
    root.mkdir()
    (root / "t_danang").symlink_to(outside, target_is_directory=True)


async def test_a_symlinked_tenant_folder_is_refused(root: Path, local: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    plant_tenant_link(root, outside)
    with pytest.raises(UnsafePathError):
        await local.open("t_danang", f"t_danang/2024/05/{HEX}")
    with pytest.raises(UnsafePathError):
        await local.put("t_danang", PDF, media_type="application/pdf")
    with pytest.raises(StorageError):
        await local.delete("t_danang", f"t_danang/2024/05/{HEX}")
    with pytest.raises(UnsafePathError):
        await local.purge("t_danang")
    assert files_under(outside) == [outside / "2024" / "05" / HEX]
    assert (outside / "2024" / "05" / HEX).read_bytes() == b"not yours"


async def test_a_symlinked_month_folder_is_refused(root: Path, local: LocalStorage, tmp_path: Path) -> None:
    other = root / "t_danang" / "2024" / "05"
    other.mkdir(parents=True)
    (other / HEX).write_bytes(b"da nang")
    (root / "t_hanoi" / "2024").mkdir(parents=True)
    (root / "t_hanoi" / "2024" / "05").symlink_to(other, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        await local.open("t_hanoi", f"t_hanoi/2024/05/{HEX}")


async def test_a_fifo_under_a_key_is_refused_without_hanging(local: LocalStorage, root: Path) -> None:
    stored = await local.put("t_hanoi", PDF, media_type="application/pdf")
    folder = (root / stored.key).parent
    os.mkfifo(folder / HEX)
    key = stored.key.rsplit("/", 1)[0] + "/" + HEX
    with pytest.raises(UnsafePathError):
        await asyncio.wait_for(local.open("t_hanoi", key), timeout=5)


async def test_an_operator_symlinked_root_is_fine(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    (tmp_path / "linked").symlink_to(volume, target_is_directory=True)
    local = LocalStorage(tmp_path / "linked")
    stored = await local.put("t_hanoi", PDF, media_type="application/pdf")
    assert (volume / stored.key).read_bytes() == PDF


# Atomic writes and permissions


async def test_a_failing_stream_leaves_no_file(storage: Storage, stored_keys: Listing) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"%PDF-1.4 first half"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.put("t_hanoi", broken(), media_type="application/pdf")
    assert stored_keys() == []


async def test_a_failing_rename_leaves_no_file(
    local: LocalStorage, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match="No space"):
        await local.put("t_hanoi", PDF, media_type="application/pdf")
    assert files_under(root) == []


async def test_a_failing_fsync_leaves_no_file(
    local: LocalStorage, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def io_error(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", io_error)
    with pytest.raises(OSError, match="Input/output"):
        await local.put("t_hanoi", PDF, media_type="application/pdf")
    assert files_under(root) == []


async def test_a_cancelled_write_leaves_no_file(storage: Storage, stored_keys: Listing) -> None:
    async def stalled() -> AsyncIterator[bytes]:
        yield b"%PDF-1.4 partial"
        await asyncio.Event().wait()
        yield b"never"

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(storage.put("t_hanoi", stalled(), media_type="application/pdf"), timeout=0.2)
    assert stored_keys() == []


async def test_the_final_name_appears_only_complete(
    local: LocalStorage, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    async def watched() -> AsyncIterator[bytes]:
        yield b"%PDF-1.4 "
        seen.append([p.name for p in files_under(root)])
        yield b"rest %%EOF"

    stored = await local.put("t_hanoi", watched(), media_type="application/pdf")
    # While writing, only a temporary name exists and it can never match a key.
    assert len(seen[0]) == 1 and seen[0][0].startswith(".tmp-")
    assert [p.name for p in files_under(root)] == [stored.key.rsplit("/", 1)[1]]


@pytest.mark.usefixtures("umask_077")
async def test_files_and_folders_get_fixed_permissions(local: LocalStorage, root: Path) -> None:
    stored = await local.put("t_hanoi", PDF, media_type="application/pdf")
    path = root / stored.key
    assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE == 0o640
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == DIR_MODE == 0o750
