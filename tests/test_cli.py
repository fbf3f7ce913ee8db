from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from motcua.cli import main
from motcua.core.settings import Settings
from tests.conftest import MakeTenant, unique_slug


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _tenant_count(engine: Engine, slug: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM platform.tenants WHERE slug = :s"), {"s": slug}).scalar()
            or 0
        )


def test_create_list_suspend_resume(live_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    slug = unique_slug("cli")
    code, out, err = run_cli(
        capsys,
        "tenants",
        "create",
        slug,
        "--name",
        "Tỉnh Dòng Lệnh",
        "--kind",
        "ministry",
        "--domain",
        f"dvc.{slug}.gov.vn",
    )
    assert (code, err) == (0, "")
    assert f"tenant {slug} is active" in out

    code, out, _ = run_cli(capsys, "tenants", "list", "--json")
    assert code == 0
    listed = {t["slug"]: t for t in json.loads(out)}
    assert listed[slug]["status"] == "active"
    assert listed[slug]["kind"] == "ministry"
    assert listed[slug]["name"] == "Tỉnh Dòng Lệnh"
    assert listed[slug]["domains"] == [f"{slug}.localhost", f"dvc.{slug}.gov.vn"]

    assert run_cli(capsys, "tenants", "suspend", slug)[1].strip() == f"tenant {slug} is suspended"
    code, out, _ = run_cli(capsys, "tenants", "list")
    assert code == 0
    assert any(line.startswith(slug) and "suspended" in line for line in out.splitlines())
    assert run_cli(capsys, "tenants", "resume", slug)[1].strip() == f"tenant {slug} is active"


def test_create_from_a_tenant_file(
    live_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slug = unique_slug("toml")
    source = tmp_path / "x.toml"
    source.write_text(
        'name = "Bộ Thử Nghiệm"\nkind = "ministry"\n[theme]\nname = "default"\nprimary = "#112233"\n'
        '[[procedures]]\ncode = "2.000488"\nname = "Cấp Phiếu lý lịch tư pháp"\nfield = "Lý lịch tư pháp"\n',
        encoding="utf-8",
    )
    code, out, err = run_cli(capsys, "tenants", "create", slug, "--from", str(source))
    assert (code, err) == (0, "")
    code, out, _ = run_cli(capsys, "tenants", "list", "--json")
    entry = next(t for t in json.loads(out) if t["slug"] == slug)
    assert entry["name"] == "Bộ Thử Nghiệm"
    assert entry["kind"] == "ministry"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tenants", "create", "admin", "--name", "X"], "reserved"),
        (["tenants", "create", "Bad_Slug", "--name", "X"], "invalid tenant slug"),
        (["tenants", "create", "noname"], "needs a name"),
        (["tenants", "create", "baddomain", "--name", "X", "--domain", "not a host"], "invalid domain"),
        (["tenants", "create", "fromnowhere", "--from", "/nonexistent/x.toml"], "tenant file not found"),
        (["tenants", "suspend", "nosuchtenant"], "no tenant with slug 'nosuchtenant'"),
        (["tenants", "resume", "nosuchtenant"], "no tenant with slug 'nosuchtenant'"),
    ],
)
def test_errors_print_one_line_and_leave_nothing_behind(
    live_settings: Settings, engine: Engine, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code != 0
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("motcua: error: ")
    assert message in lines[0]
    assert _tenant_count(engine, argv[2]) == 0


@pytest.mark.parametrize(
    "argv", [["tenants", "create", "x1", "--kind", "city"], ["run", "--port", "99999"], ["nothing"]]
)
def test_usage_errors_exit_2(
    live_settings: Settings, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert "error:" in err


def test_status_changes_are_idempotent(make_tenant: MakeTenant, capsys: pytest.CaptureFixture[str]) -> None:
    slug = make_tenant().slug
    # Resuming what is active, or suspending what is suspended, is a no-op, not an error.
    assert run_cli(capsys, "tenants", "resume", slug)[:2] == (0, f"tenant {slug} is active\n")
    run_cli(capsys, "tenants", "suspend", slug)
    assert run_cli(capsys, "tenants", "suspend", slug)[:2] == (0, f"tenant {slug} is suspended\n")


def test_production_without_settings_stops_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update({"MOTCUA_ENV": "production", "MOTCUA_DATA_DIR": str(tmp_path)})
    proc = subprocess.run(
        [sys.executable, "-m", "motcua.cli", "tenants", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == "motcua: error: MOTCUA_DATABASE_URL: required in production"
    assert not (tmp_path / "postgres").exists()  # nothing embedded was started


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(
        {
            "MOTCUA_DATA_DIR": str(tmp_path),
            "MOTCUA_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "MOTCUA_REDIS_URL": "redis://127.0.0.1:1/0",
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", "motcua.cli", "tenants", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("motcua: error: cannot reach the database")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_platform_sets_a_tenant_s_payments(
    make_tenant: MakeTenant, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = make_tenant()

    def stored() -> dict[str, object]:
        with engine.connect() as conn:
            value = conn.execute(
                text("SELECT settings->'payments' FROM platform.tenants WHERE id = :t"), {"t": tenant.id}
            ).scalar_one()
        return dict(value or {})

    code, out, err = run_cli(capsys, "tenants", "payments", tenant.slug, "--enable")
    assert code == 1 and "cần mã tài khoản Stripe" in err
    assert stored() == {}
    code, out, err = run_cli(capsys, "tenants", "payments", tenant.slug, "--platform-fee", "nhiều")
    assert code == 1 and "phí nền tảng phải là số đồng" in err
    code, out, err = run_cli(
        capsys,
        "tenants",
        "payments",
        tenant.slug,
        "--account",
        "acct_cli1",
        "--platform-fee",
        "1.500",
        "--enable",
    )
    assert (code, err) == (0, "")
    assert "takes online payments (account acct_cli1, platform fee 1500 VND)" in out
    assert stored() == {"enabled": True, "stripe_account": "acct_cli1", "platform_fee_vnd": 1500}
    code, out, _ = run_cli(capsys, "tenants", "payments", tenant.slug, "--disable")
    assert code == 0
    assert stored() == {"enabled": False, "stripe_account": "acct_cli1", "platform_fee_vnd": 1500}
    other = make_tenant()
    code, _, err = run_cli(capsys, "tenants", "payments", other.slug, "--account", "acct_cli1")
    assert code == 1 and "đang được một cổng dịch vụ công khác sử dụng" in err
    assert run_cli(capsys, "tenants", "payments", "khong-co", "--enable")[0] == 1
    assert run_cli(capsys, "tenants", "payments", tenant.slug, "--enable", "--disable")[0] == 2


def test_platform_administrators_are_added_and_removed(
    live_settings: Settings, capsys: pytest.CaptureFixture[str], engine: Engine
) -> None:
    pid = "001099000555"
    run_cli(capsys, "admins", "add", "001099000556")  # so that pid is not the last one
    assert run_cli(capsys, "admins", "add", pid)[1].strip() == f"{pid} is now a platform administrator"
    code, out, _ = run_cli(capsys, "admins", "remove", pid)
    assert code == 0 and out.strip() == f"{pid} is no longer a platform administrator"
    assert run_cli(capsys, "admins", "remove", pid)[1].strip() == f"{pid} is not a platform administrator"
    with engine.connect() as conn:
        actions = conn.execute(
            text(
                "SELECT action, actor FROM platform.audit_log WHERE detail->>'personal_id' = :p ORDER BY id"
            ),
            {"p": pid},
        ).all()
    assert [tuple(a) for a in actions] == [
        ("platform_admin.added", "operator:cli"),
        ("platform_admin.removed", "operator:cli"),
    ]
    code, _, err = run_cli(capsys, "admins", "remove", "12345")
    assert code != 0 and "12 digits" in err
