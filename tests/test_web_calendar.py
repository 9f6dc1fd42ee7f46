"""The calendar's month view from the store: a busy day shows its first posts and how
many more, cancelled posts are left out, and a slot a post holds is not shown free."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from commsbot.store import Store
from commsbot.store import posts as posts_q
from commsbot.web import views
from tests.support.web import make_config

NOW = datetime(2031, 5, 1, 6, 0, tzinfo=UTC)


def test_month_view_shows_first_posts_more_and_free_slots(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    times = ["07:00", "08:00", "09:00", "11:00", "12:00", "13:00", "13:30"]
    with Store(config.store.path) as store:
        posts_q.insert_posts(
            store,
            [
                {
                    "item_type": "announcement",
                    "item_id": n,
                    "item_ref": str(n),
                    "channel": "outbox",
                    # The fourth post is cancelled: neither shown nor counted.
                    "status": "cancelled" if n == 3 else "queued",
                    "text": f"Post {n}",
                    "not_before": f"2031-05-06T{at}:00Z",
                }
                for n, at in enumerate(times)
            ],
            NOW,
        )
        shown = views.calendar(store, config, "month", "2031-05-01", NOW)
    days = {d.day.isoformat(): d for week in shown["weeks"] for d in week}
    busy = days["2031-05-06"]
    # 07:00 UTC is 09:00 in Brussels (summer time).
    assert [p["local"] for p in busy.posts] == ["09:00", "10:00", "11:00", "14:00"]
    assert [p["text"] for p in busy.posts] == ["Post 0", "Post 1", "Post 2", "Post 4"]
    assert busy.more == 2
    # The outbox's 10:00 slot holds post 1; its 16:00 slot and Mastodon's are free.
    assert sorted(busy.free_slots) == [
        ("mastodon", "09:30"),
        ("mastodon", "15:30"),
        ("outbox", "16:00"),
    ]
    assert days["2031-05-07"].posts == [] and days["2031-05-07"].more == 0
    assert ("outbox", "10:00") in days["2031-05-07"].free_slots


def test_the_days_parts_made_in_python_escape_what_they_show() -> None:
    """A day's posts, free slots and "Move to…" choices are made outside the template:
    the post's text, the account and the words are escaped there."""
    from datetime import date

    from markupsafe import Markup

    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    post = {"id": 7, "channel": "<b>", "status": "queued", "local": "10:00"}
    day = views.Day(
        date(2031, 5, 6),
        True,
        [{**post, "tone": 1, "movable": True, "short": hostile}],
        [("<i>", "16:00")],
    )
    shown = [
        views.day_posts(day, True, "/x/posts/", views.state_badge),
        views.day_free_slots(day, hostile),
        views.move_choices(day, hostile),
    ]
    for html in shown:
        assert isinstance(html, Markup)
        assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert "<b>" not in shown[0] and "&lt;b&gt; #7" in shown[0]
    assert 'draggable="true" data-post="7" data-time="10:00"' in shown[0]
    assert "<i>" not in shown[1] and 'data-slot="2031-05-06T16:00"' in shown[1]
    # Read-only: the same post, neither draggable nor a drop source.
    assert "draggable" not in views.day_posts(day, False, "/x/posts/", views.state_badge)
