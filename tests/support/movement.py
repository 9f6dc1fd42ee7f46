"""Constructed movement data for the figure tests, written through the store's functions.

Times are UTC; the config's zone is Europe/Brussels. The figures this scenario must give
are worked out by hand in tests/test_movement.py.
"""

from __future__ import annotations

from typing import Any

from commsbot.store import Store, iso
from commsbot.store import movement as movement_q
from commsbot.store import posts as posts_q
from tests.support.stats import add_post, at

TAG = "crossinnovation"
OUR_STATUS = "109900"


def status(
    remote_id: str,
    acct: str,
    created: str,
    *,
    language: str | None = None,
    favourites: int = 0,
    boosts: int = 0,
    replies: int = 0,
    own: bool = False,
    mention: bool = False,
    in_reply_to_id: str | None = None,
) -> dict[str, Any]:
    """A status row as ``record_reading`` takes it (tagged unless it is a mention)."""
    user, _, server = acct.partition("@")
    return {
        "channel": "mastodon",
        "remote_id": remote_id,
        "acct": acct,
        "account_url": f"https://{server}/@{user}",
        "created_at": iso(at(created)),
        "language": language,
        "url": f"https://{server}/@{user}/{remote_id}",
        "favourites": favourites,
        "boosts": boosts,
        "replies": replies,
        "own": int(own),
        "mention": int(mention),
        "in_reply_to_id": in_reply_to_id,
        "tag": None if mention else TAG,
    }


def build_movement(store: Store) -> int:
    """Statuses over weeks W43-W49 (2026) and audience snapshots; returns our post's id.

    The store must hold the sample content (the post is of a sample practice).
    """
    post_id = add_post(store, "mastodon", "practice", "plzen-creative-voucher", "2026-11-10 09:00")
    assert posts_q.change_post(
        store, post_id, ("sent",), at("2026-11-10 09:00"), remote_id=OUR_STATUS
    )
    tagged = [
        # Heard long before the period: not a new voice in it.
        status("100", "old@x.social", "2026-10-20 10:00", language="en"),
        # W46
        status("200", "alice@vilnius.social", "2026-11-10 09:00", language="pl", favourites=3)
        | {"boosts": 1},
        status("210", "ci@mastodon.example", "2026-11-10 10:00", own=True, favourites=9),
        status("220", "bob@plzen.social", "2026-11-11 12:00", language="en"),
        # W47
        status("300", "alice@vilnius.social", "2026-11-17 08:00", language="pl", favourites=1),
        status("310", "old@x.social", "2026-11-18 12:00", language="en", replies=2),
        # After the period the tests ask for.
        status("500", "erin@x.social", "2026-11-30 10:00", language="en", favourites=50),
    ]
    mentions = [
        # W47: a reply to our post.
        status(
            "320",
            "carol@tallinn.social",
            "2026-11-19 12:00",
            language="de",
            favourites=1,
            mention=True,
            in_reply_to_id=OUR_STATUS,
        ),
        # Sunday 23:30 UTC is Monday 00:30 in Brussels: W48 there.
        status("400", "dave@linz.social", "2026-11-22 23:30", mention=True),
    ]
    now = at("2026-12-01 12:00")
    movement_q.record_reading(store, movement_q.tag_source(TAG), tagged, "500", now)
    movement_q.record_reading(store, movement_q.MENTIONS, mentions, "77", now)
    for channel, kind, size, when in (
        ("mastodon", "audience", 100, "2026-11-08 22:00"),
        ("mastodon", "audience", 110, "2026-11-12 12:00"),
        ("email", "subscribers", 3, "2026-11-16 12:00"),
        ("mastodon", "audience", 125, "2026-11-20 12:00"),
        ("email", "subscribers", 5, "2026-11-27 12:00"),
        ("mastodon", "audience", 140, "2026-11-28 12:00"),
    ):
        movement_q.add_audience(store, [(channel, kind, size)], at(when))
    return post_id
