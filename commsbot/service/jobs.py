"""Jobs: plain async functions that the scheduler runs on its schedule and that
``commsbot run --once`` runs once each, in order.

A job declares what it needs; one whose feature is not configured is not run, and
``requires`` says why. Later capabilities add their job here with one line.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from commsbot.channels.base import Channel
    from commsbot.config import Config
    from commsbot.store import Store


@dataclass
class JobContext:
    store: Store
    config: Config
    clock: Callable[[], datetime]
    # Opened channel instances, shared by the jobs of one process.
    channels: dict[str, Channel]
    progress: Callable[[int], None] | None = None


JobFunc = Callable[[JobContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Job:
    name: str
    target: str  # "module:function", imported when the job first runs
    help: str
    # Why the job cannot run with this config, or None when it can.
    requires: Callable[[Config], str | None] = lambda config: None
    # The same answer read through a store already open (the console's Today page asks on
    # every visit; opening the store again cost more than the rest of the check).
    requires_in: Callable[[Config, Store], str | None] | None = None

    def unavailable(self, config: Config, store: Store | None = None) -> str | None:
        """Why the job cannot run, read through ``store`` when one is given."""
        if store is not None and self.requires_in is not None:
            return self.requires_in(config, store)
        return self.requires(config)

    def load(self) -> JobFunc:
        func: JobFunc = pkgutil.resolve_name(self.target)
        return func


def _needs_channel(config: Config) -> str | None:
    return None if config.enabled_channels else "no channel is enabled"


def _needs_feeds(config: Config) -> str | None:
    """Why the ingest job cannot run (no feeds, or all disabled), or None."""
    # The store's feed counts, not commsbot.ingest: that imports requests and feedparser,
    # which a run without feeds should not pay for.
    from commsbot.store import feeds as feeds_q

    return None if config.feeds else _feeds_reason(*feeds_q.counts_at(config.store.path))


def _needs_feeds_in(config: Config, store: Store) -> str | None:
    from commsbot.store import feeds as feeds_q

    return None if config.feeds else _feeds_reason(*feeds_q.counts(store))


def _feeds_reason(total: int, enabled: int) -> str | None:
    if not total:
        return "no feeds configured"
    if not enabled:
        return f"all {total} feeds are disabled (see `commsbot feeds list`)"
    return None


def _needs_polled_channel(config: Config) -> str | None:
    polled = _enabled_declaring(config, "polls_engagement")
    return None if polled else "no enabled channel is polled for engagement"


def _enabled_declaring(config: Config, declaration: str) -> list[str]:
    from commsbot.channels import accounts_declaring

    return accounts_declaring(config, declaration)


def _needs_subscriber_channel(config: Config) -> str | None:
    if _enabled_declaring(config, "sends_direct"):
        return None
    return "no subscriber channel (email or telegram) is enabled"


def _needs_audience(config: Config) -> str | None:
    # Digest subscribers are counted on the channels digests go out on.
    counted = _enabled_declaring(config, "counts_audience") + _enabled_declaring(
        config, "sends_direct"
    )
    return None if counted else "no enabled channel has followers or digest subscribers"


def _needs_movement(config: Config) -> str | None:
    if not config.movement_accounts():
        return "no Mastodon or Bluesky account that tracks the movement is enabled"
    movement = config.movement
    if not movement.hashtags and not movement.mentions:
        return "[movement] names no hashtags and mentions = false"
    return None


def _needs_alerts(config: Config) -> str | None:
    return None if config.alerts.enabled else "alerts are off ([alerts] enabled = false)"


JOBS: tuple[Job, ...] = (
    # Before publish, so that `run --once` posts what it has just ingested.
    Job(
        "ingest-feeds",
        "commsbot.feeds.ingest:ingest_job",
        "poll partner feeds",
        _needs_feeds,
        _needs_feeds_in,
    ),
    Job(
        "publish",
        "commsbot.posting.pipeline:publish_job",
        "render new content and post everything due",
        _needs_channel,
    ),
    Job(
        "collect-engagement",
        "commsbot.posting.engagement:collect_engagement",
        "poll favourites, boosts and replies of recent posts",
        _needs_polled_channel,
    ),
    Job(
        "send-digests",
        "commsbot.digests.send:send_digests_job",
        "send partner digests due",
        _needs_subscriber_channel,
    ),
    Job(
        "snapshot-audience",
        "commsbot.insights.tracking:snapshot_audience",
        "record followers per channel and digest subscribers",
        _needs_audience,
    ),
    Job(
        "track-movement",
        "commsbot.insights.tracking:track_movement",
        "read the campaign hashtags and mentions of our accounts on Mastodon and Bluesky",
        _needs_movement,
    ),
    # Last: what the jobs before it left failed or waiting is alerted in the same run.
    Job(
        "send-alerts",
        "commsbot.alerts.send:alerts_job",
        "tell the admins and the alert list what needs them",
        _needs_alerts,
    ),
)


def job(name: str) -> Job:
    for j in JOBS:
        if j.name == name:
            return j
    raise KeyError(name)
