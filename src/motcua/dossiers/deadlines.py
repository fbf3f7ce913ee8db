"""Deadline engine: working calendars, due dates, the reception deadline, and the paused clock.

Everything is computed on Vietnam wall-clock time. Vietnam has had no daylight saving since 1975,
so once a moment is converted to Asia/Ho_Chi_Minh its naive wall time can be added and subtracted
like plain numbers; the code below relies on that and only re-attaches the zone on the way out.

Working time is measured through one monotone function, the *working clock* W(t): the working
microseconds elapsed up to t. It is flat outside working periods and on days off, and grows at
real speed inside a period. Then

* ``working_hours_between(a, b)`` is W(b) - W(a),
* ``add_working_hours(s, h)`` is the earliest t with W(t) = W(s) + h,

so the two are exact inverses, and the "earliest" picks 17:00 of the same day (not 07:00 of the
next) when a deadline lands on the end of a period. W is evaluated per day, with whole runs of
working days counted by bisecting a per-year table of working-day ordinals, so neither function
loops over minutes or even days: a 60-working-day due date costs a couple of bisections.

Public holidays come from the ``holidays`` package (Labour Code 2019 art. 112, plus the
government's yearly announcements of swapped days). For Tết it gives five days off: Lunar New
Year's Eve and the first four days of the new year, a day falling on a weekend being moved to
the nearest weekday (e.g. Tết 2026 = Mon 16 - Fri 20 Feb 2026, so with the weekends Sat 14 -
Sun 22 Feb is off; Tết 2025 = Mon 27 Jan - Sat 1 Feb; Tết 2027 = Thu 4 - Wed 10 Feb). The
package also knows the government's swapped days for some years: the weekday given off
("Day off (substituted from ...)") and the Saturday worked in exchange (its
``weekend_workdays``, e.g. Sat 26 Apr 2025 and Sat 22 Aug 2026) — both are honoured here.
Anything the package does not know (a province's extra Tết days, a local festival, a make-up
Saturday announced late) is tenant data: ``extra_days_off`` and ``makeup_working_days``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import holidays

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

_US_PER_HOUR = 3_600_000_000

# Decree 42/2022/NĐ-CP: the one-stop desk must accept or refuse an online dossier within
# 8 working hours of it arriving.
RECEPTION_HOURS = 8


@dataclass(frozen=True)
class WorkingPeriod:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            # Periods are Vietnam wall-clock times; a zone here would suggest otherwise.
            raise ValueError(f"working period {self} must use naive (Vietnam wall-clock) times")
        if self.start >= self.end:
            raise ValueError(f"working period {self.start:%H:%M}-{self.end:%H:%M} must end after it starts")


# Provincial People's Committees set the office hours; 07:00-11:30 and 13:30-17:00 is the most
# common pattern and gives the 8-hour day of Decision 188/1999/QĐ-TTg.
DEFAULT_PERIODS: tuple[WorkingPeriod, ...] = (
    WorkingPeriod(time(7, 0), time(11, 30)),
    WorkingPeriod(time(13, 30), time(17, 0)),
)


@functools.cache
def _national_days(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """Public holidays and government make-up Saturdays falling in ``year``.

    A swap can cross a year boundary (31 Dec 2018 off, worked back on Sat 5 Jan 2019), and the
    package files it under the year of the day off, so the neighbouring years are loaded too.
    """
    table = holidays.country_holidays("VN", years=(year - 1, year, year + 1))
    days_off = frozenset(day for day in table if day.year == year)
    makeup = frozenset(day for day in table.weekend_workdays if day.year == year)
    return days_off, makeup


def _to_vietnam(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive datetime could be UTC from the database or local from a form; guessing
        # would silently shift deadlines by 7 hours.
        raise ValueError(f"{moment.isoformat()} is naive; pass a timezone-aware datetime")
    if moment.tzinfo is VIETNAM:
        return moment.replace(tzinfo=None)
    return moment.astimezone(VIETNAM).replace(tzinfo=None)


def _time_us(moment: datetime | time) -> int:
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1_000_000 + moment.microsecond


def _hours_to_us(hours: float | Decimal) -> int:
    if isinstance(hours, Decimal):
        if not hours.is_finite():
            raise ValueError(f"working hours must be finite, got {hours}")
        us = int((hours * _US_PER_HOUR).to_integral_value())
    else:
        if not math.isfinite(hours):
            raise ValueError(f"working hours must be finite, got {hours}")
        us = round(hours * _US_PER_HOUR)
    if us < 0:
        raise ValueError(f"working hours must not be negative, got {hours}")
    return us


@dataclass(frozen=True)
class WorkCalendar:
    periods: tuple[WorkingPeriod, ...] = DEFAULT_PERIODS
    extra_days_off: frozenset[date] = frozenset()
    makeup_working_days: frozenset[date] = frozenset()
    country_holidays: bool = True
    # Per-year sorted ordinals of working days, filled lazily: the scan asks about the same
    # few years 100,000 times over.
    _years: dict[int, tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("a working calendar needs at least one working period")
        ordered = sorted(self.periods, key=lambda p: p.start)
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                raise ValueError(
                    f"working periods {before.start:%H:%M}-{before.end:%H:%M} and "
                    f"{after.start:%H:%M}-{after.end:%H:%M} overlap"
                )
        both = self.extra_days_off & self.makeup_working_days
        if both:
            listed = ", ".join(day.isoformat() for day in sorted(both))
            raise ValueError(f"{listed} cannot be both a day off and a make-up working day")
        # Normalised so a list or set passed by a caller cannot break hashing or ordering.
        object.__setattr__(self, "periods", tuple(ordered))
        object.__setattr__(self, "extra_days_off", frozenset(self.extra_days_off))
        object.__setattr__(self, "makeup_working_days", frozenset(self.makeup_working_days))

    # -- days ---------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        # The tenant's own announcements are the most specific source, so they win over the
        # national table; a make-up Saturday is worked even though Decision 188/1999/QĐ-TTg
        # makes Saturdays rest days.
        if day in self.makeup_working_days:
            return True
        if day in self.extra_days_off:
            return False
        if self.country_holidays:
            national_off, national_makeup = _national_days(day.year)
            if day in national_off:
                return False
            if day in national_makeup:
                return True
        return day.weekday() < 5

    def _working_ordinals(self, year: int) -> tuple[int, ...]:
        cached = self._years.get(year)
        if cached is None:
            # Callers rebuild calendars from tenant settings per request; equal calendars share
            # the table through the module-level cache.
            cached = _year_table(self, year)
            self._years[year] = cached
        return cached

    def _working_days_in(self, first: int, stop: int) -> int:
        """Working days with ordinal in [first, stop)."""
        count = 0
        while first < stop:
            year = date.fromordinal(first).year
            ordinals = self._working_ordinals(year)
            year_stop = min(stop, date(year, 12, 31).toordinal() + 1)
            count += bisect.bisect_left(ordinals, year_stop) - bisect.bisect_left(ordinals, first)
            first = year_stop
        return count

    def _nth_working_day_after(self, ordinal: int, n: int) -> int:
        """Ordinal of the n-th (n >= 1) working day strictly after ``ordinal``."""
        year = date.fromordinal(ordinal).year
        ordinals = self._working_ordinals(year)
        index = bisect.bisect_right(ordinals, ordinal)
        while index + n > len(ordinals):
            n -= len(ordinals) - index
            year += 1
            ordinals = self._working_ordinals(year)
            index = 0
        return ordinals[index + n - 1]

    # -- within a day ---------------------------------------------------------------------------

    @functools.cached_property
    def _spans(self) -> tuple[tuple[int, int], ...]:
        return tuple((_time_us(p.start), _time_us(p.end)) for p in self.periods)

    @functools.cached_property
    def _day_us(self) -> int:
        return sum(end - start for start, end in self._spans)

    def _elapsed_in_day(self, time_us: int) -> int:
        """Working microseconds between midnight and ``time_us`` on a working day."""
        elapsed = 0
        for start, end in self._spans:
            if time_us <= start:
                break
            elapsed += min(time_us, end) - start
        return elapsed

    def _moment_in_day(self, elapsed: int) -> int:
        """Earliest time of day by which ``elapsed`` (0 < elapsed <= day) working us have passed."""
        for start, end in self._spans:
            if elapsed <= end - start:
                return start + elapsed
            elapsed -= end - start
        raise AssertionError("elapsed exceeds the working day")  # pragma: no cover

    def _at(self, ordinal: int, time_us: int) -> datetime:
        # Naive Vietnam wall time; the zone is attached once, by the public callers.
        return datetime.fromordinal(ordinal) + timedelta(microseconds=time_us)

    def _clock(self, local: datetime) -> tuple[int, int, bool]:
        """(ordinal, working us already done that day, working day?) for a naive Vietnam time."""
        ordinal = local.toordinal()
        if not self.is_working_day(local.date()):
            return ordinal, 0, False
        return ordinal, self._elapsed_in_day(_time_us(local)), True

    # -- public operations --------------------------------------------------------------------

    def next_working_moment(self, moment: datetime) -> datetime:
        # One-stop rule (Decree 61/2018): processing time runs only while the desk works, so a
        # dossier received outside office hours starts its clock when the desk next opens.
        # Periods are half-open, so exactly 17:00 (or 11:30) is already outside and rolls on.
        return self._next_working_local(_to_vietnam(moment)).replace(tzinfo=VIETNAM)

    def _next_working_local(self, local: datetime) -> datetime:
        ordinal = local.toordinal()
        if self.is_working_day(local.date()):
            now = _time_us(local)
            for start, end in self._spans:
                if now < end:
                    return self._at(ordinal, max(now, start))
        return self._at(self._nth_working_day_after(ordinal, 1), self._spans[0][0])

    def add_working_hours(self, start: datetime, hours: float | Decimal) -> datetime:
        # Adding nothing must not move a moment (and cannot be "the next morning"): the result is
        # the earliest moment at which ``hours`` of working time have elapsed since ``start``.
        amount = _hours_to_us(hours)
        if amount == 0:
            return _to_vietnam(start).replace(tzinfo=VIETNAM)
        return self._add_us(_to_vietnam(start), amount).replace(tzinfo=VIETNAM)

    def _add_us(self, local: datetime, amount: int) -> datetime:
        ordinal, done, working = self._clock(local)
        day = self._day_us
        target = done + amount
        if working:
            if target <= day:
                return self._at(ordinal, self._moment_in_day(target))
            target -= day
        whole_days, rest = divmod(target, day)
        if rest == 0:
            # Landing exactly on a day boundary means the end of the last period, not the next
            # morning.
            whole_days, rest = whole_days - 1, day
        due_ordinal = self._nth_working_day_after(ordinal, whole_days + 1)
        return self._at(due_ordinal, self._moment_in_day(rest))

    def _between_us(self, a: datetime, b: datetime) -> int:
        if b <= a:
            return 0
        a_ordinal, a_done, _ = self._clock(a)
        b_ordinal, b_done, _ = self._clock(b)
        return self._working_days_in(a_ordinal, b_ordinal) * self._day_us + b_done - a_done

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        return self._between_us(_to_vietnam(start), _to_vietnam(end)) / _US_PER_HOUR

    def end_of_working_day(self, moment: datetime) -> datetime:
        """Close of the desk on the day of ``moment`` (or of the next working day)."""
        first = self._next_working_local(_to_vietnam(moment))
        return self._at(first.toordinal(), self._spans[-1][1]).replace(tzinfo=VIETNAM)

    # -- configuration --------------------------------------------------------------------------

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> WorkCalendar:
        """Build a calendar from a tenant's ``[working_calendar]`` TOML table.

        Strings ("07:00", "2026-09-01") and TOML's native local times and dates are both
        accepted, so an editor may write either.
        """
        known = {"periods", "days_off", "makeup_days", "country_holidays"}
        unknown = sorted(set(data) - known)
        if unknown:
            # A misspelt key ("days_of") would otherwise silently drop a tenant's holidays.
            raise ValueError(
                f"working_calendar: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}"
            )
        kwargs: dict[str, Any] = {}
        if "periods" in data:
            kwargs["periods"] = _parse_periods(data["periods"])
        kwargs["extra_days_off"] = _parse_days(data.get("days_off", []), "days_off")
        kwargs["makeup_working_days"] = _parse_days(data.get("makeup_days", []), "makeup_days")
        if "country_holidays" in data:
            flag = data["country_holidays"]
            if not isinstance(flag, bool):
                raise ValueError(f"working_calendar.country_holidays must be true or false, got {flag!r}")
            kwargs["country_holidays"] = flag
        try:
            return cls(**kwargs)
        except ValueError as exc:
            raise ValueError(f"working_calendar: {exc}") from None


@functools.lru_cache(maxsize=1024)
def _year_table(calendar: WorkCalendar, year: int) -> tuple[int, ...]:
    first = date(year, 1, 1).toordinal()
    last = date(year, 12, 31).toordinal()
    return tuple(n for n in range(first, last + 1) if calendar.is_working_day(date.fromordinal(n)))


def _parse_time(value: Any, where: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            hour, minute = value.split(":")
            if len(hour) != 2 or len(minute) != 2:
                raise ValueError
            return time(int(hour), int(minute))
        except ValueError:
            pass
    raise ValueError(f'working_calendar.{where}: {value!r} is not a time of day like "07:30"')


def _parse_periods(raw: Any) -> tuple[WorkingPeriod, ...]:
    if not isinstance(raw, list | tuple) or not raw:
        raise ValueError(
            f"working_calendar.periods must be a non-empty list of [start, end] pairs, got {raw!r}"
        )
    periods = []
    for index, item in enumerate(raw):
        where = f"periods[{index}]"
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ValueError(f"working_calendar.{where}: {item!r} is not a [start, end] pair")
        start = _parse_time(item[0], where)
        end = _parse_time(item[1], where)
        if start >= end:
            raise ValueError(f"working_calendar.{where}: {item!r} must end after it starts")
        periods.append(WorkingPeriod(start, end))
    return tuple(periods)


def _parse_days(raw: Any, key: str) -> frozenset[date]:
    if not isinstance(raw, list | tuple):
        raise ValueError(f"working_calendar.{key} must be a list of dates, got {raw!r}")
    days = set()
    for index, item in enumerate(raw):
        # TOML's local date parses to ``date``; a datetime is a date subclass but would carry
        # a meaningless time, so it is refused like any other non-date.
        if isinstance(item, date) and not isinstance(item, datetime):
            days.add(item)
            continue
        try:
            if not isinstance(item, str):
                raise ValueError
            days.add(date.fromisoformat(item))
        except ValueError:
            raise ValueError(
                f'working_calendar.{key}[{index}]: {item!r} is not a date like "2026-09-01"'
            ) from None
    return frozenset(days)


class DurationUnit(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None

    def __post_init__(self) -> None:
        _to_vietnam(self.start)
        if self.end is not None and _to_vietnam(self.end) < _to_vietnam(self.start):
            raise ValueError(
                f"pause ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )

    @property
    def is_open(self) -> bool:
        return self.end is None


def _merged_pauses(pauses: Sequence[Pause], as_of: datetime | None) -> list[tuple[datetime, datetime]]:
    spans = []
    for pause in pauses:
        if pause.end is None:
            # Still waiting for the citizen: the clock is stopped up to now, and will stay
            # stopped, so the result is the earliest the dossier can possibly be due.
            end = _to_vietnam(as_of if as_of is not None else datetime.now(VIETNAM))
        else:
            end = _to_vietnam(pause.end)
        start = _to_vietnam(pause.start)
        if end > start:
            spans.append((start, end))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        # Two supplement requests open at once still stop one clock once.
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def due_date(
    calendar: WorkCalendar,
    received_at: datetime,
    amount: int,
    unit: DurationUnit,
    pauses: Sequence[Pause] = (),
    *,
    as_of: datetime | None = None,
) -> datetime:
    """The moment by which the result is owed (Vietnam time).

    The clock starts at the next working moment after receipt. A working day is one full day of
    the tenant's working periods (8 working hours with the defaults), counted forward from the
    start moment; 0 working days (a same-day procedure) means the close of that first day.
    A day rather than a fixed 8 hours because Decree 61/2018 counts days: a province whose
    office day is 7.5 hours still owes a 1-day result at the same time the next day.
    Calendar days run from the date the clock starts: the result is owed at the close of the
    desk (end of the last working period, 17:00 by default) on that date + ``amount``, or on
    the next working day if that date is a day off (Civil Code 2015 art. 148). The close of
    the desk rather than midnight, because a result can only be handed over while the desk
    is open, and so that both kinds of deadline are compared on the same footing.

    Supplement requests stop the clock (Decree 61/2018): the working time inside a
    pause does not count, so the due date moves later by the working hours the pause covered,
    for both kinds of duration. A pause that begins after the due date has passed does not
    rescue a dossier that was already late. An open pause is counted as ending at ``as_of``
    (default: now): the result is then "due no earlier than", and it keeps moving while the
    pause lasts, so a paused dossier never shows as overdue.
    """
    if amount < 0:
        raise ValueError(f"a processing time cannot be negative, got {amount}")
    # The catalogue stores the unit as its TOML string; an unknown one fails loudly here.
    unit = DurationUnit(unit)
    start = calendar._next_working_local(_to_vietnam(received_at))
    day = calendar._day_us
    if unit is DurationUnit.WORKING_DAYS:
        # 1 day from 15:00 Monday is 15:00 Tuesday; from 07:00 Monday it is 17:00 Monday.
        budget = amount * day
        if amount == 0:
            budget = day - calendar._elapsed_in_day(_time_us(start))
    else:
        last = start.toordinal() + amount
        if not calendar.is_working_day(date.fromordinal(last)):
            last = calendar._nth_working_day_after(last, 1)
        nominal = calendar._at(last, calendar._spans[-1][1])
        budget = calendar._between_us(start, nominal)

    cursor = start
    for pause_start, pause_end in _merged_pauses(pauses, as_of):
        if pause_end <= cursor:
            continue
        available = calendar._between_us(cursor, pause_start)
        if budget <= available:
            break
        budget -= available
        cursor = max(cursor, pause_end)
    return calendar._add_us(cursor, budget).replace(tzinfo=VIETNAM)


def reception_deadline(calendar: WorkCalendar, received_at: datetime) -> datetime:
    # Decree 42/2022/NĐ-CP: an online dossier must be accepted or refused within 8 working
    # hours; arriving at night or on a holiday starts that clock when the desk opens.
    return calendar.add_working_hours(received_at, RECEPTION_HOURS)
