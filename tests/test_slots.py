"""Posting slots: parsing, and the calendar in Europe/Brussels across daylight saving time.

Every time is given, never read from a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from commsbot.slots import Slot, SlotQueue, between, occurrences, parse_slot, parse_slots

BRUSSELS = ZoneInfo("Europe/Brussels")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


ARABIC_TEN = "\u0661\u0660:\u0660\u0660"  # 10:00 in Arabic-Indic digits
FULLWIDTH_TEN = "\uff11\uff10:\uff10\uff10"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue 10:00", [(1, "10:00")]),
        ("tuesday 9:05", [(1, "09:05")]),
        ("  THU 14:30 ", [(3, "14:30")]),
        ("Mon-Fri 09:30", [(d, "09:30") for d in range(5)]),
        ("Fri-Mon 08:00", [(0, "08:00"), (4, "08:00"), (5, "08:00"), (6, "08:00")]),
        ("Mon,Wed 10:00", [(0, "10:00"), (2, "10:00")]),
        ("daily 12:00", [(d, "12:00") for d in range(7)]),
        ("weekdays 07:15", [(d, "07:15") for d in range(5)]),
        ("weekends 11:00", [(5, "11:00"), (6, "11:00")]),
    ],
)
def test_parse_slot(text: str, expected: list[tuple[int, str]]) -> None:
    assert parse_slot(text) == tuple(Slot(d, time.fromisoformat(t)) for d, t in expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Tue", "'Tue' is not a posting slot; write days and a 24-hour time"),
        ("10:00", "'10:00' is not a posting slot"),
        ("Tus 10:00", "'Tus 10:00': 'Tus' is not a day"),
        ("Tue 25:00", "'Tue 25:00': 25:00 is not a time of day"),
        ("Tue 10:60", "'Tue 10:60': 10:60 is not a time of day"),
        ("Tue 10am", "'Tue 10am' is not a posting slot"),
        # Other scripts' digits are no time here (int() would read them as 10:00).
        (f"Tue {ARABIC_TEN}", f"'Tue {ARABIC_TEN}' is not a posting slot"),
        (f"Tue {FULLWIDTH_TEN}", f"'Tue {FULLWIDTH_TEN}' is not a posting slot"),
    ],
)
def test_parse_slot_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_slot(text)
    assert str(exc.value).startswith(message)


def test_parse_slots_orders_and_dedupes() -> None:
    assert [str(s) for s in parse_slots(["Thu 14:00", "Tue 10:00", "tuesday 10:00"])] == [
        "Tue 10:00",
        "Thu 14:00",
    ]


def test_local_time_kept_across_daylight_saving() -> None:
    slots = parse_slots(["Tue 10:00"])
    # Summer (CEST, UTC+2), then winter (CET, UTC+1): 10:00 on the wall clock both times.
    found = between(slots, BRUSSELS, utc(2026, 10, 19), utc(2026, 11, 4))
    assert found == [utc(2026, 10, 20, 8), utc(2026, 10, 27, 9), utc(2026, 11, 3, 9)]


def test_daily_slot_over_fall_back_day() -> None:
    slots = parse_slots(["daily 10:00"])
    found = between(slots, BRUSSELS, utc(2026, 10, 23, 22), utc(2026, 10, 27))
    assert found == [utc(2026, 10, 24, 8), utc(2026, 10, 25, 9), utc(2026, 10, 26, 9)]


def test_skipped_time_moves_forward_by_the_gap() -> None:
    # 2026-03-29: clocks go from 02:00 CET to 03:00 CEST; 02:30 does not exist that day.
    slots = parse_slots(["Sun 02:30"])
    found = between(slots, BRUSSELS, utc(2026, 3, 21), utc(2026, 4, 6))
    # 02:30 CET; 03:30 CEST (the first moment after the gap, by as long as the gap); 02:30 CEST.
    assert found == [utc(2026, 3, 22, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 4, 5, 0, 30)]


def test_repeated_time_is_taken_once() -> None:
    # 2026-10-25: 02:30 happens twice (CEST, then CET); the slot is the first one only.
    slots = parse_slots(["Sun 02:30"])
    found = between(slots, BRUSSELS, utc(2026, 10, 24), utc(2026, 10, 26))
    assert found == [utc(2026, 10, 25, 0, 30)]


def test_spring_forward_day_keeps_order_and_merges_equal_instants() -> None:
    slots = parse_slots(["Sun 02:30", "Sun 03:00", "Sun 03:30"])
    found = between(slots, BRUSSELS, utc(2026, 3, 28), utc(2026, 3, 30))
    # 03:00 CEST is 01:00Z; 02:30 (skipped) and 03:30 CEST are both 01:30Z: one slot.
    assert found == [utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 30)]


def test_a_slot_at_the_start_time_is_included_and_end_excluded() -> None:
    slots = parse_slots(["Mon 13:00"])  # 12:00Z in November
    assert between(slots, BRUSSELS, utc(2026, 11, 23, 12), utc(2026, 11, 30, 12)) == [
        utc(2026, 11, 23, 12)
    ]
    assert between(slots, BRUSSELS, utc(2026, 11, 23, 12, 0, 1), utc(2026, 11, 30, 12)) == []


def test_no_slots_no_occurrences() -> None:
    assert list(occurrences((), BRUSSELS, utc(2026, 11, 23))) == []


def test_queue_takes_free_slots_in_order() -> None:
    slots = parse_slots(["Tue 10:00", "Thu 14:00"])
    taken = {utc(2026, 11, 24, 9)}  # Tuesday's slot already holds a post
    queue = SlotQueue(slots, BRUSSELS, utc(2026, 11, 23, 12), taken)
    assert [queue.take() for _ in range(3)] == [
        utc(2026, 11, 26, 13),
        utc(2026, 12, 1, 9),
        utc(2026, 12, 3, 13),
    ]


def test_queue_without_slots_gives_the_start_time() -> None:
    start = utc(2026, 11, 23, 12)
    queue = SlotQueue((), BRUSSELS, start)
    assert [queue.take(), queue.take()] == [start, start]
