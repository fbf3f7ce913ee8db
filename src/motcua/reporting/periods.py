"""A reporting period — a month (``2026-10``), a quarter (``2026-Q4``) or a year (``2026``) — and
its bounds as Vietnam-time days: a dossier received at 23:30 on 31 October in Hanoi is October's,
although it is 16:30 UTC."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from motcua.core.messages import Message, MessageError

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST_YEAR, LAST_YEAR = 2000, 2099
_PERIOD = re.compile(r"^(\d{4})(?:-(?:(\d{2})|Q(\d)))?$")
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
INVALID = (
    "Kỳ báo cáo không hợp lệ. Ghi theo một trong các dạng: tháng YYYY-MM (ví dụ 2026-10), "
    "quý YYYY-Qn (ví dụ 2026-Q4) hoặc năm YYYY (ví dụ 2026)."
)

Kind = Literal["month", "quarter", "year"]


class PeriodError(MessageError, ValueError):
    """The text is not a period; the message is for the person who wrote it (a Vietnamese text
    or a ``Message``, shown in the reader's language)."""


@dataclass(frozen=True, order=True)
class Period:
    year: int
    kind: Kind
    number: int  # the month (1–12), the quarter (1–4), or 0 for a year

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text.strip()) if len(text) <= 16 else None
        if match is None:
            raise PeriodError(INVALID)
        year = int(match.group(1))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise PeriodError(
                Message(
                    "Năm của kỳ báo cáo phải từ %(first)s đến %(last)s.", first=FIRST_YEAR, last=LAST_YEAR
                )
            )
        if match.group(2) is not None:
            month = int(match.group(2))
            if not 1 <= month <= 12:
                raise PeriodError(Message("Tháng của kỳ báo cáo phải từ 01 đến 12."))
            return cls(year, "month", month)
        if match.group(3) is not None:
            quarter = int(match.group(3))
            if not 1 <= quarter <= 4:
                raise PeriodError(Message("Quý của kỳ báo cáo phải từ Q1 đến Q4."))
            return cls(year, "quarter", quarter)
        return cls(year, "year", 0)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(year, "month", month)

    @classmethod
    def month_of(cls, moment: datetime | date) -> Period:
        """The month a moment falls in, in Vietnam time (a date is taken as a Vietnam day)."""
        day = moment.astimezone(VIETNAM).date() if isinstance(moment, datetime) else moment
        return cls(day.year, "month", day.month)

    @classmethod
    def current_month(cls, now: datetime | None = None) -> Period:
        return cls.month_of(now or datetime.now(VIETNAM))

    @property
    def key(self) -> str:
        """The period as written in URLs and the API (``2026-10``, ``2026-Q4``, ``2026``)."""
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        return str(self.year)

    @property
    def label(self) -> Message:
        """Tháng 10/2026, Quý IV/2026, Năm 2026 (a ``Message``: 10/2026, Q4 2026, Year 2026 in English)."""
        if self.kind == "month":
            return Message("Tháng %(month)s/%(year)s", month=f"{self.number:02d}", year=self.year)
        if self.kind == "quarter":
            return Message(
                "Quý %(roman)s/%(year)s", roman=_ROMAN[self.number], number=self.number, year=self.year
            )
        return Message("Năm %(year)s", year=self.year)

    @property
    def first_day(self) -> date:
        if self.kind == "month":
            return date(self.year, self.number, 1)
        if self.kind == "quarter":
            return date(self.year, 3 * self.number - 2, 1)
        return date(self.year, 1, 1)

    @property
    def end_day(self) -> date:
        """The first day after the period."""
        if self.kind == "year":
            return date(self.year + 1, 1, 1)
        last_month = self.number if self.kind == "month" else 3 * self.number
        return date(self.year + 1, 1, 1) if last_month == 12 else date(self.year, last_month + 1, 1)

    @property
    def last_day(self) -> date:
        return self.end_day - timedelta(days=1)

    @property
    def start(self) -> datetime:
        """00:00 of the first day, Vietnam time (included)."""
        return datetime.combine(self.first_day, time.min, tzinfo=VIETNAM)

    @property
    def end(self) -> datetime:
        """00:00 of the day after the last one, Vietnam time (excluded)."""
        return datetime.combine(self.end_day, time.min, tzinfo=VIETNAM)

    def days(self) -> Iterator[date]:
        day = self.first_day
        while day < self.end_day:
            yield day
            day += timedelta(days=1)

    def months(self) -> list[Period]:
        first = self.first_day.month
        count = 1 if self.kind == "month" else 3 if self.kind == "quarter" else 12
        return [Period.month(self.year, m) for m in range(first, first + count)]

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def is_finished(self, now: datetime | None = None) -> bool:
        """Over in Vietnam time: its last day has ended."""
        return (now or datetime.now(VIETNAM)) >= self.end

    def previous(self) -> Period:
        if self.kind == "month":
            return (
                Period.month(self.year - 1, 12)
                if self.number == 1
                else Period.month(self.year, self.number - 1)
            )
        if self.kind == "quarter":
            return (
                Period(self.year - 1, "quarter", 4)
                if self.number == 1
                else Period(self.year, "quarter", self.number - 1)
            )
        return Period(self.year - 1, "year", 0)

    def __str__(self) -> str:
        return self.key


def last_months(count: int = 12, *, until: Period | None = None, now: datetime | None = None) -> list[Period]:
    """``count`` months ending with ``until`` (the current month by default), oldest first: the
    trend charts' 12 months."""
    month = until if until is not None else Period.current_month(now)
    if month.kind != "month":
        raise ValueError("last_months ends at a month")
    months = [month]
    while len(months) < count:
        months.append(months[-1].previous())
    return months[::-1]


def vietnam_day(moment: datetime) -> date:
    return moment.astimezone(VIETNAM).date()
