"""The audit trails in words: detail values that are codes are shown as words, in each language."""

from __future__ import annotations

from motcua.admin.audit_words import detail_lines


def _same(message: str) -> str:
    return message


def test_a_failed_job_and_a_calendar_day_are_described_in_words() -> None:
    job = detail_lines({"actor": "notify_citizen", "message_id": "m-1", "error": "DeliveryError: 550"}, _same)
    assert [(line.label, line.value) for line in job] == [
        ("Công việc", "Gửi thông báo cho người dân"),
        ("Mã lần chạy", "m-1"),
        ("Lỗi", "DeliveryError: 550"),
    ]
    assert detail_lines({"actor": "a_job_since_removed"}, _same)[0].value == "Công việc nền khác"
    day = detail_lines({"kind": "day_off", "name": "Nghỉ bù"}, _same)
    assert {(line.label, line.value) for line in day} == {("Loại", "Ngày nghỉ"), ("Tên", "Nghỉ bù")}
    assert detail_lines({"kind": "makeup_day"}, _same)[0].value == "Ngày làm bù"
    # The words go through the page's translation.
    english = {"Ngày làm bù": "Make-up working day"}
    assert detail_lines({"kind": "makeup_day"}, lambda m: english.get(m, m))[0].value == "Make-up working day"
