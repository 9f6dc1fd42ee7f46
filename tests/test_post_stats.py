"""The stats summed by the store (``post_stats``, kept by triggers; migration 25, quotes
since 26) against the figures worked out post by post from ``sent_posts``, as every kind
of write changes the store; and the console's figures against the CLI's on the same
store (#17, #18)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from commsbot.content.places import Places
from commsbot.insights import figures
from commsbot.insights import stats as st
from commsbot.store import Store
from commsbot.store import content as content_q
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q
from commsbot.web import views
from tests.support.base import Invoke, outcomes
from tests.support.stats import add_post, at, build_scenario, item_id, snapshot

BRUSSELS = ZoneInfo("Europe/Brussels")
PERIOD = st.Period(
    datetime(2026, 11, 9, tzinfo=BRUSSELS), datetime(2026, 11, 30, tzinfo=BRUSSELS), BRUSSELS
)
EVERYTHING = st.Period(None, datetime(2026, 12, 31, tzinfo=BRUSSELS), BRUSSELS)


# The console's kept weeks, one set per store a test makes, kept across its writes.
KEPT: dict[Path, figures.KeptCells] = {}


def check(store: Store) -> None:
    """Every grouping, the heat-map, the total and the top posts agree both ways, and the
    weeks a console kept from before the last write agree with the store's (#17)."""
    from commsbot.store import stats as stats_q

    places = Places.load(store)
    kept = KEPT.setdefault(store.path, figures.KeptCells())
    for period in (PERIOD, EVERYTHING):
        posts = st.post_figures(stats_q.sent_posts(store, period.since, period.until))
        summary = figures.summary(store, period)
        assert figures.summary(store, period, kept=kept).cells == summary.cells
        for by in st.GROUPINGS:
            assert summary.groups(by) == st.summarise(posts, by, period, places), by
        for rows, columns in (("city", "theme"), ("week", "channel")):
            assert summary.cross(rows, columns, skip_none=True) == st.cross(
                posts, rows, columns, period, places, skip_none=True
            )
        assert summary.total() == st.total(posts) == figures.total(store, period)
        assert figures.top_posts(store, period, 4) == st.top_posts(posts, 4)
        assert st.shows_quotes(summary.cells) == st.shows_quotes(posts)


def test_summed_figures_follow_every_change(sample_store: Store) -> None:
    store = sample_store
    empty = figures.summary(store, EVERYTHING)  # nothing sent yet, no first week
    assert (empty.cells, empty.total().posts, figures.top_posts(store, EVERYTHING, 3)) == (
        [],
        0,
        [],
    )
    ids = build_scenario(store)
    check(store)
    assert figures.total(store, PERIOD).posts == 6

    # Bluesky counts quotes apart from reposts: they sum, rank, and a newer snapshot
    # replaces them as it does the other counts (#18).
    sky = add_post(store, "bluesky", "event", "kick-off-meeting-birmingham", "2026-11-20 09:00")
    snapshot(store, sky, "2026-11-20 12:00", favourites=1, quotes=40)
    check(store)
    assert figures.top_posts(store, PERIOD, 1)[0].id == sky
    assert st.shows_quotes(figures.summary(store, PERIOD).cells)
    snapshot(store, sky, "2026-11-21 12:00", favourites=1, quotes=3)
    check(store)
    assert (figures.total(store, PERIOD).quotes, figures.total(store, PERIOD).posts) == (3, 7)

    # A newer snapshot replaces the counts; an older one changes nothing; a tie: later row.
    snapshot(store, ids["p4"], "2026-11-19 12:00", favourites=30)
    snapshot(store, ids["p4"], "2026-11-18 13:00", favourites=99)
    snapshot(store, ids["p2"], "2026-11-30 12:00", boosts=2)
    snapshot(store, ids["p2"], "2026-11-30 12:00", boosts=5)
    check(store)
    assert figures.top_posts(store, PERIOD, 1)[0].id == ids["p4"]

    # Gone from its platform: still counted, marked.
    engagement_q.mark_remote_deleted(store, ids["p1"], at("2026-11-25 10:00"))
    check(store)

    # An item moves to another city and theme, or is removed: its posts follow.
    content_q.update_item(
        store, "practice", "plzen-creative-voucher", {"city": "vilnius"}, at("2026-11-26 10:00")
    )
    check(store)
    vilnius = next(g for g in figures.summary(store, PERIOD).groups("city") if g.key == "vilnius")
    assert vilnius.posts == 3
    practice = item_id(store, "practice", "vilnius-games-health-brokerage")
    content_q.delete_item(store, "practice", practice, at("2026-11-26 11:00"))
    check(store)

    # A post sent now, one sent again later (moved in time), one no longer sent.
    late = add_post(store, "outbox", "announcement", 2, "2026-11-28 09:00", text="Late news")
    snapshot(store, late, "2026-11-28 10:00", reactions=4)
    assert posts_q.change_post(
        store, ids["p6"], ("sent",), at("2026-11-29 10:00"), sent_at="2026-11-12T09:00:00Z"
    )
    assert posts_q.change_post(store, ids["p3"], ("sent",), at("2026-11-29 10:00"), status="failed")
    check(store)

    # Snapshots removed or rewritten (a restore, a repair): the latest is found again.
    with store.write() as conn:
        conn.execute("DELETE FROM engagement WHERE post_id = ?", (ids["p4"],))
        conn.execute("UPDATE engagement SET favourites = 50 WHERE post_id = ?", (ids["p2"],))
        conn.execute("UPDATE engagement SET quotes = 9 WHERE post_id = ?", (sky,))
    check(store)
    assert figures.total(store, PERIOD).quotes == 9
    with store.write() as conn:
        conn.execute("DELETE FROM posts WHERE id = ?", (late,))
    check(store)


def test_a_store_made_before_quotes_counts_them_once_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path, upto=25) as old:  # post_stats without quotes
        sky = add_post(old, "bluesky", "announcement", 1, "2026-11-20 09:00")
        snapshot(old, sky, "2026-11-20 12:00", boosts=2, quotes=5)
        snapshot(old, sky, "2026-11-19 12:00", quotes=70)  # older: not the figure
        add_post(old, "mastodon", "announcement", 2, "2026-11-21 09:00")
    with Store(path) as store:
        assert 26 in store.applied()
        total = figures.total(store, PERIOD)
        assert (total.posts, total.boosts, total.quotes, total.engagement) == (2, 2, 5, 7)
        check(store)
        # The triggers made anew carry quotes on.
        snapshot(store, sky, "2026-11-22 12:00", quotes=8)
        assert figures.total(store, PERIOD).quotes == 8
        check(store)


def test_console_and_cli_show_the_same_figures(sample_store: Store, invoke: Invoke) -> None:
    build_scenario(sample_store)
    query = {"since": "2026-11-09", "until": "2026-11-29"}
    chosen = views.choose_period(query, BRUSSELS, at("2026-12-01 10:00"))
    shown = views.figures(sample_store, chosen)
    for by in st.GROUPINGS:
        result = invoke(
            "stats",
            "--since",
            query["since"],
            "--until",
            query["until"],
            "--by",
            by,
            "--format",
            "json",
        )
        assert result.exit_code == 0, result.output
        cli = json.loads(result.output)
        assert [g.as_row(by) for g in shown["groups"][by]] == cli["rows"], by
        assert shown["total"].posts == cli["total"]["posts"] == 6
    result = invoke(
        "stats", "top", "--since", query["since"], "--until", query["until"], "--format", "json"
    )
    cli_top = [r["post_id"] for r in json.loads(result.output)["rows"]]
    assert [p.id for p in shown["top"]][: len(cli_top)] == cli_top


def test_a_post_counts_once_sent_through_claim_and_record(sample_store: Store) -> None:
    """The pipeline's own path (queued -> sending -> sent, a retry back to queued): the row
    appears at ``sent`` only, and an unsent post's changes leave the table alone (#15)."""
    store = sample_store
    build_scenario(store)
    before = store.scalar("SELECT count(*) FROM post_stats")
    queued = add_post(
        store, "outbox", "event", "kick-off-meeting-birmingham", None, status="queued"
    )
    retried = add_post(store, "outbox", "announcement", 3, None, status="queued")
    moment = at("2026-11-27 09:00")
    claimed = posts_q.claim_due(store, "outbox", moment, 10, moment)
    assert {queued, retried} <= {r["id"] for r in claimed}
    assert store.scalar("SELECT count(*) FROM post_stats") == before
    posts_q.record_outcomes(
        store,
        outcomes(
            {"id": queued, "status": "sent", "attempts": 1, "sent_at": "2026-11-27T09:00:00Z"},
            {"id": retried, "status": "queued", "attempts": 1, "last_error": "try again"},
        ),
        moment,
    )
    assert (
        store.scalar("SELECT post_id FROM post_stats WHERE post_id IN (?, ?)", (queued, retried))
        == queued
    )
    snapshot(store, queued, "2026-11-27 12:00", favourites=7)
    check(store)
    assert figures.total(store, PERIOD).posts == 7


def test_a_post_sent_outside_a_claim_counts_through_the_trigger(sample_store: Store) -> None:
    """The record writes a batch's rows itself (migration 31); a post that reaches ``sent``
    another way (an officer's change of an ``unknown`` post, an import) still counts once,
    and one that leaves ``sending`` for another state is not counted (#15)."""
    store = sample_store
    build_scenario(store)
    unknown = add_post(store, "outbox", "announcement", 4, None, status="unknown")
    interrupted = add_post(store, "outbox", "announcement", 5, None, status="sending")
    moment = at("2026-11-27 09:00")
    assert posts_q.change_post(
        store, unknown, ("unknown",), moment, status="sent", sent_at="2026-11-27T09:00:00Z"
    )
    assert posts_q.change_post(store, interrupted, ("sending",), moment, status="unknown")
    counted = store.rows(
        "SELECT post_id FROM post_stats WHERE post_id IN (?, ?)", (unknown, interrupted)
    )
    assert counted == [{"post_id": unknown}]
    check(store)


def test_the_sent_posts_are_read_along_an_index(sample_store: Store) -> None:
    """The statistics' and the polling's reads of sent posts search ``posts_sent`` (sent
    posts only, migration 30), a reaction's post is found in ``posts_remote`` (posts with
    a remote id only); the claim's and the record's batch statements find their posts by
    id, never along every post of a state (#15)."""
    from commsbot.store import stats as stats_q

    store = sample_store
    ran: list[str] = []
    store.conn.set_trace_callback(ran.append)
    moment = at("2026-11-27 09:00")
    stats_q.sent_posts(store, PERIOD.since, PERIOD.until)
    engagement_q.poll_candidates(store, "mastodon", moment)
    posts_q.claim_due(store, "outbox", moment, 10, moment)
    posts_q.record_outcomes(store, outcomes({"id": 1, "status": "sent", "attempts": 1}), moment)
    engagement_q.post_for_remote(store, "mastodon", "109")
    store.conn.set_trace_callback(None)

    def plan(sql: str) -> str:
        rows = store.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        return " | ".join(str(r[3]) for r in rows)

    reads = [plan(sql) for sql in ran if sql.startswith("SELECT p.")]
    assert len(reads) == 2
    assert reads[0].startswith("SEARCH p USING INDEX posts_sent (status=? AND sent_at>? AND")
    assert reads[1].startswith("SEARCH p USING INDEX posts_sent (status=? AND sent_at>?)")
    batches = [
        plan(sql)
        for sql in ran
        if sql.startswith(("UPDATE post", "WITH r", "INSERT OR REPLACE INTO post_stats"))
    ]
    # The claim's update; the record's, and its post_stats rows with their days marked.
    assert len(batches) == 5
    for found in batches:
        assert "USING INTEGER PRIMARY KEY (rowid=?)" in found, found
        assert "INDEX posts_" not in found, found
    (by_remote,) = [plan(sql) for sql in ran if sql.startswith("SELECT id FROM posts")]
    assert by_remote == "SEARCH posts USING INDEX posts_remote (channel=? AND remote_id=?)"


def test_kept_weeks_are_read_again_only_where_a_sent_post_changed(sample_store: Store) -> None:
    store = sample_store
    ids = build_scenario(store)
    kept = figures.KeptCells()
    figures.summary(store, PERIOD, kept=kept)
    assert kept.reads == len(kept) == 3  # from Monday 9 November to 30 November: 3 weeks
    # The service commits without touching a sent post's figures: nothing is read again.
    with store.write() as conn:
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('bench', random())")
    add_post(store, "outbox", "announcement", 3, "2026-12-10 09:00")  # after the period
    assert figures.summary(store, PERIOD, kept=kept).cells == figures.summary(store, PERIOD).cells
    assert kept.reads == 3
    # A snapshot of a post sent in the week of 16 November: that week alone is read again.
    snapshot(store, ids["p4"], "2026-11-29 12:00", favourites=77)
    assert figures.summary(store, PERIOD, kept=kept).cells == figures.summary(store, PERIOD).cells
    assert kept.reads == 4
    # An account's platform is in every cell of its posts: all the weeks are read again.
    with store.write() as conn:
        conn.execute(
            "INSERT INTO accounts VALUES ('telegram', 'bluesky', '2026-11-29', '2026-11-29')"
        )
    assert figures.summary(store, PERIOD, kept=kept).cells == figures.summary(store, PERIOD).cells
    assert kept.reads == 7


def test_kept_weeks_are_bounded() -> None:
    kept = figures.KeptCells(most=2)
    with Store(":memory:") as store:
        for day in (2, 9, 16):
            start = datetime(2026, 11, day, tzinfo=BRUSSELS)
            kept.cells(store, [(start, start, start + timedelta(days=7))])
        assert len(kept) == 2 and kept.reads == 3
