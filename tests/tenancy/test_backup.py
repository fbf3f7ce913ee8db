"""`motcua backup create|verify`: a dump of a platform with a demo tenant restores and matches
its manifest; a dump taken after one of the tenant's tables was emptied does not, and the
command names the tenant and the table."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from motcua.admin.services import onboard_tenant, spec_from_file
from motcua.cli import main
from motcua.core.audit import Actor
from motcua.core.db import sync_engine
from motcua.core.settings import Settings
from motcua.tenancy.backup import BackupError, dump_database, manifest_path, pg_tool
from motcua.tenancy.migrate import migrate_platform
from tests.conftest import unique_slug


@dataclass(frozen=True)
class Platform:
    settings: Settings
    slug: str
    schema: str


@pytest.fixture(scope="module")
def platform(live_settings: Settings) -> Iterator[Platform]:
    """A platform of its own (a database beside the suite's) with the Hà Nội demo tenant, so the
    dump holds what this test made and not every tenant of the test session."""
    assert live_settings.database_url and live_settings.redis_url
    name = f"motcua_bk_{uuid.uuid4().hex[:8]}"
    admin = sync_engine(live_settings.database_url, pool_size=0).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(live_settings.database_url).set(database=name).render_as_string(hide_password=False)
    settings = live_settings.with_urls(url, live_settings.redis_url)
    engine = sync_engine(url, pool_size=0)
    try:
        migrate_platform(engine, settings.root)
        spec = spec_from_file(settings.tenants_dir / "hanoi.toml", slug=unique_slug("bk"), domains=[])
        tenant = onboard_tenant(engine, settings, spec, actor=Actor.operator("test"))
        yield Platform(settings, tenant.slug, tenant.schema)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, platform: Platform, *argv: str
) -> tuple[int, str, str]:
    assert platform.settings.database_url
    monkeypatch.setenv("MOTCUA_DATABASE_URL", platform.settings.database_url)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_backup_verifies_and_a_truncated_table_is_named(
    platform: Platform,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = tmp_path / "platform.dump"
    code, out, err = run_cli(capsys, monkeypatch, platform, "backup", "create", str(good))
    assert (code, err) == (0, ""), err
    assert "backup written" in out
    manifest = json.loads(manifest_path(good).read_text(encoding="utf-8"))
    tables = manifest["tenants"][platform.slug]["tables"]
    assert manifest["tenants"][platform.slug]["schema"] == platform.schema
    assert tables["procedures"] > 0  # the demo catalogue was seeded
    assert manifest["platform"]["tables"]["tenants"] == 1

    code, out, err = run_cli(capsys, monkeypatch, platform, "backup", "verify", str(good))
    assert (code, err) == (0, ""), err
    assert "restores and matches manifest" in out and "1 tenants" in out

    # The live tenant loses a table's rows; a dump taken now differs from the first manifest.
    assert platform.settings.database_url
    engine = sync_engine(platform.settings.database_url, pool_size=0)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'TRUNCATE "{platform.schema}".procedures CASCADE'))
    finally:
        engine.dispose()
    emptied = tmp_path / "emptied.dump"
    dump_database(platform.settings.database_url, emptied, prefer_path=False)

    # Without a manifest the live database is the reference, and it agrees with this dump.
    code, out, err = run_cli(capsys, monkeypatch, platform, "backup", "verify", str(emptied))
    assert (code, err) == (0, ""), err
    assert "matches the live database" in out

    # With the manifest written before the truncation, the difference is named.
    shutil.copy(manifest_path(good), manifest_path(emptied))
    code, out, err = run_cli(capsys, monkeypatch, platform, "backup", "verify", str(emptied))
    assert code == 1
    assert f"tenant {platform.slug} ({platform.schema}): table procedures has 0 rows in the dump, " in err
    assert f"{tables['procedures']} expected" in err
    assert "does not match manifest" in err


def test_verify_refuses_a_file_that_is_no_dump(
    platform: Platform, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = tmp_path / "bogus.dump"
    bogus.write_bytes(b"not a dump")
    code, _, err = run_cli(capsys, monkeypatch, platform, "backup", "verify", str(bogus))
    assert code == 1
    assert "pg_restore failed" in err
    # The scratch database went with the failure.
    assert platform.settings.database_url
    engine = sync_engine(platform.settings.database_url, pool_size=0)
    try:
        with engine.connect() as conn:
            left = conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname LIKE 'motcua_verify_%'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert left == 0


def test_tools_of_the_servers_version_are_chosen_or_the_version_is_named() -> None:
    # Production looks on PATH first, development at the embedded server's own binaries; either
    # way a tool older than the server is never taken (pg_dump refuses a newer server).
    for prefer_path in (True, False):
        tool = pg_tool("pg_dump", 16, prefer_path=prefer_path)
        version = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
        assert " 16." in version
    with pytest.raises(BackupError, match=r"pg_restore 99 or newer is needed"):
        pg_tool("pg_restore", 99, prefer_path=True)
