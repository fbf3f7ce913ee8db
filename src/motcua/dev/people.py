"""Test people of the development e-ID provider (``motcua.dev.eid_provider``): data only, no secrets.

Their personal IDs follow the format of the chip-based citizen identity card (CCCD, 12 digits):
3 digits for the province of birth registration (001 Hà Nội, 031 Hải Phòng, 046 Thừa Thiên Huế,
048 Đà Nẵng, 079 TP Hồ Chí Minh, 092 Cần Thơ), 1 digit for century and gender (0/1: born in the
1900s, male/female; 2/3: born in the 2000s, male/female), 2 digits for the year of birth and a
6-digit serial. They are made up: any resemblance to real numbers is chance.

``role_hint`` only says what the person is meant for in the demo (a citizen filing dossiers, a
one-stop-shop officer, a platform administrator); the provider grants nothing by it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Literal

from motcua.identity.schemas import mask_personal_id

RoleHint = Literal["citizen", "officer", "admin"]
Gender = Literal["male", "female"]

ROLE_LABELS: dict[RoleHint, str] = {
    "citizen": "Công dân",
    "officer": "Cán bộ một cửa",
    "admin": "Quản trị nền tảng",
}


@dataclass(frozen=True, slots=True)
class DevUser:
    personal_id: str
    name: str
    birthdate: date
    gender: Gender
    email: str
    phone_number: str  # E.164, as OpenID Connect recommends
    address: str
    role_hint: RoleHint
    note: str = ""

    @property
    def sub(self) -> str:
        """Stable subject identifier: the same person gets the same ``sub`` on every run.

        Opaque (derived from, but not revealing, the personal ID), as a real provider's is: a
        client must ask for the ``personal_id`` scope to learn the number, not parse ``sub``.
        """
        return "dev-" + hashlib.sha256(b"motcua-dev-eid:" + self.personal_id.encode()).hexdigest()[:20]

    @property
    def masked_personal_id(self) -> str:
        """'001085012345' → '001******345' (enough to tell the test people apart on screen)."""
        return mask_personal_id(self.personal_id)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role_hint]


DEV_USERS: tuple[DevUser, ...] = (
    DevUser(
        personal_id="001085012345",
        name="Nguyễn Văn An",
        birthdate=date(1985, 3, 14),
        gender="male",
        email="nguyenvanan@example.com",
        phone_number="+84912345678",
        address="Số 12 phố Hàng Bài, phường Hoàn Kiếm, thành phố Hà Nội",
        role_hint="citizen",
    ),
    DevUser(
        personal_id="048192004321",
        name="Trần Thị Bích Ngọc",
        birthdate=date(1992, 7, 21),
        gender="female",
        email="tranthibichngoc@example.com",
        phone_number="+84935123456",
        address="Số 45 đường Bạch Đằng, phường Hải Châu, thành phố Đà Nẵng",
        role_hint="citizen",
    ),
    DevUser(
        personal_id="079203001122",
        name="Lê Hoàng Minh Khôi",
        birthdate=date(2003, 11, 2),
        gender="male",
        email="lehoangminhkhoi@example.com",
        phone_number="+84987654321",
        address="Số 8 đường Lê Duẩn, phường Sài Gòn, Thành phố Hồ Chí Minh",
        role_hint="citizen",
    ),
    DevUser(
        personal_id="092305007777",
        name="Hoàng Thị Mai Anh",
        birthdate=date(2005, 12, 12),
        gender="female",
        email="hoangthimaianh@example.com",
        phone_number="+84939777888",
        address="Số 21 đường Hòa Bình, phường Ninh Kiều, thành phố Cần Thơ",
        role_hint="citizen",
    ),
    DevUser(
        personal_id="001178006789",
        name="Phạm Thị Thu Hà",
        birthdate=date(1978, 1, 30),
        gender="female",
        email="phamthithuha@example.com",
        phone_number="+84904111222",
        address="Số 3 phố Lý Thái Tổ, phường Hoàn Kiếm, thành phố Hà Nội",
        role_hint="officer",
        note="Cán bộ tiếp nhận hồ sơ tại Bộ phận Một cửa",
    ),
    DevUser(
        personal_id="048080003456",
        name="Võ Đức Thắng",
        birthdate=date(1980, 9, 9),
        gender="male",
        email="voducthang@example.com",
        phone_number="+84905333444",
        address="Số 24 đường Trần Phú, phường Hải Châu, thành phố Đà Nẵng",
        role_hint="officer",
        note="Chuyên viên xử lý hồ sơ",
    ),
    DevUser(
        personal_id="031075009876",
        name="Đặng Quốc Bảo",
        birthdate=date(1975, 5, 5),
        gender="male",
        email="dangquocbao@example.com",
        phone_number="+84913555666",
        address="Số 10 đường Điện Biên Phủ, phường Hồng Bàng, thành phố Hải Phòng",
        role_hint="admin",
        note="Quản trị viên của nền tảng",
    ),
)

_BY_SUB = {user.sub: user for user in DEV_USERS}


def dev_user(sub: str) -> DevUser | None:
    """The test person with this ``sub``, or None."""
    return _BY_SUB.get(sub)
