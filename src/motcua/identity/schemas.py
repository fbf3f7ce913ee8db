from __future__ import annotations

import re
from dataclasses import dataclass

from motcua.identity.models import GRANTABLE_ROLES

PERSONAL_ID = re.compile(r"^\d{12}$")


def mask_personal_id(personal_id: str) -> str:
    """'001085012345' → '001******345': enough to recognise on a slip, a receipt or a screen,
    not enough to use."""
    return f"{personal_id[:3]}******{personal_id[-3:]}"


class IdentityInputError(ValueError):
    """Bad input from a person; the message is shown to them (Vietnamese)."""


@dataclass(frozen=True)
class RoleGrantCreate:
    personal_id: str
    role: str

    @classmethod
    def parse(cls, personal_id: str | None, role: str | None) -> RoleGrantCreate:
        pid = (personal_id or "").strip().replace(" ", "")
        if not PERSONAL_ID.match(pid):
            raise IdentityInputError("Số định danh cá nhân phải gồm đúng 12 chữ số.")
        if role not in {r.value for r in GRANTABLE_ROLES}:
            raise IdentityInputError("Vai trò không hợp lệ: chọn Cán bộ hoặc Quản trị địa phương.")
        return cls(personal_id=pid, role=role)
