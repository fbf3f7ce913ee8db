"""The deadline engine, as tables of hand-worked cases.

Calendar facts used throughout (checked against the ``holidays`` package in the first tests):
2026-03-02 is a Monday; Tết 2026 = Mon 16 - Fri 20 Feb 2026 (with the weekends, Sat 14 - Sun 22
Feb is off); 2026-01-01 is a holiday; Hùng Kings 2026 falls on Sun 26 Apr and is observed Mon 27
Apr; 30 Apr and 1 May 2026 are off; for National Day 2026 the government swapped Mon 31 Aug off
against Sat 22 Aug worked, with 1-2 Sep off. Default hours: 07:00-11:30 and 13:30-17:00.
"""

from __future__ import annotations

import functools
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest

from motcua.dossiers.deadlines import (
    VIETNAM,
    DurationUnit,
    Pause,
    WorkCalendar,
    WorkingPeriod,
    due_date,
    reception_deadline,
)

WD = DurationUnit.WORKING_DAYS
CD = DurationUnit.CALENDAR_DAYS
DEFAULT = WorkCalendar()
# Sat 7 Mar 2026 worked (e.g. to make up a bridged day), Tue 3 Mar 2026 given off locally.
MAKEUP_SAT = WorkCalendar(makeup_working_days=frozenset({date(2026, 3, 7)}))
EXTRA_OFF = WorkCalendar(extra_days_off=frozenset({date(2026, 3, 3)}))


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM)


# -- the holidays package: what it says about Vietnam ------------------------------------------


def test_holidays_package_gives_five_tet_days_in_2026() -> None:
    table = holidays.country_holidays("VN", years=2026)
    tet = sorted(day for day in table if day.month == 2)
    assert tet == [date(2026, 2, d) for d in (16, 17, 18, 19, 20)]
    assert date(2026, 8, 22) in table.weekend_workdays


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 3, 2), True),  # an ordinary Monday
        (date(2026, 3, 7), False),  # Saturday
        (date(2026, 3, 8), False),  # Sunday
        (date(2026, 1, 1), False),  # New Year's Day
        (date(2026, 1, 2), True),  # no bridge day in 2026
        (date(2026, 2, 13), True),  # last working day before Tết
        (date(2026, 2, 16), False),  # Lunar New Year's Eve
        (date(2026, 2, 17), False),  # Tết, first day
        (date(2026, 2, 20), False),  # fourth day of Tết
        (date(2026, 2, 23), True),  # first working day after Tết
        (date(2026, 4, 27), False),  # Hùng Kings observed (the day itself was a Sunday)
        (date(2026, 8, 22), True),  # Saturday worked in exchange for Mon 31 Aug (package)
        (date(2026, 8, 31), False),  # the swapped day off
        (date(2026, 9, 1), False),  # National Day, second day
        (date(2025, 4, 26), True),  # Saturday worked in exchange for Fri 2 May 2025 (package)
        (date(2025, 5, 2), False),
        (date(2019, 1, 5), True),  # make-up Saturday filed under the previous year's swap
    ],
)
def test_is_working_day_default(day: date, working: bool) -> None:
    assert DEFAULT.is_working_day(day) is working


@pytest.mark.parametrize(
    ("calendar", "day", "working"),
    [
        (MAKEUP_SAT, date(2026, 3, 7), True),  # tenant make-up Saturday is worked
        (MAKEUP_SAT, date(2026, 3, 14), False),  # ...only that Saturday
        (EXTRA_OFF, date(2026, 3, 3), False),  # tenant day off, though a Tuesday
        (WorkCalendar(extra_days_off=frozenset({date(2026, 8, 22)})), date(2026, 8, 22), False),
        (WorkCalendar(makeup_working_days=frozenset({date(2026, 9, 2)})), date(2026, 9, 2), True),
        (WorkCalendar(country_holidays=False), date(2026, 2, 17), True),  # a Tuesday, no holiday table
        (WorkCalendar(country_holidays=False), date(2026, 8, 22), False),  # and no package make-up day
    ],
)
def test_is_working_day_tenant_overrides(calendar: WorkCalendar, day: date, working: bool) -> None:
    assert calendar.is_working_day(day) is working


# -- next working moment ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (vn(2026, 3, 2, 9), vn(2026, 3, 2, 9)),  # inside the morning: unchanged
        (vn(2026, 3, 2, 7), vn(2026, 3, 2, 7)),  # opening time is inside
        (vn(2026, 3, 2, 6, 59), vn(2026, 3, 2, 7)),  # before opening
        (vn(2026, 3, 2, 11, 29), vn(2026, 3, 2, 11, 29)),
        (vn(2026, 3, 2, 11, 30), vn(2026, 3, 2, 13, 30)),  # the lunch break starts at 11:30
        (vn(2026, 3, 2, 12, 15), vn(2026, 3, 2, 13, 30)),
        (vn(2026, 3, 2, 17), vn(2026, 3, 3, 7)),  # closing time is already outside
        (vn(2026, 3, 6, 17, 30), vn(2026, 3, 9, 7)),  # Friday evening -> Monday morning
        (vn(2026, 3, 7, 10), vn(2026, 3, 9, 7)),  # Saturday -> Monday
        (vn(2026, 2, 13, 17), vn(2026, 2, 23, 7)),  # Friday before Tết -> Monday after
        (vn(2026, 2, 18, 10), vn(2026, 2, 23, 7)),  # during Tết
        (vn(2025, 12, 31, 18), vn(2026, 1, 2, 7)),  # across the year, skipping 1 Jan
    ],
)
def test_next_working_moment(moment: datetime, expected: datetime) -> None:
    assert DEFAULT.next_working_moment(moment) == expected


# -- working hours between ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (vn(2026, 3, 2, 8), vn(2026, 3, 2, 8), 0),  # empty
        (vn(2026, 3, 2, 10), vn(2026, 3, 2, 8), 0),  # reversed
        (vn(2026, 3, 2, 8), vn(2026, 3, 2, 10), 2),  # same morning
        (vn(2026, 3, 2, 10), vn(2026, 3, 2, 14), 2),  # 10:00-11:30 1.5 + 13:30-14:00 0.5
        (vn(2026, 3, 2, 12), vn(2026, 3, 2, 13), 0),  # all lunch
        (vn(2026, 3, 2, 6), vn(2026, 3, 2, 20), 8),  # a whole day, from before opening to after closing
        (vn(2026, 3, 2, 8), vn(2026, 3, 3, 8), 8),  # one day later = one working day
        (vn(2026, 3, 6, 16), vn(2026, 3, 9, 8), 2),  # Fri 16-17 1 + Mon 7-8 1, weekend skipped
        (vn(2026, 3, 6, 18), vn(2026, 3, 7, 23), 0),  # Friday night to Saturday night
        (vn(2026, 2, 13, 7), vn(2026, 2, 23, 7), 8),  # across Tết: only Fri 13 Feb counts
        (vn(2026, 2, 12, 9), vn(2026, 2, 24, 9), 24),  # Thu->Fri 8, Fri->Mon 23 8, Mon->Tue 8
        (vn(2025, 12, 29, 7), vn(2026, 1, 5, 7), 32),  # Mon 29, Tue 30, Wed 31 Dec, Fri 2 Jan
    ],
)
def test_working_hours_between(start: datetime, end: datetime, hours: float) -> None:
    assert DEFAULT.working_hours_between(start, end) == pytest.approx(hours)


def test_working_hours_between_around_national_day_2026() -> None:
    # Fri 21 Aug, Sat 22 Aug (make-up), Mon 24 - Fri 28 Aug (5 days), [Sat 29 - Wed 2 Sep off:
    # weekend, swapped Mon 31, National Day 1-2 Sep], Thu 3 Sep -> 8 working days = 64 h.
    assert DEFAULT.working_hours_between(vn(2026, 8, 21, 7), vn(2026, 9, 4, 7)) == 64


def test_working_hours_between_accepts_other_time_zones() -> None:
    # 01:00 UTC = 08:00 Vietnam and 03:00 UTC = 10:00 Vietnam on Mon 2 Mar 2026.
    start = datetime(2026, 3, 2, 1, tzinfo=UTC)
    end = datetime(2026, 3, 2, 3, tzinfo=UTC)
    assert DEFAULT.working_hours_between(start, end) == 2


# -- add working hours ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (vn(2026, 3, 2, 8), 0, vn(2026, 3, 2, 8)),  # adding nothing moves nothing
        (vn(2026, 3, 2, 8), 3.5, vn(2026, 3, 2, 11, 30)),  # lands on the end of the morning: kept
        (vn(2026, 3, 2, 8), 3.75, vn(2026, 3, 2, 13, 45)),  # 3.5 to 11:30, 0.25 after 13:30
        (vn(2026, 3, 2, 11, 15), Decimal("0.5"), vn(2026, 3, 2, 13, 45)),  # 0.25 + 0.25 across lunch
        (vn(2026, 3, 2, 7), 8, vn(2026, 3, 2, 17)),  # a full day ends at 17:00 the same day
        (vn(2026, 3, 6, 16), 2, vn(2026, 3, 9, 8)),  # Fri 16-17 1 h, Mon 7-8 1 h
        (vn(2026, 3, 8, 10), 8, vn(2026, 3, 9, 17)),  # from a Sunday: all of Monday
        (vn(2026, 3, 2, 12), 1, vn(2026, 3, 2, 14, 30)),  # from lunch: clock starts 13:30
        (vn(2026, 2, 13, 16), 1, vn(2026, 2, 13, 17)),  # the last hour before Tết
        (vn(2026, 2, 13, 16), 1.5, vn(2026, 2, 23, 7, 30)),  # ...and half an hour after it
        # 100 working days from Mon 2 Mar 07:00: Mar 22, Apr 20 (27 and 30 off), May 20 (1 off),
        # Jun 22 -> 84, Jul 1-3 87, 6-10 92, 13-17 97, 20, 21, 22 -> 100th day is Wed 22 Jul.
        (vn(2026, 3, 2, 7), 800, vn(2026, 7, 22, 17)),
    ],
)
def test_add_working_hours(start: datetime, hours: float | Decimal, expected: datetime) -> None:
    result = DEFAULT.add_working_hours(start, hours)
    assert result == expected
    assert result.tzinfo is VIETNAM


def test_add_working_hours_returns_vietnam_time_for_foreign_input() -> None:
    # 2026-03-30 03:00 in Paris is summer time (UTC+2) = 01:00 UTC = 08:00 Monday in Vietnam.
    start = datetime(2026, 3, 30, 3, tzinfo=ZoneInfo("Europe/Paris"))
    result = DEFAULT.add_working_hours(start, 2)
    assert result == vn(2026, 3, 30, 10)
    assert result.tzinfo is VIETNAM
    assert (result.hour, result.utcoffset()) == (10, timedelta(hours=7))


# -- due dates: working days ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "received", "days", "expected"),
    [
        # 8 h counted from the receipt: 08:00 Mon -> 08:00 Tue.
        (DEFAULT, vn(2026, 3, 2, 8), 1, vn(2026, 3, 3, 8)),
        # 15-17 Mon 2 h, Tue 7-11:30 4.5 h, 13:30-15 1.5 h = 8 h.
        (DEFAULT, vn(2026, 3, 2, 15), 1, vn(2026, 3, 3, 15)),
        # From opening time the 8 h end at 17:00 the same day, not 07:00 the next.
        (DEFAULT, vn(2026, 3, 2, 7), 1, vn(2026, 3, 2, 17)),
        # After hours on Friday: the clock starts Mon 07:00, one day ends Mon 17:00.
        (DEFAULT, vn(2026, 3, 6, 17, 30), 1, vn(2026, 3, 9, 17)),
        # Exactly 17:00 is already after hours.
        (DEFAULT, vn(2026, 3, 6, 17), 1, vn(2026, 3, 9, 17)),
        # Before opening: starts Tue 07:00, two full days -> Wed 17:00.
        (DEFAULT, vn(2026, 3, 3, 6), 2, vn(2026, 3, 4, 17)),
        # Lunch break: starts 13:30 Mon, 3.5 h Mon + 4.5 h Tue morning -> Tue 11:30 (end kept).
        (DEFAULT, vn(2026, 3, 2, 12, 15), 1, vn(2026, 3, 3, 11, 30)),
        # Weekend: Thu 10:00 + 1 day = Fri 10:00, + 1 day = Mon 10:00.
        (DEFAULT, vn(2026, 3, 5, 10), 2, vn(2026, 3, 9, 10)),
        # Received on Saturday: starts Mon 07:00.
        (DEFAULT, vn(2026, 3, 7, 9), 1, vn(2026, 3, 9, 17)),
        # Just before Tết: Fri 13 Feb 15-17 2 h, the rest (6 h) on Mon 23 Feb -> 15:00.
        (DEFAULT, vn(2026, 2, 13, 15), 1, vn(2026, 2, 23, 15)),
        # Thu 12 Feb 09:00: Fri 13 09:00 (1), Mon 23 (2), Tue 24 (3), Wed 25 (4), Thu 26 (5).
        (DEFAULT, vn(2026, 2, 12, 9), 5, vn(2026, 2, 26, 9)),
        # Received during Tết: starts Mon 23 Feb 07:00, 3 full days -> Wed 25 Feb 17:00.
        (DEFAULT, vn(2026, 2, 18, 10), 3, vn(2026, 2, 25, 17)),
        # National Day 2026: Fri 28 Aug 15-17 2 h; Sat-Sun, swapped Mon 31, 1-2 Sep off; Thu 3 Sep 6 h.
        (DEFAULT, vn(2026, 8, 28, 15), 1, vn(2026, 9, 3, 15)),
        # The package's make-up Saturday counts: Fri 21 Aug 10:00 + 1 day = Sat 22 Aug 10:00.
        (DEFAULT, vn(2026, 8, 21, 10), 1, vn(2026, 8, 22, 10)),
        # Tenant make-up Saturday 7 Mar: Fri 10:00 + 1 day = Sat 10:00.
        (MAKEUP_SAT, vn(2026, 3, 6, 10), 1, vn(2026, 3, 7, 10)),
        # ...and a receipt after hours on Friday starts on that Saturday morning.
        (MAKEUP_SAT, vn(2026, 3, 6, 17, 30), 1, vn(2026, 3, 7, 17)),
        # Tenant day off Tue 3 Mar: Mon 08:00 + 1 day skips Tuesday -> Wed 08:00.
        (EXTRA_OFF, vn(2026, 3, 2, 8), 1, vn(2026, 3, 4, 8)),
        # Received the evening before the day off: starts Wed 07:00.
        (EXTRA_OFF, vn(2026, 3, 2, 18), 1, vn(2026, 3, 4, 17)),
        # Long procedure: 100 days from Sunday 1 Mar start Mon 07:00 -> Wed 22 Jul 17:00 (see above).
        (DEFAULT, vn(2026, 3, 1, 10), 100, vn(2026, 7, 22, 17)),
    ],
)
def test_due_date_working_days(
    calendar: WorkCalendar, received: datetime, days: int, expected: datetime
) -> None:
    assert due_date(calendar, received, days, WD) == expected


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (vn(2026, 3, 2, 9), vn(2026, 3, 2, 17)),  # same day, close of the desk
        (vn(2026, 3, 2, 12), vn(2026, 3, 2, 17)),  # received at lunch: still today
        (vn(2026, 3, 2, 16, 59), vn(2026, 3, 2, 17)),
        (vn(2026, 3, 6, 18), vn(2026, 3, 9, 17)),  # Friday evening -> Monday
        (vn(2026, 2, 13, 17, 30), vn(2026, 2, 23, 17)),  # after hours before Tết
    ],
)
def test_same_day_procedure(received: datetime, expected: datetime) -> None:
    assert due_date(DEFAULT, received, 0, WD) == expected


def test_working_day_is_the_tenant_day_length() -> None:
    # A province open 07:30-11:30 and 13:30-17:00 (7.5 h): one working day from Mon 08:00 is
    # still Tue 08:00 (3.5 + 3.5 on Monday, 0.5 on Tuesday = 7.5 h).
    short = WorkCalendar(
        periods=(WorkingPeriod(time(7, 30), time(11, 30)), WorkingPeriod(time(13, 30), time(17)))
    )
    assert due_date(short, vn(2026, 3, 2, 8), 1, WD) == vn(2026, 3, 3, 8)
    # ...while the reception deadline stays 8 working hours: Tue 08:00 + 0.5 h = 08:30.
    assert reception_deadline(short, vn(2026, 3, 2, 8)) == vn(2026, 3, 3, 8, 30)


# -- due dates: calendar days -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "received", "days", "expected"),
    [
        (DEFAULT, vn(2026, 3, 2, 10), 3, vn(2026, 3, 5, 17)),  # Mon + 3 = Thu, at closing time
        (DEFAULT, vn(2026, 3, 4, 8), 4, vn(2026, 3, 9, 17)),  # Wed + 4 = Sun -> Mon
        (DEFAULT, vn(2026, 3, 2, 10), 5, vn(2026, 3, 9, 17)),  # Mon + 5 = Sat -> Mon
        (DEFAULT, vn(2026, 3, 2, 10), 0, vn(2026, 3, 2, 17)),  # 0 days: today's close
        # Friday 17:30: the clock starts Mon 9 Mar, + 3 = Thu 12 Mar.
        (DEFAULT, vn(2026, 3, 6, 17, 30), 3, vn(2026, 3, 12, 17)),
        # Tue 10 Feb + 7 = Tue 17 Feb, Tết -> first working day Mon 23 Feb.
        (DEFAULT, vn(2026, 2, 10, 9), 7, vn(2026, 2, 23, 17)),
        # Landing on a tenant make-up Saturday: Mon 2 + 5 = Sat 7 Mar, worked.
        (MAKEUP_SAT, vn(2026, 3, 2, 9), 5, vn(2026, 3, 7, 17)),
        # Landing on a tenant day off: Mon 2 + 1 = Tue 3 (off) -> Wed 4.
        (EXTRA_OFF, vn(2026, 3, 2, 9), 1, vn(2026, 3, 4, 17)),
    ],
)
def test_due_date_calendar_days(
    calendar: WorkCalendar, received: datetime, days: int, expected: datetime
) -> None:
    assert due_date(calendar, received, days, CD) == expected


# -- pauses -----------------------------------------------------------------------------------------

MON_8 = vn(2026, 3, 2, 8)


@pytest.mark.parametrize(
    ("days", "pauses", "expected"),
    [
        # 3 days from Mon 08:00 -> Thu 08:00. Pause Tue 09:00-14:00 covers 2.5 + 0.5 = 3 working
        # hours -> Thu 11:00.
        (3, [Pause(vn(2026, 3, 3, 9), vn(2026, 3, 3, 14))], vn(2026, 3, 5, 11)),
        # Plus Wed 16:00 - Thu 07:30 (1 + 0.5 h): 4.5 h in all -> Thu 08:00 + 3.5 h = 11:30, + 1 h
        # after lunch = 14:30.
        (
            3,
            [Pause(vn(2026, 3, 3, 9), vn(2026, 3, 3, 14)), Pause(vn(2026, 3, 4, 16), vn(2026, 3, 5, 7, 30))],
            vn(2026, 3, 5, 14, 30),
        ),
        # The same pauses given out of order.
        (
            3,
            [Pause(vn(2026, 3, 4, 16), vn(2026, 3, 5, 7, 30)), Pause(vn(2026, 3, 3, 9), vn(2026, 3, 3, 14))],
            vn(2026, 3, 5, 14, 30),
        ),
        # Overlapping requests stop the clock once: still 3 h -> Thu 11:00.
        (
            3,
            [Pause(vn(2026, 3, 3, 9), vn(2026, 3, 3, 14)), Pause(vn(2026, 3, 3, 11), vn(2026, 3, 3, 12))],
            vn(2026, 3, 5, 11),
        ),
        # 5 days -> Mon 9 Mar 08:00. Pause Fri 15:00 - Tue 10 Mar 09:00 spans the weekend: Fri 2 h +
        # Mon 8 h + Tue 2 h = 12 h -> Mon 08:00 + 7 h (to 17:00) + 4.5 h (Tue morning) + 0.5 h = Tue 14:00.
        (5, [Pause(vn(2026, 3, 6, 15), vn(2026, 3, 10, 9))], vn(2026, 3, 10, 14)),
        # A pause entirely inside the weekend stops no working time: unchanged Mon 9 Mar 08:00.
        (5, [Pause(vn(2026, 3, 7, 9), vn(2026, 3, 8, 18))], vn(2026, 3, 9, 8)),
        # A pause asked for after the due date had passed (Tue 08:00) does not rescue it.
        (1, [Pause(vn(2026, 3, 4, 9), vn(2026, 3, 5, 9))], vn(2026, 3, 3, 8)),
        # A pause straddling the due date: 7.5 h ran before it (Mon 7, Tue 07:00-07:30), 0.5 h
        # after Tue 10:00 -> 10:30 (= 08:00 + the 2.5 paused hours).
        (1, [Pause(vn(2026, 3, 3, 7, 30), vn(2026, 3, 3, 10))], vn(2026, 3, 3, 10, 30)),
        # Zero-length pause: nothing changes.
        (1, [Pause(vn(2026, 3, 2, 9), vn(2026, 3, 2, 9))], vn(2026, 3, 3, 8)),
        # A pause from before receipt counts only from the start of the clock: Mon 08:00-10:00
        # paused, so 8 h from Mon 10:00 = Tue 10:00.
        (1, [Pause(vn(2026, 3, 1, 9), vn(2026, 3, 2, 10))], vn(2026, 3, 3, 10)),
    ],
)
def test_pauses_move_the_due_date(days: int, pauses: list[Pause], expected: datetime) -> None:
    assert due_date(DEFAULT, MON_8, days, WD, pauses) == expected


def test_pause_across_tet() -> None:
    # 2 days from Wed 11 Feb 08:00 -> Fri 13 Feb 08:00. Paused Thu 12 Feb 16:00 until Tue 24 Feb
    # 08:00: Thu 1 h + Fri 8 h + Mon 23 8 h + Tue 1 h = 18 working hours (Tết days do not count).
    # Before it 14 h ran (Wed 08:00-17:00 3.5 + 3.5, Thu 07:00-16:00 4.5 + 2.5), 2 h are left from
    # Tue 24 Feb 08:00 -> 10:00. Same as Fri 13 08:00 + 18 h: Fri 7, Mon 23 8, Tue 07:00-10:00 3.
    pause = Pause(vn(2026, 2, 12, 16), vn(2026, 2, 24, 8))
    assert due_date(DEFAULT, vn(2026, 2, 11, 8), 2, WD, [pause]) == vn(2026, 2, 24, 10)


def test_pause_with_calendar_days() -> None:
    # Mon 2 + 3 = Thu 5 Mar 17:00; paused Tue 13:30 - Wed 13:30 = 3.5 + 4.5 = 8 working hours
    # -> Fri 6 Mar 17:00.
    pause = Pause(vn(2026, 3, 3, 13, 30), vn(2026, 3, 4, 13, 30))
    assert due_date(DEFAULT, vn(2026, 3, 2, 9), 3, CD, [pause]) == vn(2026, 3, 6, 17)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # Open since Tue 09:00; as of Tue 14:00 it is the closed case above: 3 h -> Thu 11:00.
        (vn(2026, 3, 3, 14), vn(2026, 3, 5, 11)),
        # As of Wed 09:00, 8 working hours paused -> Thu 08:00 + 8 h = Fri 6 Mar 08:00.
        (vn(2026, 3, 4, 9), vn(2026, 3, 6, 8)),
        # As of Saturday: paused Tue 09:00 - Fri 17:00 = 6 + 8 + 8 = 22 h; 9 h had run (Mon 7 h,
        # Tue 2 h), 15 h left from the next working moment Mon 9 Mar 07:00: Mon 8 h, then 7 h on
        # Tue 10 Mar = 07:00-11:30 4.5 + 13:30-16:00 2.5 -> 16:00.
        (vn(2026, 3, 7, 10), vn(2026, 3, 10, 16)),
    ],
)
def test_open_pause_counts_until_as_of(as_of: datetime, expected: datetime) -> None:
    pause = Pause(vn(2026, 3, 3, 9), None)
    assert pause.is_open
    assert due_date(DEFAULT, MON_8, 3, WD, [pause], as_of=as_of) == expected


def test_open_pause_defaults_to_now_and_is_never_overdue() -> None:
    before = datetime.now(VIETNAM)
    due = due_date(DEFAULT, vn(2025, 1, 6, 8), 3, WD, [Pause(vn(2025, 1, 7, 9), None)])
    # 9 h ran before the pause, 15 h remain from whenever the citizen answers.
    assert due > before
    assert DEFAULT.working_hours_between(before, due) >= 15 - 0.01


# -- reception deadline (Decree 42/2022: 8 working hours) -------------------------------------------


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (vn(2026, 3, 2, 9), vn(2026, 3, 3, 9)),  # during hours: the same time next working day
        (vn(2026, 3, 6, 20), vn(2026, 3, 9, 17)),  # Friday night: all of Monday
        # 10:30 UTC Friday = 17:30 Vietnam: all of Monday.
        (datetime(2026, 3, 6, 10, 30, tzinfo=UTC), vn(2026, 3, 9, 17)),
        # Fri 13 Feb 16:00: 1 h, then 7 h on Mon 23 Feb: 4.5 to 11:30, 2.5 after lunch -> 16:00.
        (vn(2026, 2, 13, 16), vn(2026, 2, 23, 16)),
    ],
)
def test_reception_deadline(received: datetime, expected: datetime) -> None:
    assert reception_deadline(DEFAULT, received) == expected


# -- time zones -------------------------------------------------------------------------------------


def test_due_date_from_foreign_zone_is_in_vietnam_time() -> None:
    # 02:00 in Paris (winter, UTC+1) on Mon 2 Mar = 01:00 UTC = 08:00 Vietnam -> Tue 08:00 Vietnam.
    received = datetime(2026, 3, 2, 2, tzinfo=ZoneInfo("Europe/Paris"))
    due = due_date(DEFAULT, received, 1, WD)
    assert due == datetime(2026, 3, 3, 1, tzinfo=UTC)
    assert due.tzinfo is VIETNAM and (due.hour, due.minute) == (8, 0)


def test_utc_evening_is_next_morning_in_vietnam() -> None:
    # Sun 1 Mar 23:30 UTC is Mon 2 Mar 06:30 in Vietnam: the clock starts Monday 07:00.
    received = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert due_date(DEFAULT, received, 1, WD) == vn(2026, 3, 2, 17)


# -- bad input --------------------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        due_date(DEFAULT, datetime(2026, 3, 2, 8), 1, WD)
    with pytest.raises(ValueError, match="naive"):
        DEFAULT.working_hours_between(datetime(2026, 3, 2, 8), vn(2026, 3, 2, 9))


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        due_date(DEFAULT, MON_8, -1, WD)
    with pytest.raises(ValueError, match="negative"):
        DEFAULT.add_working_hours(MON_8, -0.5)


def test_unit_given_as_catalogue_string() -> None:
    # The catalogue TOML says unit = "calendar_days": Mon 2 + 3 = Thu 5 Mar, 17:00.
    assert due_date(DEFAULT, vn(2026, 3, 2, 10), 3, "calendar_days") == vn(2026, 3, 5, 17)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'hours' is not a valid DurationUnit"):
        due_date(DEFAULT, MON_8, 1, "hours")  # type: ignore[arg-type]


def test_pause_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Pause(vn(2026, 3, 3), vn(2026, 3, 2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"periods": ()}, "at least one working period"),
        ({"periods": (WorkingPeriod(time(7), time(12)), WorkingPeriod(time(11), time(17)))}, "overlap"),
        (
            {
                "extra_days_off": frozenset({date(2026, 3, 7)}),
                "makeup_working_days": frozenset({date(2026, 3, 7)}),
            },
            "2026-03-07 cannot be both",
        ),
    ],
)
def test_bad_calendar_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkCalendar(**kwargs)


def test_working_period_must_end_after_start() -> None:
    with pytest.raises(ValueError, match="11:30-07:00 must end after"):
        WorkingPeriod(time(11, 30), time(7))


# -- tenant configuration ---------------------------------------------------------------------------


def test_from_config_tenant_shape() -> None:
    calendar = WorkCalendar.from_config(
        {
            "periods": [["07:00", "11:30"], ["13:30", "17:00"]],
            "days_off": ["2026-09-01"],
            "makeup_days": ["2026-04-25"],
        }
    )
    assert calendar == WorkCalendar(
        extra_days_off=frozenset({date(2026, 9, 1)}), makeup_working_days=frozenset({date(2026, 4, 25)})
    )
    assert calendar.is_working_day(date(2026, 4, 25))  # a Saturday, made a working day


def test_from_config_accepts_toml_native_values_and_defaults() -> None:
    calendar = WorkCalendar.from_config(
        {"periods": [[time(7, 30), time(11, 30)], ["13:00", "16:30"]], "days_off": [date(2026, 3, 3)]}
    )
    assert calendar.periods == (
        WorkingPeriod(time(7, 30), time(11, 30)),
        WorkingPeriod(time(13), time(16, 30)),
    )
    assert not calendar.is_working_day(date(2026, 3, 3))
    assert WorkCalendar.from_config({}) == DEFAULT
    assert WorkCalendar.from_config({"country_holidays": False}).is_working_day(date(2026, 2, 17))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"periods": [["07:00", "25:00"]]}, r"periods\[0\]: '25:00' is not a time"),
        ({"periods": [["7h", "11:30"]]}, r"periods\[0\]: '7h' is not a time"),
        ({"periods": [["07:00", "11:30"], ["13:30", 17]]}, r"periods\[1\]: 17 is not a time"),
        ({"periods": [["11:30", "07:00"]]}, r"periods\[0\]: \['11:30', '07:00'\] must end after"),
        ({"periods": [["07:00", "11:30"], ["11:00", "17:00"]]}, "07:00-11:30 and 11:00-17:00 overlap"),
        ({"periods": [["07:00"]]}, r"periods\[0\]: \['07:00'\] is not a \[start, end\] pair"),
        ({"periods": []}, "periods must be a non-empty list"),
        ({"periods": "07:00-17:00"}, "periods must be a non-empty list"),
        ({"days_off": ["2026-02-30"]}, r"days_off\[0\]: '2026-02-30' is not a date"),
        ({"days_off": ["2026-09-01", "1/9/2026"]}, r"days_off\[1\]: '1/9/2026' is not a date"),
        ({"makeup_days": "2026-04-25"}, "makeup_days must be a list"),
        ({"makeup_days": [20260425]}, r"makeup_days\[0\]: 20260425 is not a date"),
        ({"days_off": ["2026-04-25"], "makeup_days": ["2026-04-25"]}, "2026-04-25 cannot be both"),
        ({"days_of": ["2026-09-01"]}, "unknown key.*days_of"),
        ({"country_holidays": "yes"}, "country_holidays must be true or false"),
    ],
)
def test_from_config_errors_name_the_bad_entry(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkCalendar.from_config(data)


# -- cross-check against a brute-force clock --------------------------------------------------------
# An independent, deliberately naive model: walk quarter-hours (all default period bounds are on
# the quarter hour) and ask the holidays package directly. Random moments around New Year and Tết.

_QUARTER = timedelta(minutes=15)


@functools.cache
def _oracle_working_day(day: date) -> bool:
    table = holidays.country_holidays("VN", years=(day.year - 1, day.year, day.year + 1))
    if day in table:
        return False
    return day in table.weekend_workdays or day.weekday() < 5


def _oracle_slot_works(slot: datetime) -> bool:
    clock = slot.time()
    in_hours = time(7) <= clock < time(11, 30) or time(13, 30) <= clock < time(17)
    return in_hours and _oracle_working_day(slot.date())


def _random_moment(rng: random.Random) -> datetime:
    return vn(2025, 12, 20) + rng.randrange(0, 80 * 96) * _QUARTER


def test_cross_check_against_brute_force() -> None:
    rng = random.Random(20260217)
    for _ in range(300):
        start = _random_moment(rng)
        end = start + rng.randrange(0, 15 * 96) * _QUARTER
        slots = 0
        cursor = start
        while cursor < end:
            slots += _oracle_slot_works(cursor)
            cursor += _QUARTER
        assert DEFAULT.working_hours_between(start, end) == slots / 4, (start, end)

        quarters = rng.randrange(1, 12 * 32)
        cursor, done = start, 0
        while done < quarters:
            done += _oracle_slot_works(cursor)
            cursor += _QUARTER
        assert DEFAULT.add_working_hours(start, quarters / 4) == cursor, (start, quarters)
