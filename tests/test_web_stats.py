"""The Stats page's movement and audience growth: chart, table and downloads, with the
figures ``commsbot stats movement`` gives on the same store (#17)."""

from __future__ import annotations

import csv
import io

from commsbot.insights import movement as mv
from commsbot.store import Store
from commsbot.store import movement as movement_q
from commsbot.web import views
from tests.support.movement import TAG, status
from tests.support.stats import at
from tests.support.web import Live, sign_in

PERIOD = "since=2026-11-09&until=2026-11-29"


def record(store: Store) -> None:
    """Four statuses with the hashtag and two mentions in the period, one of each outside
    it, and the followers and digest subscribers counted now and then."""
    tagged = [
        status("100", "old@x.social", "2026-10-20 10:00"),
        status("200", "alice@vilnius.social", "2026-11-10 09:00"),
        status("220", "bob@plzen.social", "2026-11-11 12:00"),
        status("300", "alice@vilnius.social", "2026-11-17 08:00"),
        status("310", "old@x.social", "2026-11-18 12:00"),
    ]
    mentions = [
        status("320", "carol@tallinn.social", "2026-11-19 12:00", mention=True),
        status("400", "dave@linz.social", "2026-11-22 23:30", mention=True),
        status("410", "dave@linz.social", "2026-11-30 10:00", mention=True),
    ]
    now = at("2026-12-01 12:00")
    movement_q.record_reading(store, "mastodon", movement_q.tag_source(TAG), tagged, "310", now)
    movement_q.record_reading(store, "mastodon", movement_q.MENTIONS, mentions, "410", now)
    for channel, kind, size, when in (
        ("mastodon", "audience", 100, "2026-11-08 22:00"),
        ("mastodon", "audience", 125, "2026-11-20 12:00"),
        ("email", "subscribers", 5, "2026-11-27 12:00"),
        ("mastodon", "audience", 140, "2026-11-28 12:00"),
    ):
        movement_q.add_audience(store, [(channel, kind, size)], at(when))


def test_stats_show_the_movement_and_the_audience(live: Live) -> None:
    record(live.store)
    chosen = views.choose_period(
        {"since": "2026-11-09", "until": "2026-11-29"}, live.config.zone, at("2026-12-01 12:00")
    )
    expected = mv.load(live.store, chosen.period, 10, accounts=live.config.movement_accounts())
    [mastodon] = [a for a in expected.accounts if a.account == "mastodon"]
    assert (mastodon.total.tagged, mastodon.total.mentions) == (4, 2)
    with live.client() as c:
        sign_in(c, "cora")
        page = c.get(f"/stats?{PERIOD}").text
        assert 'data-chart="movement-accounts"' in page and 'data-chart="audience-chart"' in page
        row = page.split('id="table-movement-accounts"', 1)[1].split("mastodon</th>", 1)[1]
        assert row.startswith('<td data-label="with hashtags">4</td>')
        assert '<th scope="row">change</th><td' in page
        audience = c.get(f"/stats/audience.csv?{PERIOD}")
        assert audience.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(audience.text)))
        last = [r for r in rows if r["channel"] == "mastodon"][-1]
        assert (last["week"], last["size"]) == ("2026-W48", "140")
        moved = c.get(f"/stats/movement.json?{PERIOD}").json()
        assert moved["movement"] == [a.as_row() for a in expected.accounts]
        assert "attachment" in c.get(f"/stats/movement.csv?{PERIOD}").headers["content-disposition"]


def test_stats_say_when_nothing_was_recorded(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "cora")
        page = c.get("/stats?days=7").text
    assert "No statuses with the campaign hashtags" in page
    assert "The audience has not been counted yet" in page
