"""The one clock: every "now" in commsbot comes from here, so tests can pass their own;
and the one way a time is shown to a person (in ``service.timezone``, with its zone)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

Clock = Callable[[], datetime]

# How a person reads a time: "2030-03-01 09:00 CET" (the zone's abbreviation, as the
# officer's calendar shows it).
LOCAL_FORMAT = "%Y-%m-%d %H:%M %Z"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _moment(value: datetime | str) -> datetime:
    # Stored times are ISO 8601 with a Z or an offset, which fromisoformat reads since 3.11;
    # a naive one is UTC, as everything commsbot stores.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_text(value: datetime | str | None, zone: tzinfo) -> str | None:
    """A time as a person reads it, in ``zone`` with its name; None for no time."""
    if value is None or value == "":
        return None
    return _moment(value).astimezone(zone).strftime(LOCAL_FORMAT)


def local_iso(value: datetime | str | None, zone: tzinfo) -> str | None:
    """A time for JSON: ISO 8601 in ``zone``, with its offset; None for no time."""
    if value is None or value == "":
        return None
    return _moment(value).astimezone(zone).isoformat()


# The keys of times in commands' JSON: ``*_at`` and these.
TIME_KEYS = frozenset(
    {"since", "next_run", "last_run", "not_before", "paused_until", "slot", "when", "moved_to"}
)


def zoned(data: Any, zone: tzinfo) -> Any:
    """``data`` (JSON-ready) with every stored time under a time key (``TIME_KEYS``,
    ``*_at``), at any depth, in ISO 8601 with ``zone``'s offset; dates stay dates."""
    if isinstance(data, list):
        return [zoned(v, zone) for v in data]
    if isinstance(data, dict):
        return {k: _zoned_value(k, v, zone) for k, v in data.items()}
    return data


def _zoned_value(key: Any, value: Any, zone: tzinfo) -> Any:
    is_time_key = isinstance(key, str) and (key in TIME_KEYS or key.endswith("_at"))
    if is_time_key and isinstance(value, str) and "T" in value:
        try:
            return local_iso(value, zone)
        except ValueError:
            return value  # not a time after all: shown as it is
    return zoned(value, zone)
