"""The audit trails in words: what each action code means, and a row's detail as labelled values.
The one place that maps codes to Vietnamese (the audit viewer, a tenant's recent activity and the
CSV download all read it); an unknown code gets a generic phrase, never the code itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from motcua.backoffice.services import JOB_LABELS, OTHER_JOB
from motcua.identity.models import N_, Role
from motcua.identity.schemas import PERSONAL_ID, mask_personal_id
from motcua.organisation.models import Tier, UnitKind, UnitRole
from motcua.workflow.models import StepKind

Gettext = Callable[[str], str]

# Every action the platform trail (platform.audit_log) and the tenants' own trails record.
# A new action: add its code here, in the order the audit viewer's action filter lists them.
ACTION_WORDS: dict[str, str] = {
    "tenant.onboarding_started": N_("Bắt đầu tiếp nhận địa phương"),
    "tenant.onboarding_resumed": N_("Tiếp tục tiếp nhận địa phương"),
    "tenant.onboarding_retried": N_("Thử lại việc tiếp nhận địa phương"),
    "tenant.onboarding_failed": N_("Tiếp nhận địa phương không thành công"),
    "tenant.activated": N_("Mở cổng địa phương (hoàn tất tiếp nhận)"),
    "tenant.suspended": N_("Tạm ngừng cổng địa phương"),
    "tenant.active": N_("Mở lại cổng địa phương"),
    "tenant.archived": N_("Lưu trữ cổng địa phương (chỉ đọc)"),
    "tenant.export_requested": N_("Yêu cầu xuất dữ liệu địa phương"),
    "tenant.export_started": N_("Bắt đầu xuất dữ liệu địa phương"),
    "tenant.exported": N_("Xuất dữ liệu địa phương"),
    "tenant.export_failed": N_("Xuất dữ liệu địa phương không thành công"),
    "tenant.export_downloaded": N_("Tải bản xuất dữ liệu địa phương"),
    "tenant.restored": N_("Khôi phục cổng địa phương"),
    "tenant.restore_failed": N_("Khôi phục cổng địa phương không thành công"),
    "tenant.deleted": N_("Xóa địa phương"),
    "tenant.settings_changed": N_("Thay đổi cài đặt cổng"),
    "tenant.appearance_changed": N_("Thay đổi giao diện cổng"),
    "tenant.theme_changed": N_("Thay đổi màu sắc cổng"),
    "tenant.logo_changed": N_("Thay đổi logo cổng"),
    "tenant.logo_removed": N_("Gỡ logo cổng"),
    "tenant.agency_code_changed": N_("Thay đổi mã cơ quan"),
    "tenant.calendar_changed": N_("Thay đổi lịch làm việc"),
    "domain.added": N_("Thêm tên miền"),
    "domain.removed": N_("Gỡ tên miền"),
    "mail_sender.configured": N_("Cấu hình người gửi thư"),
    "identity.configured": N_("Cấu hình đăng nhập định danh điện tử"),
    "payments.configured": N_("Cấu hình thanh toán trực tuyến"),
    "platform_admin.added": N_("Thêm quản trị viên nền tảng"),
    "platform_admin.removed": N_("Gỡ quản trị viên nền tảng"),
    "ranking.published": N_("Công bố bảng xếp hạng chỉ số phục vụ"),
    "console.login": N_("Đăng nhập bảng điều khiển trung tâm"),
    "job.failed": N_("Công việc nền thất bại"),
    # A tenant's own trail (its schema's audit_log).
    "portal.opened": N_("Cổng bắt đầu hoạt động"),
    "identity.login": N_("Đăng nhập cổng"),
    "role.granted": N_("Cấp quyền"),
    "role.revoked": N_("Thu hồi quyền"),
    "catalog.procedure_added": N_("Thêm thủ tục"),
    "catalog.procedure_edited": N_("Sửa thủ tục"),
    "catalog.procedure_published": N_("Công bố thủ tục"),
    "catalog.procedure_unpublished": N_("Ngừng công bố thủ tục"),
    "catalog.form_versioned": N_("Ban hành phiên bản biểu mẫu mới"),
    "catalog.template_attached": N_("Đính kèm mẫu giấy tờ"),
    "catalog.template_removed": N_("Gỡ mẫu giấy tờ"),
    "catalog.imported": N_("Nhập danh mục thủ tục"),
    "api_client.registered": N_("Đăng ký hệ thống kết nối"),
    "api_client.rotated": N_("Cấp lại khóa bí mật của hệ thống kết nối"),
    "api_client.revoked": N_("Thu hồi quyền của hệ thống kết nối"),
    "api.token_issued": N_("Cấp mã truy cập cho hệ thống kết nối"),
    "api.token_refused": N_("Từ chối cấp mã truy cập"),
    "api.called": N_("Hệ thống kết nối gọi API"),
    "webhook.created": N_("Đăng ký địa chỉ nhận sự kiện"),
    "webhook.disabled": N_("Ngừng gửi sự kiện tới một địa chỉ"),
    "webhook.secret_rotated": N_("Cấp lại khóa ký sự kiện"),
    "webhook.redelivered": N_("Gửi lại một sự kiện"),
    "reporting.period_published": N_("Công bố số liệu chỉ số của một kỳ"),
    "unit.created": N_("Thêm đơn vị"),
    "unit.changed": N_("Sửa thông tin đơn vị"),
    "unit.closed": N_("Đóng đơn vị"),
    "unit.reopened": N_("Mở lại đơn vị"),
    "unit.staff_added": N_("Giao vai trò cho cán bộ của đơn vị"),
    "unit.staff_removed": N_("Thu hồi vai trò của cán bộ ở đơn vị"),
    "unit.route_changed": N_("Đổi cấp tiếp nhận và đơn vị giải quyết của thủ tục"),
    "workflow.changed": N_("Thay đổi quy trình xử lý của thủ tục"),
}
UNKNOWN_ACTION = N_("Thao tác khác")


def action_words(code: str) -> str:
    """The action's Vietnamese description (a msgid: translate it where it is shown)."""
    return ACTION_WORDS.get(code, UNKNOWN_ACTION)


TENANT_STATUS_WORDS = {
    "provisioning": N_("Đang khởi tạo"),
    "active": N_("Đang hoạt động"),
    "suspended": N_("Tạm ngừng"),
    "failed": N_("Khởi tạo lỗi"),
    "archived": N_("Đã lưu trữ"),
}
TENANT_KIND_WORDS = {"province": N_("Tỉnh, thành phố"), "ministry": N_("Bộ, ngành")}
# The kinds of a working-calendar day (motcua.admin.appearance), as the calendar page names them.
DAY_KIND_WORDS = {"day_off": N_("Ngày nghỉ"), "makeup_day": N_("Ngày làm bù")}

# Detail keys, in the order they are shown; the reason and the address are shown on their own.
DETAIL_LABELS: dict[str, str] = {
    "personal_id": N_("Số định danh"),
    "name": N_("Tên"),
    "kind": N_("Loại"),
    "previous_status": N_("Trạng thái trước đó"),
    "domains": N_("Tên miền"),
    "roles": N_("Vai trò"),
    "role": N_("Vai trò"),
    "issuer": N_("Hệ thống định danh"),
    "client_id": N_("Mã ứng dụng"),
    "enabled": N_("Đang bật"),
    "stripe_account": N_("Tài khoản thanh toán"),
    "platform_fee_vnd": N_("Phí nền tảng (đồng)"),
    "actor": N_("Công việc"),
    "message_id": N_("Mã lần chạy"),
    "error": N_("Lỗi"),
    "step": N_("Bước"),
    "period": N_("Kỳ số liệu"),
    "ranked": N_("Số địa phương được xếp hạng"),
    "unit": N_("Đơn vị"),
    "agency_code": N_("Mã cơ quan"),
    "person": N_("Cán bộ"),
    "changed": N_("Nội dung thay đổi"),
    "previous_name": N_("Tên trước đó"),
    "previous_code": N_("Mã cơ quan trước đó"),
    "procedure": N_("Thủ tục"),
    "steps": N_("Các bước"),
    "tier": N_("Cấp tiếp nhận"),
}
# What "changed" names, in words (organisation.services.edit_unit).
CHANGED_WORDS = {"name": N_("Tên"), "agency_code": N_("Mã cơ quan"), "parent_id": N_("Đơn vị cấp trên")}
OTHER_DETAIL = N_("Thông tin khác")
SHOWN_APART = ("reason", "address")


@dataclass(frozen=True)
class DetailLine:
    label: str
    value: str


def _value(key: str, value: Any, gettext: Gettext) -> str:
    if isinstance(value, bool):
        return gettext(N_("Có")) if value else gettext(N_("Không"))
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(_value(key, v, gettext) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{line.label}: {line.value}" for line in detail_lines(value, gettext))
    text = str(value)
    if key in ("roles", "role") and text in {r.value for r in Role}:
        return gettext(Role(text).label)
    if key == "role" and text in {r.value for r in UnitRole}:
        return gettext(UnitRole(text).label)
    if key == "tier" and text in {t.value for t in Tier}:
        return gettext(Tier(text).label)
    if key == "kind" and text in {k.value for k in UnitKind}:
        return gettext(UnitKind(text).label)
    if key == "changed" and text in CHANGED_WORDS:
        return gettext(CHANGED_WORDS[text])
    if key == "steps" and text.partition(":")[0] in {k.value for k in StepKind}:
        kind, _, share = text.partition(":")
        return f"{gettext(StepKind(kind).label)} ({share}%)"
    if key == "previous_status":
        return gettext(TENANT_STATUS_WORDS.get(text, N_("Không rõ")))
    if key == "kind" and text in TENANT_KIND_WORDS:
        return gettext(TENANT_KIND_WORDS[text])
    if key == "kind" and text in DAY_KIND_WORDS:
        return gettext(DAY_KIND_WORDS[text])
    if key == "actor":  # the job a "job.failed" row is about (motcua.core.broker)
        return gettext(JOB_LABELS.get(text, OTHER_JOB))
    if key == "personal_id" and PERSONAL_ID.match(text):
        return mask_personal_id(text)
    return text[:500]


def detail_lines(detail: Mapping[str, Any], gettext: Gettext) -> list[DetailLine]:
    """A row's detail (its reason and address apart) as translated label–value lines."""
    known = [k for k in DETAIL_LABELS if k in detail]
    others = sorted(k for k in detail if k not in DETAIL_LABELS and k not in SHOWN_APART)
    lines = [DetailLine(gettext(DETAIL_LABELS[k]), _value(k, detail[k], gettext)) for k in known]
    lines += [DetailLine(gettext(OTHER_DETAIL), _value(k, detail[k], gettext)) for k in others]
    return lines
