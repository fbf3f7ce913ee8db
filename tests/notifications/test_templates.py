from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from jinja2 import StrictUndefined, UndefinedError

from motcua.core.settings import PROJECT_ROOT, Settings
from motcua.core.tenant import Tenant
from motcua.notifications.mailer import message_id_for
from motcua.notifications.services import build_email, send_notification, sender_for
from motcua.notifications.templates import (
    STAFF_EVENTS,
    DossierNotice,
    MailTemplates,
    NotificationEvent,
    format_due,
)
from tests.notifications.conftest import SmtpFixture

CODE = "000.00.01.H26-261125-0001"
PORTAL = "http://hanoi.localhost:8000/"
# 10:00 UTC is 17:00 in Vietnam.
DUE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

FULL = DossierNotice(
    code=CODE,
    procedure_name="Đăng ký khai sinh",
    status_label="Đang xử lý",
    applicant_name="Nguyễn Văn An",
    due_at=DUE,
    reason="Thiếu bản sao <giấy chứng sinh> & CCCD",
    items=("Bản sao giấy chứng sinh", "Căn cước công dân"),
    fee_vnd=50000,
    new_due_at=DUE + timedelta(days=3),
    receipt="BL2026 số 0000042",
    receipt_id=42,
)
# Only what each event cannot do without.
MINIMAL = DossierNotice(code=CODE, procedure_name="Đăng ký khai sinh", status_label="Đang xử lý")
NEEDS = {
    NotificationEvent.DOSSIER_REFUSED: {"reason": "Không thuộc thẩm quyền"},
    NotificationEvent.SUPPLEMENT_REQUESTED: {"reason": "Thiếu giấy tờ"},
    NotificationEvent.PAYMENT_REQUESTED: {"fee_vnd": 0},
    NotificationEvent.PAYMENT_RECEIVED: {"fee_vnd": 15000, "receipt": "BL2026 số 0000001", "receipt_id": 1},
    NotificationEvent.PAYMENT_REFUNDED: {"fee_vnd": 5000, "reason": "Thu thừa"},
    NotificationEvent.APOLOGY_ISSUED: {"reason": "Cần xác minh thêm", "new_due_at": DUE},
    NotificationEvent.DEADLINE_DUE_SOON: {"due_at": DUE},
    NotificationEvent.DEADLINE_OVERDUE: {"due_at": DUE},
    NotificationEvent.DEADLINE_AT_RISK: {"due_at": DUE},
}


def tenant(theme: str = "default", **settings: object) -> Tenant:
    return Tenant(
        id=1,
        slug="hanoi",
        name="Cổng Dịch vụ công Thành phố Hà Nội",
        kind="province",
        status="active",
        schema="t_hanoi",
        theme=theme,
        settings=dict(settings),
    )


@pytest.fixture(scope="module")
def templates() -> MailTemplates:
    return MailTemplates(PROJECT_ROOT / "themes")


def test_the_environment_refuses_undefined_variables(templates: MailTemplates) -> None:
    assert templates.env().undefined is StrictUndefined
    with pytest.raises(UndefinedError):
        templates.env().from_string("{{ no_such_variable }}").render()


@pytest.mark.parametrize("event", list(NotificationEvent))
def test_every_event_renders_with_a_full_context(templates: MailTemplates, event: NotificationEvent) -> None:
    mail = templates.render(tenant(), event, FULL, portal_url=PORTAL)
    assert CODE in mail.subject and "\n" not in mail.subject
    assert CODE in mail.text and CODE in mail.html
    assert "Cổng Dịch vụ công Thành phố Hà Nội" in mail.text
    assert not mail.text.startswith("\n") and mail.text.endswith("\n") and "\n\n\n" not in mail.text
    assert "{{" not in mail.text and "{%" not in mail.text
    # Text is plain; the HTML alternative escapes what people typed.
    if event in (NotificationEvent.DOSSIER_REFUSED, NotificationEvent.SUPPLEMENT_REQUESTED):
        assert "<giấy chứng sinh> & CCCD" in mail.text
        assert "&lt;giấy chứng sinh&gt; &amp; CCCD" in mail.html
    assert "<giấy chứng sinh>" not in mail.html
    if event in STAFF_EVENTS:
        assert "Kính gửi cán bộ" in mail.text and f"/officer/dossiers/{CODE}" in mail.text
    else:
        assert "Kính gửi Ông/Bà Nguyễn Văn An," in mail.text and f"/tracking?code={CODE}" in mail.text


@pytest.mark.parametrize("event", list(NotificationEvent))
def test_every_event_renders_with_only_what_it_needs(
    templates: MailTemplates, event: NotificationEvent
) -> None:
    notice = replace(MINIMAL, **NEEDS.get(event, {}))  # type: ignore[arg-type]
    mail = templates.render(tenant(), event, notice, portal_url=PORTAL)
    assert CODE in mail.subject and CODE in mail.text
    assert "None" not in mail.text


def test_the_texts_say_what_each_event_is_about(templates: MailTemplates) -> None:
    def text(event: NotificationEvent) -> str:
        return templates.render(tenant(), event, FULL, portal_url=PORTAL).text

    assert "Hẹn trả kết quả: 17:00 ngày 25/11/2026" in text(NotificationEvent.DOSSIER_ACCEPTED)
    assert "Lý do: Thiếu bản sao" in text(NotificationEvent.DOSSIER_REFUSED)
    supplement = text(NotificationEvent.SUPPLEMENT_REQUESTED)
    assert "- Bản sao giấy chứng sinh\n- Căn cước công dân\n" in supplement
    assert f"{PORTAL}my/dossiers/{CODE}" in supplement
    assert "Số tiền: 50.000 ₫" in text(NotificationEvent.PAYMENT_REQUESTED)
    received = templates.render(tenant(), NotificationEvent.PAYMENT_RECEIVED, FULL, portal_url=PORTAL)
    assert received.subject == f"Hồ sơ {CODE}: đã nhận phí, lệ phí — biên lai BL2026 số 0000042"
    assert "khoản phí, lệ phí 50.000 ₫" in received.text
    assert f"{PORTAL}receipts/42" in received.text
    refunded = templates.render(tenant(), NotificationEvent.PAYMENT_REFUNDED, FULL, portal_url=PORTAL)
    assert refunded.subject == f"Hồ sơ {CODE}: hoàn trả 50.000 ₫"
    assert "Lý do: Thiếu bản sao <giấy chứng sinh> & CCCD" in refunded.text
    apology = text(NotificationEvent.APOLOGY_ISSUED)
    assert "xin lỗi" in apology and "Thời hạn trả kết quả mới: 17:00 ngày 28/11/2026" in apology
    assert "đã quá hạn" in text(NotificationEvent.DEADLINE_OVERDUE)
    assert "sắp đến hạn" in text(NotificationEvent.DEADLINE_DUE_SOON)
    assert "nguy cơ cao" in text(NotificationEvent.DEADLINE_AT_RISK)


@pytest.mark.parametrize(
    ("event", "missing"),
    [
        (NotificationEvent.DOSSIER_REFUSED, "reason"),
        (NotificationEvent.PAYMENT_REQUESTED, "fee_vnd"),
        (NotificationEvent.PAYMENT_RECEIVED, "fee_vnd, receipt, receipt_id"),
        (NotificationEvent.PAYMENT_REFUNDED, "fee_vnd, reason"),
        (NotificationEvent.APOLOGY_ISSUED, "reason, new_due_at"),
        (NotificationEvent.DEADLINE_OVERDUE, "due_at"),
    ],
)
def test_an_event_without_what_it_needs_is_refused(
    templates: MailTemplates, event: NotificationEvent, missing: str
) -> None:
    with pytest.raises(ValueError, match=f"needs {missing}"):
        templates.render(tenant(), event, MINIMAL, portal_url=PORTAL)


def test_due_dates_are_shown_in_vietnam_time() -> None:
    assert format_due(DUE) == "17:00 ngày 25/11/2026"
    assert (
        format_due(datetime(2026, 11, 25, 17, 0, tzinfo=timezone(timedelta(hours=7))))
        == "17:00 ngày 25/11/2026"
    )
    assert format_due(datetime(2026, 12, 31, 17, 30, tzinfo=UTC)) == "00:30 ngày 01/01/2027"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_due(datetime(2026, 11, 25, 17, 0))


def _theme(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    folder = tmp_path / "themes" / name / "templates" / "notifications"
    folder.mkdir(parents=True)
    for file, content in files.items():
        (folder / file).write_text(content, encoding="utf-8")
    return tmp_path / "themes"


def test_a_tenant_theme_overrides_a_template_and_keeps_the_others(tmp_path: Path) -> None:
    themes = _theme(
        tmp_path,
        "hanoi",
        {
            "dossier_accepted.txt": (
                "[Hà Nội] Tiếp nhận {{ dossier_code }}\n\nHà Nội đã tiếp nhận {{ dossier_code }}.\n"
            ),
            "dossier_accepted.html": "<p>Hà Nội: {{ reason or '' }} {{ dossier_code }}</p>",
        },
    )
    templates = MailTemplates(themes)
    own = templates.render(tenant("hanoi"), NotificationEvent.DOSSIER_ACCEPTED, FULL, portal_url=PORTAL)
    assert own.subject == f"[Hà Nội] Tiếp nhận {CODE}"
    assert own.text == f"Hà Nội đã tiếp nhận {CODE}.\n"
    assert own.html == f"<p>Hà Nội: Thiếu bản sao &lt;giấy chứng sinh&gt; &amp; CCCD {CODE}</p>"
    other = templates.render(tenant("hanoi"), NotificationEvent.DOSSIER_REFUSED, FULL, portal_url=PORTAL)
    assert other.subject == f"Hồ sơ {CODE} không được tiếp nhận"
    # Another tenant, and a theme that does not exist, get the package's template.
    assert templates.render(
        tenant(), NotificationEvent.DOSSIER_ACCEPTED, FULL, portal_url=PORTAL
    ).subject == (f"Hồ sơ {CODE} đã được tiếp nhận")
    assert templates.render(
        tenant("no-such-theme"), NotificationEvent.DOSSIER_ACCEPTED, FULL, portal_url=PORTAL
    ).subject == (f"Hồ sơ {CODE} đã được tiếp nhận")


def test_an_override_with_a_typo_fails_loudly(tmp_path: Path) -> None:
    themes = _theme(tmp_path, "typo", {"dossier_accepted.txt": "Hồ sơ {{ dosier_code }}\n\nx\n"})
    with pytest.raises(UndefinedError, match="dosier_code"):
        MailTemplates(themes).render(
            tenant("typo"), NotificationEvent.DOSSIER_ACCEPTED, FULL, portal_url=PORTAL
        )


def test_an_override_without_a_subject_line_is_refused(tmp_path: Path) -> None:
    themes = _theme(tmp_path, "blank", {"dossier_accepted.txt": "\n\n"})
    with pytest.raises(ValueError, match="no subject"):
        MailTemplates(themes).render(
            tenant("blank"), NotificationEvent.DOSSIER_ACCEPTED, FULL, portal_url=PORTAL
        )


# --- sender and the whole notification -------------------------------------------------------
def test_the_sender_is_the_tenants_own_else_the_platforms(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(env="test", data_dir=tmp_path)
    assert sender_for(settings, tenant()) == ("Cổng dịch vụ công", "no-reply@localhost")
    own = tenant(mail_from="Cổng DVC Hà Nội <no-reply@hanoi.example.vn>")
    assert sender_for(settings, own) == ("Cổng DVC Hà Nội", "no-reply@hanoi.example.vn")
    platform = replace(settings, mail_from="Cổng DVC quốc gia <thongbao@dichvucong.example.vn>")
    assert sender_for(platform, tenant()) == ("Cổng DVC quốc gia", "thongbao@dichvucong.example.vn")
    with caplog.at_level(logging.WARNING, logger="motcua.notifications.services"):
        assert sender_for(platform, tenant(mail_from="not an address")) == (
            "Cổng DVC quốc gia",
            "thongbao@dichvucong.example.vn",
        )
    assert "mail_from" in caplog.text


def test_build_email_puts_template_sender_and_key_together(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path)
    own = tenant(mail_from="Cổng DVC Hà Nội <no-reply@hanoi.example.vn>")
    mail = build_email(
        settings,
        own,
        NotificationEvent.DOSSIER_ACCEPTED,
        FULL,
        ["an.nguyen@example.vn"],
        portal_url=PORTAL,
        idempotency_key="hanoi:dossier:1:accepted",
    )
    assert (mail.sender_name, mail.sender_address) == ("Cổng DVC Hà Nội", "no-reply@hanoi.example.vn")
    assert mail.subject == f"Hồ sơ {CODE} đã được tiếp nhận"
    assert mail.to == ("an.nguyen@example.vn",)
    assert mail.html is not None and CODE in mail.html
    assert mail.message_id == message_id_for("hanoi:dossier:1:accepted", "no-reply@hanoi.example.vn")


async def test_send_notification_delivers_the_rendered_mail(smtp_server: SmtpFixture, tmp_path: Path) -> None:
    settings = smtp_server.settings(tmp_path)
    sent = await send_notification(
        settings,
        tenant(mail_from="Cổng DVC Hà Nội <no-reply@hanoi.example.vn>"),
        NotificationEvent.SUPPLEMENT_REQUESTED,
        FULL,
        ["an.nguyen@example.vn", "an.nguyen@example.vn", " "],
        portal_url=PORTAL,
        idempotency_key="hanoi:dossier:1:supplement:1",
    )
    assert sent is True
    [got] = smtp_server.collector.received
    assert got.rcpt_tos == ["an.nguyen@example.vn"]
    parsed = got.message
    assert parsed["Subject"] == f"Hồ sơ {CODE} cần bổ sung, hoàn thiện"
    assert parsed["X-Motcua-Event"] == "supplement_requested"
    plain = parsed.get_body(preferencelist=("plain",))
    assert plain is not None and "- Căn cước công dân" in plain.get_content()


async def test_nothing_is_sent_when_notifications_are_off_or_nobody_has_an_address(
    smtp_server: SmtpFixture, tmp_path: Path
) -> None:
    settings = smtp_server.settings(tmp_path)
    args = (tenant(), NotificationEvent.DOSSIER_ACCEPTED, FULL)
    off = replace(settings, notifications_enabled=False)
    assert (
        await send_notification(off, *args, ["a@example.vn"], portal_url=PORTAL, idempotency_key="k1")
        is False
    )
    assert (
        await send_notification(settings, *args, ["", " "], portal_url=PORTAL, idempotency_key="k2") is False
    )
    assert smtp_server.collector.received == []
