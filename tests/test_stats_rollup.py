"""The stats' groupings from the cells summed over the weeks (``Summary``) against the
same groupings worked out from every week's cell, on random cells (#17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as s

from commsbot.content.places import Places
from commsbot.insights import stats as st
from commsbot.insights.figures import Summary

BRUSSELS = ZoneInfo("Europe/Brussels")
# Five weeks, across the end of summer time (2026-10-25), so week starts differ in UTC.
PERIOD = st.Period(
    datetime(2026, 10, 14, tzinfo=BRUSSELS), datetime(2026, 11, 12, tzinfo=BRUSSELS), BRUSSELS
)
WEEKS = [st.week_start(w, BRUSSELS) for w in st.week_range(PERIOD.since, PERIOD.until, BRUSSELS)]
PLACES = Places.of(
    [{"slug": "plzen", "name": "Plzeň"}, {"slug": "vilnius", "name": "Vilnius"}],
    [{"slug": "games", "name": "Games"}, {"slug": "health", "name": "Health"}],
)
ACCOUNTS = {"outbox": "outbox", "mastodon": "mastodon", "sky": "bluesky"}
PAIRS = (("city", "theme"), ("week", "channel"), ("channel", "city"), ("type", "week"))

counts = s.integers(min_value=0, max_value=50)
cells = s.builds(
    lambda account, *rest: st.Cell(account, ACCOUNTS[account], *rest),
    s.sampled_from(sorted(ACCOUNTS)),
    s.sampled_from(("practice", "event", "newsletter")),
    s.sampled_from((None, "plzen", "vilnius", "birmingham")),  # birmingham is not known
    s.sampled_from((None, "games", "health", "smart-cities")),
    s.sampled_from(WEEKS),
    s.integers(min_value=1, max_value=9),
    counts,
    counts,
    counts,
    counts,
    s.integers(min_value=0, max_value=3),
    counts,
)


@given(s.lists(cells, max_size=60))
def test_groupings_from_cells_summed_over_weeks_are_the_weeks_own(
    week_cells: list[st.Cell],
) -> None:
    summary = Summary(PERIOD, PLACES, week_cells)
    for by in st.GROUPINGS:
        assert summary.groups(by) == st.summarise(week_cells, by, PERIOD, PLACES), by
    for rows, columns in PAIRS:
        for skip_none in (False, True):
            assert summary.cross(rows, columns, skip_none=skip_none) == st.cross(
                week_cells, rows, columns, PERIOD, PLACES, skip_none=skip_none
            ), (rows, columns, skip_none)
    assert summary.total() == st.total(week_cells)


@given(s.lists(cells, max_size=60))
def test_cells_summed_over_weeks(week_cells: list[st.Cell]) -> None:
    summed = st.over_weeks(week_cells)
    keys = [(c.channel, c.platform, c.item_type, c.city, c.theme) for c in summed]
    assert len(keys) == len(set(keys))
    for cell, key in zip(summed, keys, strict=True):
        same = [
            c for c in week_cells if (c.channel, c.platform, c.item_type, c.city, c.theme) == key
        ]
        assert cell.sent_at == min(c.sent_at for c in same)
        for name in ("posts", "favourites", "boosts", "replies", "reactions", "deleted", "quotes"):
            assert getattr(cell, name) == sum(getattr(c, name) for c in same), name
    assert sum(c.posts for c in summed) == sum(c.posts for c in week_cells)


def test_week_starts_cover_the_period() -> None:
    """The strategy's weeks are the period's, each a Monday at local midnight."""
    assert len(WEEKS) == 5
    assert all(w.weekday() == 0 and w.hour == 0 for w in WEEKS)
    in_utc = [w.astimezone(UTC) for w in WEEKS]
    assert in_utc[2] - in_utc[1] == timedelta(days=7, hours=1)  # summer time ends between
