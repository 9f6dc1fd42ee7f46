"""The feeds an officer adds, lists and removes: the operations behind ``commsbot feeds``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commsbot.config import Config, check_feed_url
from commsbot.content.places import FIELD_PROBLEM, OPTION_PROBLEM, Places
from commsbot.errors import N_, ContentError, Message, message_of
from commsbot.feeds.fetch import fetch
from commsbot.feeds.ingest import NO_FEED, NO_FEED_HERE, Report, ingest, parse, sync_config
from commsbot.store import Store
from commsbot.store import feeds as q


def add(
    store: Store,
    config: Config,
    url: str,
    kind: str,
    city: str | None,
    theme: str | None,
    now: datetime,
    *,
    check: bool = True,
) -> None:
    """Add a feed by URL, its city and theme given by slug, name or local name; with
    ``check`` it is fetched first (through the guarded fetcher) and refused unless it is
    an RSS or Atom feed, so a typo or a web page is said at once, not at the next poll."""
    try:
        check_feed_url(url)
    except ValueError as exc:
        raise ContentError(N_("URL: %(problem)s"), problem=message_of(exc)) from None
    ref = Places.load(store)
    resolved: dict[str, str | None] = {}
    for key, value in (("city", city), ("theme", theme)):
        try:
            resolved[key] = ref.resolve(key, value) if value else None
        except ValueError as exc:
            raise ContentError(
                OPTION_PROBLEM[key], neutral=FIELD_PROBLEM[key], problem=message_of(exc)
            ) from None
    existing = q.get(store, url)
    if existing is not None:
        if existing["source"] == "config":
            raise ContentError(
                N_("feed %(url)s is already configured in %(file)s"), url=url, file=str(config.file)
            )
        raise ContentError(N_("feed %(url)s is already configured"), url=url)
    if check:
        problem = feed_problem(url, kind, config, now)
        if problem:
            raise ContentError(
                N_("feed %(url)s: %(problem)s; nothing added (--no-check adds it without looking)"),
                neutral=N_("feed %(url)s: %(problem)s; nothing added"),
                url=url,
                problem=problem,
            )
    q.add(store, url, kind, resolved["city"], resolved["theme"], now)


def feed_problem(url: str, kind: str, config: Config, now: datetime) -> str | Message | None:
    """Why ``url`` is not a feed one can poll, as fetched now; None when it is one."""
    fetched = fetch(url, config.ingest)
    if fetched.error or fetched.body is None:
        return fetched.error or Message(N_("HTTP %(status)s with no feed"), status=fetched.status)
    feed = {"url": url, "kind": kind, "city": None, "theme": None}
    parsed = parse(fetched.body, fetched, feed, config.zone, now)
    if parsed.error is None:
        return None
    if "html" in (fetched.content_type or "").lower():
        return Message(
            N_("is a web page (HTML), not an RSS or Atom feed: give the feed's own address")
        )
    return parsed.error


def listed(store: Store, config: Config, now: datetime) -> list[dict[str, Any]]:
    """Every feed, those of the config brought up to date first."""
    sync_config(store, config, now)
    return q.all_feeds(store)


def removable(store: Store, config: Config, url: str, now: datetime) -> dict[str, Any]:
    """The feed at ``url``, if the officer may remove it here (one set in the config is
    removed there)."""
    sync_config(store, config, now)
    feed = q.get(store, url)
    if feed is None:
        raise ContentError(NO_FEED, neutral=NO_FEED_HERE, url=repr(url))
    if feed["source"] == "config":
        raise ContentError(
            N_("feed %(url)s is set in %(file)s ([[feeds]]): remove it there"),
            url=url,
            file=str(config.file),
        )
    return feed


def all_feeds(store: Store) -> list[dict[str, Any]]:
    """Every feed in the store with its state, as stored (the console's Feeds page)."""
    return q.all_feeds(store)


def troubled(store: Store) -> list[dict[str, Any]]:
    """Feeds that are disabled or failing, worst first."""
    return q.troubled(store)


def remove(store: Store, url: str) -> None:
    """Stop polling a feed; the news it brought stay."""
    q.remove(store, url)


def check(store: Store, config: Config, urls: list[str] | None = None) -> Report:
    """Poll feeds now, backing off or not (without ``urls``: every enabled one); a
    disabled feed named in ``urls`` is tried, and enabled again if it answers. For a
    caller without an event loop (a command, a console worker thread)."""
    import asyncio

    return asyncio.run(ingest(store, config, urls=urls or None, every=True))
