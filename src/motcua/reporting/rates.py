"""A rate as numerator ÷ denominator, every indicator's name and formula in words, and the
Vietnamese way of writing the numbers, so a page can show "x ÷ y = r" an officer can check."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any


@dataclass(frozen=True, slots=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def ratio(self) -> float | None:
        """None when there is nothing to divide by: "no data", never a division by zero."""
        return self.numerator / self.denominator if self.denominator else None

    @property
    def exact(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    def to_dict(self) -> dict[str, Any]:
        return {"numerator": self.numerator, "denominator": self.denominator, "ratio": self.ratio}


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    formula: str  # numerator ÷ denominator, in words


# Every rate the indicators compute, in the order pages list them (DOMAIN.md "Indicators").
RATES: dict[str, Definition] = {
    "full_online_rate": Definition(
        "Tỷ lệ thủ tục cung cấp dịch vụ công trực tuyến toàn trình",
        "Số thủ tục đang công bố ở mức toàn trình ÷ số thủ tục đang công bố có cung cấp trực tuyến "
        "(một phần hoặc toàn trình)",
    ),
    "online_with_dossiers_rate": Definition(
        "Tỷ lệ dịch vụ công trực tuyến có phát sinh hồ sơ",
        "Số dịch vụ công trực tuyến có ít nhất một hồ sơ trực tuyến trong kỳ ÷ số dịch vụ công trực tuyến",
    ),
    "online_dossier_rate": Definition(
        "Tỷ lệ hồ sơ trực tuyến",
        "Số hồ sơ tiếp nhận trực tuyến (cổng địa phương và Cổng Dịch vụ công quốc gia) ÷ số hồ sơ tiếp nhận",
    ),
    "online_by_citizen_share": Definition(
        "Tỷ lệ hồ sơ trực tuyến do người dân tự nộp",
        "Số hồ sơ trực tuyến do chính người dân, doanh nghiệp nộp ÷ số hồ sơ tiếp nhận trực tuyến",
    ),
    "on_time_rate": Definition(
        "Tỷ lệ hồ sơ giải quyết đúng hạn",
        "Số hồ sơ giải quyết xong đúng hạn ÷ số hồ sơ giải quyết xong trong kỳ",
    ),
    "online_payment_rate": Definition(
        "Tỷ lệ thanh toán trực tuyến",
        "Số hồ sơ có phí, lệ phí đã thanh toán trực tuyến ÷ số hồ sơ có phí, lệ phí tiếp nhận trong kỳ",
    ),
    "digitisation_rate": Definition(
        "Tỷ lệ số hóa hồ sơ",
        "Số hồ sơ có thành phần được lưu trữ điện tử (nộp trực tuyến hoặc số hóa khi tiếp nhận) "
        "÷ số hồ sơ tiếp nhận",
    ),
    "satisfied_rate": Definition(
        "Tỷ lệ hài lòng",
        "Số đánh giá mức Hài lòng hoặc Rất hài lòng ÷ số đánh giá trong kỳ",
    ),
    "average_score": Definition(
        "Điểm đánh giá trung bình (thang 5)",
        "Tổng điểm các đánh giá ÷ số đánh giá trong kỳ",
    ),
    "feedback_on_time_rate": Definition(
        "Tỷ lệ phản ánh, kiến nghị được trả lời đúng hạn",
        "Số phản ánh, kiến nghị nhận trong kỳ đã được trả lời đúng hạn "
        "÷ số phản ánh, kiến nghị nhận trong kỳ",
    ),
}


def decimal_vi(value: Fraction | float | int, places: int = 2) -> str:
    """A number the Vietnamese way (decimal comma), rounded half up, without trailing zeros."""
    number = value if isinstance(value, Fraction) else Fraction(value)
    quantum = Decimal(1).scaleb(-places)
    rounded = (Decimal(number.numerator) / Decimal(number.denominator)).quantize(quantum, ROUND_HALF_UP)
    text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def percent_vi(ratio: Fraction | float, places: int = 2) -> str:
    return decimal_vi(Fraction(ratio) * 100, places) + "%"


def rounded(value: Fraction, places: int = 2) -> float:
    quantum = Decimal(1).scaleb(-places)
    return float((Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, ROUND_HALF_UP))
