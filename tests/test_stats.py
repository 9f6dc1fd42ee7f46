"""Engagement aggregation on constructed data, with figures worked out by hand.

The scenario (tests/support/stats.py), period 2026-11-09 .. 2026-11-29 in Europe/Brussels:

post  channel   item                          sent (UTC)        latest snapshot    eng
p1    mastodon  practice plzen/smart-inc.     11-10 09:00 W46   fav 5 boost 2 rep 1  8
p2    telegram  practice plzen/smart-inc.     11-10 10:00 W46   reactions 7          7
p3    mastodon  practice vilnius/brokerage    11-17 08:00 W47   fav 10 b 4 r 2      16  deleted
p4    mastodon  event birmingham (no theme)   11-18 12:00 W47   none                 0
p5    telegram  newsletter (no city/theme)    11-22 23:30 W48*  reactions 3          3
p6    outbox    announcement                  11-23 09:00 W48   none                 0
p7 is not sent and p8 was sent before the period: neither counts.
* Monday 00:30 in Brussels; in UTC it is still Sunday, week 47.

p1's snapshots arrive out of order (observed 11-10, 11-12, then 11-11): the 11-12 one
counts; a sum of snapshots would give 16, not 8.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from commsbot.cli import stats_cmds
from commsbot.content.places import Places
from commsbot.insights import stats as st
from commsbot.insights.charts import nice_scale, wrap
from commsbot.store import Store
from commsbot.store import engagement as engagement_q
from commsbot.store import stats as stats_q
from tests.support.stats import add_post, at, build_scenario, snapshot

BRUSSELS = ZoneInfo("Europe/Brussels")
PERIOD = st.Period(
    datetime(2026, 11, 9, tzinfo=BRUSSELS), datetime(2026, 11, 30, tzinfo=BRUSSELS), BRUSSELS
)
COLUMNS = ("posts", "favourites", "boosts", "replies", "reactions", "engagement", "per_post")


def figures(store: Store, period: st.Period = PERIOD) -> list[st.PostFigures]:
    return st.post_figures(stats_q.sent_posts(store, period.since, period.until))


def reference(store: Store) -> Places:
    return Places.load(store)


def table(groups: list[st.Group]) -> dict[str | None, tuple[object, ...]]:
    return {g.key: tuple(g.as_row("key")[c] for c in COLUMNS) for g in groups}


@pytest.fixture
def ids(sample_store: Store) -> dict[str, int]:
    return build_scenario(sample_store)


@pytest.fixture
def scenario(sample_store: Store, ids: dict[str, int]) -> Store:
    return sample_store


def test_latest_snapshot_counts_never_a_sum(scenario: Store, ids: dict[str, int]) -> None:
    posts = {p.id: p for p in figures(scenario)}
    p1 = posts[ids["p1"]]
    assert (p1.favourites, p1.boosts, p1.replies, p1.reactions, p1.engagement) == (5, 2, 1, 0, 8)
    assert p1.observed_at == at("2026-11-12 12:00")
    assert len(posts) == 6  # p7 (failed) and p8 (before the period) are not there


def test_equal_observation_times_the_later_row_wins(store: Store) -> None:
    post = add_post(store, "outbox", "announcement", 7, "2026-11-10 09:00", text="Hello")
    snapshot(store, post, "2026-11-10 12:00", favourites=1)
    snapshot(store, post, "2026-11-10 12:00", favourites=4)
    snapshot(store, post, "2026-11-09 12:00", favourites=9)
    [only] = figures(store)
    assert only.favourites == 4
    assert only.title == "Hello"


def test_by_channel(scenario: Store) -> None:
    groups = st.summarise(figures(scenario), "channel", PERIOD, reference(scenario))
    assert table(groups) == {
        "mastodon": (3, 15, 6, 3, 0, 24, 8.0),
        "outbox": (1, 0, 0, 0, 0, 0, 0.0),
        "telegram": (2, 0, 0, 0, 10, 10, 5.0),
    }
    assert [g.deleted for g in groups] == [1, 0, 0]
    total = st.total(figures(scenario))
    assert tuple(total.as_row("key")[c] for c in COLUMNS) == (6, 15, 6, 3, 10, 34, 5.67)
    assert total.deleted == 1


def test_by_week_in_the_configured_zone(scenario: Store) -> None:
    groups = st.summarise(figures(scenario), "week", PERIOD, reference(scenario))
    assert {g.key: (g.posts, g.engagement) for g in groups} == {
        "2026-W46": (2, 15),
        "2026-W47": (2, 16),
        "2026-W48": (2, 3),
    }
    utc = ZoneInfo("UTC")
    in_utc = st.Period(at("2026-11-09 00:00"), at("2026-11-30 00:00"), utc)
    groups = st.summarise(figures(scenario, in_utc), "week", in_utc, reference(scenario))
    assert {g.key: (g.posts, g.engagement) for g in groups} == {
        "2026-W46": (2, 15),
        "2026-W47": (3, 19),
        "2026-W48": (1, 0),
    }


def test_empty_weeks_inside_the_period_are_shown(scenario: Store) -> None:
    wide = st.Period(datetime(2026, 11, 2, tzinfo=BRUSSELS), PERIOD.until, BRUSSELS)
    groups = st.summarise(figures(scenario, wide), "week", wide, reference(scenario))
    assert [(g.key, g.posts, g.per_post) for g in groups] == [
        ("2026-W45", 0, None),
        ("2026-W46", 2, 7.5),
        ("2026-W47", 2, 8.0),
        ("2026-W48", 2, 1.5),
    ]


def test_by_city_lists_every_city_and_posts_without_one(scenario: Store) -> None:
    groups = st.summarise(figures(scenario), "city", PERIOD, reference(scenario))
    assert len(groups) == 12  # the 11 partner cities and (none)
    shown = {g.key: (g.posts, g.engagement) for g in groups if g.posts}
    assert shown == {"plzen": (2, 15), "vilnius": (1, 16), "birmingham": (1, 0), None: (2, 3)}
    assert groups[-1].label == "(none)"
    assert [g.label for g in groups[:3]] == ["Amsterdam", "Berlin", "Birmingham"]
    assert sum(g.posts for g in groups) == 6


def test_by_theme_and_type(scenario: Store) -> None:
    posts = figures(scenario)
    themes = st.summarise(posts, "theme", PERIOD, reference(scenario))
    assert table(themes) == {
        "brokerage": (1, 10, 4, 2, 0, 16, 16.0),
        "culture-based-innovation": (0, 0, 0, 0, 0, 0, None),
        "smart-incentives": (2, 5, 2, 1, 7, 15, 7.5),
        "spatial-cross-collaboration": (0, 0, 0, 0, 0, 0, None),
        None: (3, 0, 0, 0, 3, 3, 1.0),
    }
    types = st.summarise(posts, "type", PERIOD, reference(scenario))
    assert {g.key: (g.posts, g.engagement) for g in types} == {
        "announcement": (1, 0),
        "event": (1, 0),
        "newsletter": (1, 3),
        "practice": (3, 31),
    }


def test_heat_map_has_every_city_and_theme(scenario: Store) -> None:
    grid = st.cross(figures(scenario), "city", "theme", PERIOD, reference(scenario), skip_none=True)
    assert (len(grid.rows), len(grid.columns)) == (11, 4)
    filled = {
        (row_key, cell.key): (cell.engagement, cell.posts)
        for (row_key, _), row in zip(grid.rows, grid.cells, strict=True)
        for cell in row
        if cell.posts
    }
    assert filled == {("plzen", "smart-incentives"): (15, 2), ("vilnius", "brokerage"): (16, 1)}
    assert [g.engagement for g in grid.column_totals()] == [16, 0, 15, 0]


def test_top_posts(scenario: Store, ids: dict[str, int]) -> None:
    names = {v: k for k, v in ids.items()}
    best = st.top_posts(figures(scenario), 10)
    assert [(names[p.id], p.engagement, p.deleted) for p in best] == [
        ("p3", 16, True),
        ("p1", 8, False),
        ("p2", 7, False),
        ("p5", 3, False),
        ("p4", 0, False),  # ties: the earlier post first
        ("p6", 0, False),
    ]
    assert best[0].url == f"https://mastodon.example/p/{best[0].id}"
    assert best[0].title == "Games & Health Brokerage"
    assert best[5].title == "General Meeting 5 opens tomorrow in Vilnius"
    assert [p.engagement for p in st.top_posts(figures(scenario), 2)] == [16, 8]


def test_a_deleted_post_keeps_its_last_counts(scenario: Store, ids: dict[str, int]) -> None:
    p3 = ids["p3"]
    assert not engagement_q.mark_remote_deleted(scenario, p3, at("2026-11-21 12:00"))
    deleted_at = scenario.scalar("SELECT remote_deleted_at FROM posts WHERE id = ?", (p3,))
    assert deleted_at == "2026-11-20T12:00:00Z"  # the first sighting is kept
    post = next(p for p in figures(scenario) if p.id == p3)
    assert (post.deleted, post.engagement) == (True, 16)


def test_only_sent_posts_can_be_marked_deleted(scenario: Store, ids: dict[str, int]) -> None:
    assert not engagement_q.mark_remote_deleted(scenario, ids["p7"], at("2026-11-21 12:00"))


def test_one_post(store: Store) -> None:
    post = add_post(store, "mastodon", "announcement", 1, "2026-11-20 10:00", text="Solo")
    snapshot(store, post, "2026-11-21 10:00", favourites=3, replies=2)
    posts = figures(store)
    [group] = st.summarise(posts, "channel", PERIOD, Places())
    assert group.as_row("channel") == {
        "channel": "mastodon",
        "posts": 1,
        "favourites": 3,
        "boosts": 0,
        "replies": 2,
        "reactions": 0,
        "quotes": 0,
        "engagement": 5,
        "per_post": 5.0,
        "deleted": 0,
    }
    everything = st.Period(None, PERIOD.until, BRUSSELS)
    weeks = st.summarise(posts, "week", everything, Places())
    assert [(g.key, g.posts) for g in weeks] == [("2026-W47", 1), ("2026-W48", 0)]


def test_no_data(store: Store) -> None:
    posts = figures(store)
    assert posts == []
    assert st.summarise(posts, "channel", PERIOD, Places()) == []
    assert st.summarise(posts, "week", st.Period(None, PERIOD.until, BRUSSELS), Places()) == []
    assert st.total(posts).per_post is None
    assert st.top_posts(posts, 5) == []
    groups, total = st.subscriber_summary(
        stats_q.subscriber_history(store), PERIOD, ("email", "telegram")
    )
    assert len(groups) == 4 and total.as_row()["active_end"] == 0
    assert total.churn_pct is None
    assert st.bot_usage(stats_q.bot_queries(store)) == ([], st.CommandUse("total", 0, 0, 0.0))


def test_subscribers(scenario: Store) -> None:
    groups, total = st.subscriber_summary(
        stats_q.subscriber_history(scenario), PERIOD, ("email", "telegram")
    )
    keys = ("active_start", "new", "unsubscribed", "bounced", "net", "active_end", "churn_pct")
    assert {(g.channel, g.frequency): tuple(g.as_row()[k] for k in keys) for g in groups} == {
        ("email", "weekly"): (2, 0, 1, 0, -1, 1, 50.0),
        ("email", "monthly"): (1, 1, 0, 1, 0, 1, 50.0),
        ("telegram", "weekly"): (0, 3, 1, 0, 2, 2, 33.3),
        ("telegram", "monthly"): (0, 0, 0, 0, 0, 0, None),
    }
    assert tuple(total.as_row()[k] for k in keys) == (3, 4, 2, 1, 1, 4, 42.9)


def test_subscriber_growth_per_week(scenario: Store) -> None:
    growth = st.subscriber_growth(
        stats_q.subscriber_history(scenario), PERIOD, ("email", "telegram")
    )
    assert growth.weeks == ["2026-W46", "2026-W47", "2026-W48"]
    assert growth.active == {"email": [2, 2, 2], "telegram": [1, 0, 2]}
    assert growth.totals() == [3, 2, 4]


def test_bot_usage(scenario: Store) -> None:
    uses, total = st.bot_usage(stats_q.bot_queries(scenario, PERIOD.since, PERIOD.until))
    assert [u.as_row() for u in uses] == [
        {"command": "search", "queries": 3, "chats": 2, "share_pct": 50.0},
        {"command": "practices", "queries": 2, "chats": 2, "share_pct": 33.3},
        {"command": "start", "queries": 1, "chats": 1, "share_pct": 16.7},
    ]
    assert total == st.CommandUse("total", 6, 4, 100.0)


def test_until_now_includes_this_second(store: Store) -> None:
    add_post(store, "outbox", "announcement", 1, "2026-11-20 10:00", text="Just now")
    moment = at("2026-11-20 10:00").replace(microsecond=250_000)
    assert len(stats_q.sent_posts(store, None, moment)) == 1
    assert len(stats_q.sent_posts(store, None, at("2026-11-20 10:00"))) == 0


def test_period_description() -> None:
    assert PERIOD.describe() == "2026-11-09 to 2026-11-29 (Europe/Brussels)"
    assert st.Period(None, at("2026-11-23 12:00"), BRUSSELS).describe() == (
        "the beginning to 2026-11-23 (Europe/Brussels)"
    )


def test_unknown_grouping_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot group by 'colour'"):
        st.summarise([], "colour", PERIOD, Places())
    assert stats_cmds.GROUPINGS == st.GROUPINGS


def test_chart_scale_and_label_wrapping() -> None:
    assert nice_scale(0) == [0, 1]
    assert nice_scale(7) == [0, 2, 4, 6, 8]
    assert nice_scale(23) == [0, 10, 20, 30]
    assert nice_scale(3) == [0, 1, 2, 3]
    assert wrap("Spatial Cross-Collaboration", 10) == ["Spatial", "Cross-", "Collaboration"]
    assert wrap("Culture-based Innovation", 10) == ["Culture-", "based", "Innovation"]
    assert wrap("Brokerage", 10) == ["Brokerage"]


def test_quotes_count_for_bluesky_and_are_absent_where_no_platform_counts_them(
    store: Store,
) -> None:
    from commsbot.insights.report import render_report

    toot = add_post(store, "mastodon", "announcement", 1, "2026-11-20 10:00", text="Toot")
    snapshot(store, toot, "2026-11-21 10:00", favourites=3)
    only_mastodon = figures(store)
    assert not st.shows_quotes(only_mastodon)
    html = render_report(store, PERIOD, at("2026-11-29 10:00"), templates=None)
    assert ">quotes<" not in html

    skeet = add_post(store, "bluesky", "announcement", 2, "2026-11-20 11:00", text="Skeet")
    snapshot(store, skeet, "2026-11-21 10:00", favourites=1, boosts=1, quotes=2)
    posts = figures(store)
    assert st.shows_quotes(posts)
    rows = {g.key: g.as_row("platform") for g in st.summarise(posts, "platform", PERIOD, Places())}
    assert (rows["bluesky"]["quotes"], rows["bluesky"]["engagement"]) == (2, 4)
    assert (rows["mastodon"]["quotes"], rows["mastodon"]["engagement"]) == (0, 3)
    assert st.total(posts).quotes == 2
    html = render_report(store, PERIOD, at("2026-11-29 10:00"), templates=None)
    assert '<th scope="col" class="n">quotes</th>' in html
    assert "Quotes of a Bluesky post count as engagement too." in html
