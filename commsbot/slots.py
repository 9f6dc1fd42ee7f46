"""Posting slots: the weekly times a channel posts at, like a Buffer queue.

Pure calendar logic, no store and no clock: callers pass ``now``. A slot is a local
wall-clock time in the service's time zone, so "Tue 10:00" stays 10:00 in Brussels
across daylight saving time. A time that does not exist on a spring-forward day is
moved forward by the gap (02:30 becomes 03:30); a time that occurs twice on a
fall-back day is taken once, at its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
GROUPS: dict[str, tuple[int, ...]] = {
    "daily": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekends": (5, 6),
}
# ASCII only: \d and int() would take other scripts' digits (Arabic-Indic ten o'clock).
_SLOT_RE = re.compile(
    r"(?P<days>[A-Za-z,\-]+)\s+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})", re.ASCII
)
EXAMPLE = 'write days and a 24-hour time, e.g. "Tue 10:00", "Mon-Fri 09:30" or "daily 12:00"'


@dataclass(frozen=True, order=True)
class Slot:
    weekday: int  # Monday is 0
    at: time

    def __str__(self) -> str:
        return f"{DAYS[self.weekday].title()} {self.at:%H:%M}"


def _day(name: str, text: str) -> int:
    low = name.lower()
    if low in DAYS:
        return DAYS.index(low)
    if low in FULL_DAYS:
        return FULL_DAYS.index(low)
    raise ValueError(f"{text!r}: {name!r} is not a day; {EXAMPLE}")


def _days(spec: str, text: str) -> set[int]:
    if spec.lower() in GROUPS:
        return set(GROUPS[spec.lower()])
    found: set[int] = set()
    for part in spec.split(","):
        first, dash, last = part.partition("-")
        if not dash:
            found.add(_day(first, text))
            continue
        start, end = _day(first, text), _day(last, text)
        # A range may wrap over the weekend: Fri-Mon.
        span = (end - start) % 7
        found.update((start + i) % 7 for i in range(span + 1))
    return found


def parse_slot(text: str) -> tuple[Slot, ...]:
    """The slots one entry stands for; ValueError with an example when it is not one."""
    match = _SLOT_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a posting slot; {EXAMPLE}")
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r}: {hour:02d}:{minute:02d} is not a time of day")
    at = time(hour, minute)
    return tuple(sorted(Slot(day, at) for day in _days(match["days"], text)))


def parse_slots(texts: Iterable[str]) -> tuple[Slot, ...]:
    """Every slot of a channel, in weekly order, each once."""
    return tuple(sorted({slot for text in texts for slot in parse_slot(text)}))


def _on_day(day: date, times: Iterable[time], zone: ZoneInfo) -> list[datetime]:
    """The day's slot times as UTC instants, in order, each once.

    ``combine`` with fold=0 reads a skipped local time with the offset before the
    change (so it lands after the gap) and a repeated one as its first occurrence.
    """
    return sorted({datetime.combine(day, at, tzinfo=zone).astimezone(UTC) for at in times})


def occurrences(slots: tuple[Slot, ...], zone: ZoneInfo, start: datetime) -> Iterator[datetime]:
    """Slot times at or after ``start``, in order, as UTC datetimes; endless when any slot
    exists, empty when none does (the caller bounds it)."""
    if not slots:
        return
    by_weekday = [[s.at for s in slots if s.weekday == d] for d in range(7)]
    day = start.astimezone(zone).date()
    while True:
        for moment in _on_day(day, by_weekday[day.weekday()], zone):
            if moment >= start:
                yield moment
        day += timedelta(days=1)


def between(
    slots: tuple[Slot, ...], zone: ZoneInfo, start: datetime, end: datetime
) -> list[datetime]:
    """Slot times from ``start`` up to (not including) ``end``."""
    found = []
    for moment in occurrences(slots, zone, start):
        if moment >= end:
            break
        found.append(moment)
    return found


class SlotQueue:
    """Hands out a channel's free slots in order, like Buffer's queue.

    ``taken`` holds the times already held by a post; each slot holds one post.
    Without slots, every post is due at ``start``.
    """

    def __init__(
        self,
        slots: tuple[Slot, ...],
        zone: ZoneInfo,
        start: datetime,
        taken: Container[datetime] = frozenset(),
    ) -> None:
        self.start = start
        self.has_slots = bool(slots)
        self._next = occurrences(slots, zone, start)
        self._taken = taken

    def take(self) -> datetime:
        """The next free slot, now held; ``start`` when the channel has no slots."""
        if not self.has_slots:
            return self.start
        # Terminates: the taken times are finite and the slots repeat every week.
        for moment in self._next:
            if moment not in self._taken:
                return moment
        raise AssertionError("unreachable: occurrences() is endless when slots exist")
