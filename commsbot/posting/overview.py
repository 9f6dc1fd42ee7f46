"""What the console's Today, Queue and Calendar read of the outbox: operations over
``store.queue_views``, so the console holds no query of its own (#15, #17)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commsbot.store import Store, iso
from commsbot.store import queue_views as qv
from commsbot.store import service as service_q
from commsbot.store.queue_views import QueueFilter

__all__ = ["QueueFilter"]


def waiting(store: Store, statuses: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` posts in these states, soonest due first."""
    return qv.by_status(store, statuses, limit)


def count_status(store: Store, status: str) -> int:
    """How many posts are in a state."""
    return qv.count_status(store, status)


def next_out(store: Store, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Queued posts in the order they will go out."""
    return qv.next_out(store, now, limit)


def failed_digests(store: Store) -> list[dict[str, Any]]:
    """Digests with deliveries that failed, newest first."""
    return qv.failed_digest_deliveries(store)


def page(store: Store, f: QueueFilter, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the queue, soonest first, and how many posts match in all."""
    return qv.queue_page(store, f, offset, limit)


def days(
    store: Store, starts: Sequence[datetime], limit: int
) -> list[tuple[int, int, dict[str, Any]]]:
    """Each day's first ``limit`` posts and how many it has (``queue_views.first_of_days``)."""
    return qv.first_of_days(store, starts, limit)


def held(store: Store, moments: Sequence[tuple[str, datetime]]) -> set[tuple[str, datetime]]:
    """Which of these (account, time) slots a post holds, cancelled ones left out."""
    found = qv.taken(store, sorted({iso(m) for _, m in moments}))
    return {(name, m) for name, m in moments if (name, iso(m)) in found}


def taken_slots(store: Store, channel: str, since: datetime) -> set[datetime]:
    """The times from ``since`` on at which the account already has a post."""
    return service_q.taken_slots(store, channel, since)
