from __future__ import annotations

import socket
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest

from motcua.cli import CommandError, _dev_mail_catcher
from motcua.core.settings import Settings, SmtpServer, load_settings
from motcua.dev.mailcatcher import (
    MailCatcher,
    MailCatcherError,
    dev_mail_catcher,
    get_message,
    list_messages,
    mail_dir,
    start_mail_catcher,
)
from motcua.notifications.mailer import OutgoingEmail, send_email


def dev_settings(tmp_path: Path, **changes: object) -> Settings:
    return replace(Settings(env="development", data_dir=tmp_path, dev_services=True), **changes)  # type: ignore[arg-type]


def mail(n: int, **overrides: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "sender_address": "no-reply@hanoi.example.vn",
        "sender_name": "Cổng DVC Hà Nội",
        "to": ("an.nguyen@example.vn",),
        "subject": f"Hồ sơ H26-{n:04d} cần bổ sung, hoàn thiện",
        "text": f"Kính gửi Ông/Bà Nguyễn Văn An,\n\nHồ sơ H26-{n:04d} cần bổ sung.\n",
        "idempotency_key": f"hanoi:dossier:{n}:supplement",
    }
    values.update(overrides)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


async def test_the_catcher_keeps_and_lists_what_it_receives(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path)
    catcher = start_mail_catcher(settings, port=0)
    try:
        assert catcher.running and catcher.url.startswith("smtp://127.0.0.1:")
        # Senders reach it the way the children of `motcua run` do: through MOTCUA_SMTP_URL.
        sender = load_settings(
            {"MOTCUA_ENV": "test", "MOTCUA_DATA_DIR": str(tmp_path), "MOTCUA_SMTP_URL": catcher.url}
        )
        await send_email(sender, mail(1))
        await send_email(
            sender, mail(2, to=("an.nguyen@example.vn", "bi.tran@example.vn"), html="<p>Hồ sơ H26-0002</p>")
        )
    finally:
        catcher.stop()
    assert not catcher.running

    newest, oldest = list_messages(settings)
    assert oldest.subject == "Hồ sơ H26-0001 cần bổ sung, hoàn thiện"
    assert oldest.sender == "Cổng DVC Hà Nội <no-reply@hanoi.example.vn>"
    assert oldest.to == "an.nguyen@example.vn"
    assert oldest.text == "Kính gửi Ông/Bà Nguyễn Văn An,\n\nHồ sơ H26-0001 cần bổ sung.\n"
    assert oldest.html is None
    assert oldest.message_id == mail(1).message_id
    assert oldest.date is not None and abs(time.time() - oldest.date.timestamp()) < 60
    assert newest.envelope_to == "an.nguyen@example.vn, bi.tran@example.vn"
    assert newest.html is not None and newest.html.strip() == "<p>Hồ sơ H26-0002</p>"
    assert newest.id > oldest.id

    # Kept as .eml files only their owner can read (mail carries personal data).
    folder = mail_dir(settings)
    assert folder == tmp_path / "mail"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{m.id}.eml" for m in (newest, oldest))
    assert stat.S_IMODE(oldest.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert get_message(settings, oldest.id) == oldest
    assert get_message(settings, "../../secret_key") is None
    assert get_message(settings, "00000000000000000000-00000000") is None
    assert list_messages(settings, limit=1) == [newest]


def test_no_mail_folder_means_no_messages(tmp_path: Path) -> None:
    assert list_messages(dev_settings(tmp_path)) == []


def test_the_catcher_refuses_to_start_in_production(tmp_path: Path) -> None:
    production = Settings(env="production", data_dir=tmp_path, dev_services=False)
    with pytest.raises(MailCatcherError, match="never runs in production"):
        start_mail_catcher(production, port=0)
    with pytest.raises(MailCatcherError, match="never runs in production"):
        MailCatcher(replace(production, dev_services=True))
    assert not (tmp_path / "mail").exists()


def test_a_taken_port_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(MailCatcherError, match=f"127.0.0.1:{port}.*MOTCUA_DEV_SMTP_PORT"):
            start_mail_catcher(dev_settings(tmp_path), port=port)
        assert time.monotonic() - started < 2
        # `motcua run` turns it into its one-line error.
        with (
            pytest.raises(CommandError, match="MOTCUA_DEV_SMTP_PORT"),
            _dev_mail_catcher(dev_settings(tmp_path, dev_smtp_port=port)),
        ):
            pass


def test_run_starts_the_catcher_only_when_development_has_no_smtp(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wanted = dev_settings(tmp_path, dev_smtp_port=port)
    with dev_mail_catcher(wanted) as url:
        assert url == f"smtp://127.0.0.1:{port}"
        with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
            assert client.recv(100).startswith(b"220 ")
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # stopped with the block

    configured = replace(wanted, smtp=SmtpServer(host="smtp.example.vn", port=587, security="starttls"))
    for settings in (
        configured,
        replace(wanted, dev_services=False),
        replace(wanted, notifications_enabled=False),
    ):
        with dev_mail_catcher(settings) as url:
            assert url is None
