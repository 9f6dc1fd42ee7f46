"""The figures ``stats``, the report and the console's Stats page read from the store,
once for all three: the same function, so their figures agree.

``insights.stats`` aggregates and stays pure; this is where its inputs come from.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from itertools import pairwise
from typing import Any

from commsbot.content.places import Places
from commsbot.insights import stats as st
from commsbot.store import Store
from commsbot.store import stats as stats_q


def reference(store: Store) -> Places:
    """The known cities and themes, so groups with no posts show too."""
    return Places.load(store)


@dataclass(frozen=True)
class Summary:
    """A period's sent posts summed in the store (per account, type, city, theme and
    week), ready to group any way the stats show them."""

    period: st.Period
    reference: Places
    cells: list[st.Cell]

    @cached_property
    def _over_weeks(self) -> list[st.Cell]:
        # Every grouping but the week's comes out the same from the cells summed over the
        # weeks, a fifth as many in a month's figures and a fiftieth in a year's.
        return st.over_weeks(self.cells)

    def _cells_for(self, *groupings: str) -> list[st.Cell]:
        return self.cells if "week" in groupings else self._over_weeks

    def groups(self, by: str) -> list[st.Group]:
        """Posts and engagement per account, platform, theme, city, type or week."""
        return st.summarise(self._cells_for(by), by, self.period, self.reference)

    def cross(self, row_by: str, column_by: str, *, skip_none: bool = False) -> st.Grid:
        """Grouped two ways at once: city x theme, week x account."""
        return st.cross(
            self._cells_for(row_by, column_by),
            row_by,
            column_by,
            self.period,
            self.reference,
            skip_none=skip_none,
        )

    def total(self) -> st.Group:
        return st.total(self._over_weeks)


def summary(
    store: Store,
    period: st.Period,
    places: Places | None = None,
    kept: KeptCells | None = None,
) -> Summary:
    """The period's figures, summed by the store week by week (a GROUP BY over a stretch
    of ``post_stats``' index each: faster than telling weeks apart in SQL). With ``kept``,
    only the weeks that changed since it last read them."""
    first = period.since
    if first is None:
        found = stats_q.first_sent(store, period.until)
        first = st.stamp(found) if found is not None else None
    starts = [
        st.week_start(w, period.zone) for w in st.week_range(first, period.until, period.zone)
    ]
    # Each week's stretch: the first starts with the period, the last ends with it.
    stretches: list[Stretch] = [
        (start, period.since if i == 0 else start, end)
        for i, (start, end) in enumerate(pairwise([*starts, period.until]))
    ]
    if kept is not None:
        cells = kept.cells(store, stretches)
    else:
        cells = [cell for stretch in stretches for cell in _read(store, *stretch)]
    return Summary(period, places if places is not None else reference(store), cells)


Stretch = tuple[datetime, datetime | None, datetime | None]  # week start, since, until


def _read(
    store: Store, start: datetime, since: datetime | None, until: datetime | None
) -> list[st.Cell]:
    # The row's columns are the cell's other fields.
    return [st.Cell(sent_at=start, **row) for row in stats_q.sent_cells(store, since, until)]


class KeptCells:
    """Each week's cells as last read, kept by a console between views: a week is read
    again only when a ``post_stats`` row of one of its days changed (each change marks
    its day, migration 29) or an account's platform did. The service commits every
    minute, mostly without touching a sent post's figures, and a month's weekly GROUP BYs
    are most of the Stats page's time."""

    def __init__(self, most: int = 1000) -> None:
        self.most = most  # weeks kept: about twenty years of them
        self._weeks: dict[Stretch, tuple[tuple[tuple[str, int], ...], list[st.Cell]]] = {}
        self._platforms: list[tuple[str, str]] | None = None
        self.reads = 0  # weeks read from the store, for the tests

    def __len__(self) -> int:
        """How many weeks are kept."""
        return len(self._weeks)

    def cells(self, store: Store, stretches: list[Stretch]) -> list[st.Cell]:
        """The cells of ``stretches`` in order, reading only the weeks that changed."""
        if not stretches:
            return []
        platforms = stats_q.platforms(store)
        if platforms != self._platforms:
            self._weeks.clear()
            self._platforms = platforms
        marks = stats_q.day_marks(store, stretches[0][1], stretches[-1][2])
        days = [day for day, _ in marks]
        cells: list[st.Cell] = []
        for stretch in stretches:
            first, last = stats_q.days_of(stretch[1], stretch[2])
            mark = tuple(marks[bisect_left(days, first) : bisect_right(days, last)])
            found = self._weeks.get(stretch)
            if found is None or found[0] != mark:
                found = (mark, _read(store, *stretch))
                self.reads += 1
                self._weeks.pop(stretch, None)
                self._weeks[stretch] = found  # the newest last, the first to go the oldest
                while len(self._weeks) > self.most:
                    del self._weeks[next(iter(self._weeks))]
            cells.extend(found[1])
        return cells


def total(store: Store, period: st.Period) -> st.Group:
    """The period's posts and engagement in all: ``summary(...).total()`` in one pass."""
    sums = stats_q.sent_total(store, period.since, period.until)
    return st.Group(None, "total", **{k: v or 0 for k, v in sums.items()})


def top_posts(store: Store, period: st.Period, n: int) -> list[st.PostFigures]:
    """The ``n`` posts of the period with most engagement; ties go to the earlier post."""
    return st.post_figures(stats_q.top_sent(store, period.since, period.until, n))


def subscriber_history(store: Store) -> list[dict[str, Any]]:
    """Every subscriber's channel, frequency, and when they came and went."""
    return stats_q.subscriber_history(store)


def bot_usage(store: Store, period: st.Period) -> tuple[list[st.CommandUse], st.CommandUse]:
    """The bot's commands used in the period, and their total."""
    return st.bot_usage(stats_q.bot_queries(store, period.since, period.until))
