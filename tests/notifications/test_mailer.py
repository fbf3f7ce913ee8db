from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from motcua.core.settings import Settings
from motcua.notifications.mailer import DeliveryError, OutgoingEmail, message_id_for, send_email
from tests.notifications.conftest import PASSWORD, USER, SmtpFixture, free_port, smtp_settings

SUBJECT = "Hồ sơ 000.00.01.H26-261125-0001 đã được tiếp nhận"
TEXT = "Kính gửi Ông/Bà Nguyễn Văn An,\n\nHồ sơ của Ông/Bà đã được tiếp nhận.\n"


def email(**overrides: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "sender_address": "no-reply@hanoi.example.vn",
        "sender_name": "Cổng DVC Hà Nội",
        "to": ("an.nguyen@example.vn",),
        "subject": SUBJECT,
        "text": TEXT,
        "html": "<p>Hồ sơ của Ông/Bà đã được tiếp nhận.</p>",
        "idempotency_key": "hanoi:dossier:1:accepted",
    }
    values.update(overrides)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


async def test_a_message_arrives_with_vietnamese_headers_encoded(
    smtp_server: SmtpFixture, tmp_path: Path
) -> None:
    message = email(headers={"X-Motcua-Tenant": "hanoi"})
    await send_email(smtp_server.settings(tmp_path), message)

    [got] = smtp_server.collector.received
    assert got.mail_from == "no-reply@hanoi.example.vn"
    assert got.rcpt_tos == ["an.nguyen@example.vn"]
    # Headers travel as 7-bit ASCII with RFC 2047 UTF-8 encoded words, not raw UTF-8 bytes.
    assert all(byte < 128 for byte in got.raw_headers)
    assert b"=?utf-8?" in got.raw_headers.lower()
    parsed = got.message
    assert parsed["Subject"] == SUBJECT
    assert parsed["From"].addresses[0].display_name == "Cổng DVC Hà Nội"
    assert parsed["From"].addresses[0].addr_spec == "no-reply@hanoi.example.vn"
    assert parsed["To"].addresses[0].addr_spec == "an.nguyen@example.vn"
    assert parsed["Message-ID"] == message_id_for("hanoi:dossier:1:accepted", "no-reply@hanoi.example.vn")
    assert parsed["Message-ID"].endswith("@hanoi.example.vn>")
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Motcua-Tenant"] == "hanoi"
    assert parsed["Date"] is not None
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert html is not None and "đã được tiếp nhận" in html.get_content()


async def test_a_retried_send_carries_the_same_message_id(smtp_server: SmtpFixture, tmp_path: Path) -> None:
    settings = smtp_server.settings(tmp_path)
    await send_email(settings, email())
    await send_email(settings, email())
    await send_email(settings, email(idempotency_key="hanoi:dossier:1:processed"))
    ids = [r.message["Message-ID"] for r in smtp_server.collector.received]
    assert ids[0] == ids[1] != ids[2]


async def test_text_only_mail_has_no_html_part(smtp_server: SmtpFixture, tmp_path: Path) -> None:
    await send_email(smtp_server.settings(tmp_path), email(html=None))
    parsed = smtp_server.collector.received[0].message
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().replace("\r\n", "\n") == TEXT


async def test_a_closed_port_is_a_retryable_delivery_error(tmp_path: Path) -> None:
    settings = smtp_settings(tmp_path, free_port())
    with pytest.raises(DeliveryError) as caught:
        await send_email(settings, email())
    assert caught.value.permanent is False
    assert "127.0.0.1" in str(caught.value)


async def test_without_an_smtp_server_sending_fails_permanently(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="MOTCUA_SMTP_URL") as caught:
        await send_email(Settings(env="test", data_dir=tmp_path), email())
    assert caught.value.permanent is True


async def test_a_refused_recipient_is_a_permanent_error_and_a_busy_one_is_not(
    smtp_server: SmtpFixture, tmp_path: Path
) -> None:
    settings = smtp_server.settings(tmp_path)
    with pytest.raises(DeliveryError) as refused:
        await send_email(settings, email(to=("nobody@example.vn",)))
    assert refused.value.permanent is True
    with pytest.raises(DeliveryError) as busy:
        await send_email(settings, email(to=("busy@example.vn",)))
    assert busy.value.permanent is False
    assert smtp_server.collector.received == []
    # One refused among several: the others get it, no error (a retry would duplicate it).
    await send_email(settings, email(to=("nobody@example.vn", "an.nguyen@example.vn")))
    assert smtp_server.collector.received[0].rcpt_tos == ["an.nguyen@example.vn"]


async def test_credentials_from_the_url_log_in(smtp_auth_server: SmtpFixture, tmp_path: Path) -> None:
    settings = smtp_auth_server.settings(tmp_path, username=USER, password=PASSWORD)
    await send_email(settings, email())
    assert smtp_auth_server.collector.logins[-1] == (USER.encode(), PASSWORD.encode())
    assert len(smtp_auth_server.collector.received) == 1


async def test_a_wrong_password_is_a_delivery_error_that_does_not_show_the_password(
    smtp_auth_server: SmtpFixture, tmp_path: Path
) -> None:
    settings = smtp_auth_server.settings(tmp_path, username=USER, password="wrong-secret")
    with pytest.raises(DeliveryError) as caught:
        await send_email(settings, email())
    assert caught.value.permanent is True
    assert "wrong-secret" not in str(caught.value)
    assert smtp_auth_server.collector.received == []


async def test_no_login_when_the_server_requires_one(smtp_auth_server: SmtpFixture, tmp_path: Path) -> None:
    with pytest.raises(DeliveryError):
        await send_email(smtp_auth_server.settings(tmp_path), email())


async def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    import asyncio

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)  # accepts the connection, never greets
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = dataclasses.replace(smtp_settings(tmp_path, port), smtp_timeout=0.3)
    try:
        with pytest.raises(DeliveryError) as caught:
            await send_email(settings, email())
        assert caught.value.permanent is False
    finally:
        server.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"to": ()}, "at least one recipient"),
        ({"to": ("not-an-address",)}, "not an email address"),
        ({"sender_address": "no-reply"}, "not an email address"),
        ({"subject": "Hồ sơ\r\nBcc: victim@example.vn"}, "subject cannot span lines"),
        ({"sender_name": "Cổng\nBcc: x@example.vn"}, "sender name cannot span lines"),
        ({"idempotency_key": ""}, "idempotency key"),
        ({"headers": {"Message-ID": "<x@y>"}}, "set by the mailer"),
        ({"headers": {"X-Note": "a\r\nBcc: x@example.vn"}}, "invalid header"),
    ],
)
def test_an_email_refuses_what_would_break_or_inject_headers(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        email(**overrides)


def test_message_ids_are_stable_and_depend_on_the_key() -> None:
    a = message_id_for("hanoi:dossier:7:accepted", "no-reply@hanoi.example.vn")
    assert a == message_id_for("hanoi:dossier:7:accepted", "no-reply@hanoi.example.vn")
    assert a != message_id_for("hanoi:dossier:8:accepted", "no-reply@hanoi.example.vn")
    assert a.startswith("<") and a.endswith("@hanoi.example.vn>")
