"""Local document storage: generated keys, tenant confinement, no way out of the root, atomic writes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from motcua.core.settings import Settings
from motcua.dossiers.storage import (
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

KEY = re.compile(r"^t_hanoi/(\d{4})/(\d{2})/[0-9a-f]{32}$")
HEX = "0123456789abcdef" * 2
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage(root)


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


async def test_put_and_open_round_trip(storage: LocalStorage, root: Path) -> None:
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    assert isinstance(stored, StoredObject)
    now = datetime.now(UTC)
    match = KEY.match(stored.key)
    assert match is not None and match.groups() in {(f"{now:%Y}", f"{now:%m}")}
    assert stored.size == len(PDF)
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored.media_type == "application/pdf"
    assert await read(storage, "t_hanoi", stored.key) == PDF
    assert (root / stored.key).read_bytes() == PDF


async def test_put_streams_an_async_iterable(storage: LocalStorage) -> None:
    parts = chunks(b"%PDF", b"-1.4 ", b"", b"rest")
    stored = await storage.put("t_hanoi", parts, media_type="application/pdf")
    assert stored.size == len(b"%PDF-1.4 rest")
    assert stored.sha256 == hashlib.sha256(b"%PDF-1.4 rest").hexdigest()
    assert await read(storage, "t_hanoi", stored.key) == b"%PDF-1.4 rest"


async def test_open_yields_chunks(root: Path) -> None:
    storage = LocalStorage(root, chunk_size=10)
    stored = await storage.put("t_hanoi", b"x" * 25, media_type="image/png")
    sizes = [len(chunk) async for chunk in await storage.open("t_hanoi", stored.key)]
    assert sizes == [10, 10, 5]


async def test_keys_are_generated_and_never_reused(storage: LocalStorage) -> None:
    keys = {(await storage.put("t_hanoi", b"same", media_type="image/png")).key for _ in range(20)}
    assert len(keys) == 20
    assert new_key("t_danang", datetime(2024, 5, 1, tzinfo=UTC)).startswith("t_danang/2024/05/")


async def test_the_user_file_name_never_reaches_the_key(storage: LocalStorage, root: Path) -> None:
    upload = await validate_upload(chunks(PDF), max_bytes=1024, filename="../../t_danang/2024/05/" + HEX)
    stored = await storage.put("t_hanoi", upload.data, media_type=upload.detected.media_type)
    assert KEY.match(stored.key)
    assert HEX not in stored.key and "t_danang" not in stored.key
    assert [p.relative_to(root).parts[0] for p in files_under(root)] == ["t_hanoi"]


def test_storage_root_comes_from_settings(tmp_path: Path) -> None:
    assert LocalStorage.for_settings(Settings(data_dir=tmp_path)).root == tmp_path / "files"


def test_local_storage_satisfies_the_protocol(storage: LocalStorage) -> None:
    backend: Storage = storage
    assert backend is storage


# Tenant confinement


async def test_a_key_of_one_tenant_is_not_found_from_another(storage: LocalStorage, root: Path) -> None:
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    with pytest.raises(NotFoundInTenantError):
        await storage.open("t_danang", stored.key)
    with pytest.raises(NotFoundInTenantError):
        await storage.delete("t_danang", stored.key)
    assert (root / stored.key).exists()
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
async def test_malformed_and_traversal_keys_are_refused(storage: LocalStorage, root: Path, key: str) -> None:
    await storage.put("t_hanoi", PDF, media_type="application/pdf")
    key = key.replace("{root}", str(root))
    with pytest.raises(NotFoundInTenantError):
        await storage.open("t_hanoi", key)
    with pytest.raises(NotFoundInTenantError):
        await storage.delete("t_hanoi", key)
    assert len(files_under(root)) == 1


@pytest.mark.parametrize("schema", ["platform", "../t_hanoi", "t_Hanoi", "t_hanoi/2024", "", "t_x"])
async def test_a_wrong_schema_is_a_programming_error(storage: LocalStorage, schema: str) -> None:
    with pytest.raises(ValueError, match="not a tenant schema"):
        await storage.put(schema, PDF, media_type="application/pdf")
    with pytest.raises(ValueError, match="not a tenant schema"):
        await storage.open(schema, f"{schema}/2024/05/{HEX}")


async def test_a_missing_object_is_not_found_and_delete_is_idempotent(storage: LocalStorage) -> None:
    with pytest.raises(NotFoundInTenantError):
        await storage.open("t_hanoi", f"t_hanoi/2024/05/{HEX}")  # no root folder yet
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    await storage.delete("t_hanoi", stored.key)
    await storage.delete("t_hanoi", stored.key)
    with pytest.raises(NotFoundInTenantError):
        await storage.open("t_hanoi", stored.key)


def test_parse_key_returns_the_parts() -> None:
    assert parse_key("t_hanoi", f"t_hanoi/2024/05/{HEX}") == ("t_hanoi", "2024", "05", HEX)


# Nothing outside the root


async def test_a_symlink_planted_as_the_file_is_not_followed(
    storage: LocalStorage, root: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("mật khẩu")
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    planted = (root / stored.key).parent / HEX
    planted.symlink_to(secret)
    key = stored.key.rsplit("/", 1)[0] + "/" + HEX
    with pytest.raises(UnsafePathError):
        await storage.open("t_hanoi", key)
    await storage.delete("t_hanoi", key)  # removes the link, never its target
    assert not planted.is_symlink()
    assert secret.read_text() == "mật khẩu"


def plant_tenant_link(root: Path, outside: Path) -> None:
    (outside / "2024" / "05").mkdir(parents=True)
    (outside / "2024" / "05" / HEX).write_bytes(b"not yours")
    root.mkdir()
    (root / "t_danang").symlink_to(outside, target_is_directory=True)


async def test_a_symlinked_tenant_folder_is_refused(
    root: Path, storage: LocalStorage, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    plant_tenant_link(root, outside)
    with pytest.raises(UnsafePathError):
        await storage.open("t_danang", f"t_danang/2024/05/{HEX}")
    with pytest.raises(UnsafePathError):
        await storage.put("t_danang", PDF, media_type="application/pdf")
    with pytest.raises(StorageError):
        await storage.delete("t_danang", f"t_danang/2024/05/{HEX}")
    assert files_under(outside) == [outside / "2024" / "05" / HEX]
    assert (outside / "2024" / "05" / HEX).read_bytes() == b"not yours"


async def test_a_symlinked_month_folder_is_refused(root: Path, storage: LocalStorage, tmp_path: Path) -> None:
    other = root / "t_danang" / "2024" / "05"
    other.mkdir(parents=True)
    (other / HEX).write_bytes(b"da nang")
    (root / "t_hanoi" / "2024").mkdir(parents=True)
    (root / "t_hanoi" / "2024" / "05").symlink_to(other, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        await storage.open("t_hanoi", f"t_hanoi/2024/05/{HEX}")


async def test_a_fifo_under_a_key_is_refused_without_hanging(storage: LocalStorage, root: Path) -> None:
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    folder = (root / stored.key).parent
    os.mkfifo(folder / HEX)
    key = stored.key.rsplit("/", 1)[0] + "/" + HEX
    with pytest.raises(UnsafePathError):
        await asyncio.wait_for(storage.open("t_hanoi", key), timeout=5)


async def test_an_operator_symlinked_root_is_fine(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    (tmp_path / "linked").symlink_to(volume, target_is_directory=True)
    storage = LocalStorage(tmp_path / "linked")
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    assert (volume / stored.key).read_bytes() == PDF


# Atomic writes and permissions


async def test_a_failing_stream_leaves_no_file(storage: LocalStorage, root: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"%PDF-1.4 first half"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.put("t_hanoi", broken(), media_type="application/pdf")
    assert files_under(root) == []


async def test_a_failing_rename_leaves_no_file(
    storage: LocalStorage, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match="No space"):
        await storage.put("t_hanoi", PDF, media_type="application/pdf")
    assert files_under(root) == []


async def test_a_failing_fsync_leaves_no_file(
    storage: LocalStorage, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def io_error(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", io_error)
    with pytest.raises(OSError, match="Input/output"):
        await storage.put("t_hanoi", PDF, media_type="application/pdf")
    assert files_under(root) == []


async def test_a_cancelled_write_leaves_no_file(storage: LocalStorage, root: Path) -> None:
    async def stalled() -> AsyncIterator[bytes]:
        yield b"%PDF-1.4 partial"
        await asyncio.Event().wait()
        yield b"never"

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(storage.put("t_hanoi", stalled(), media_type="application/pdf"), timeout=0.2)
    assert files_under(root) == []


async def test_the_final_name_appears_only_complete(
    storage: LocalStorage, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    async def watched() -> AsyncIterator[bytes]:
        yield b"%PDF-1.4 "
        seen.append([p.name for p in files_under(root)])
        yield b"rest %%EOF"

    stored = await storage.put("t_hanoi", watched(), media_type="application/pdf")
    # While writing, only a temporary name exists and it can never match a key.
    assert len(seen[0]) == 1 and seen[0][0].startswith(".tmp-")
    assert [p.name for p in files_under(root)] == [stored.key.rsplit("/", 1)[1]]


@pytest.mark.usefixtures("umask_077")
async def test_files_and_folders_get_fixed_permissions(storage: LocalStorage, root: Path) -> None:
    stored = await storage.put("t_hanoi", PDF, media_type="application/pdf")
    path = root / stored.key
    assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE == 0o640
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == DIR_MODE == 0o750
