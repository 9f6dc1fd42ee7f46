"""Engagement statistics: pure aggregation over rows read by ``commsbot.store.stats``.

A post's figures are its latest snapshot, never a sum of snapshots; a post deleted on its
platform keeps its last known counts and is marked. Engagement is favourites + boosts +
replies + reactions + quotes (Bluesky counts a quote apart from a repost; the other
platforms have none). Weeks are ISO weeks in the configured time zone.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from commsbot.config import FREQUENCIES
from commsbot.content.places import Places
from commsbot.text import truncate

GROUPINGS = ("channel", "platform", "theme", "city", "type", "week")
NONE_LABEL = "(none)"
# The platforms that count quotes: tables show the column only where one of them posted.
QUOTING_PLATFORMS = ("bluesky",)
TITLE_WIDTH = 80
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Period:
    """[since, until) in UTC-aware datetimes; ``since`` None means from the beginning."""

    since: datetime | None
    until: datetime
    zone: ZoneInfo

    def first_day(self) -> date | None:
        return None if self.since is None else self.since.astimezone(self.zone).date()

    def last_day(self) -> date:
        """The last local day inside the period (``until`` itself is excluded)."""
        return (self.until - _TICK).astimezone(self.zone).date()

    def describe(self) -> str:
        first = self.first_day()
        start = "the beginning" if first is None else first.isoformat()
        return f"{start} to {self.last_day().isoformat()} ({self.zone.key})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": None if self.since is None else self.since.astimezone(self.zone).isoformat(),
            "until": self.until.astimezone(self.zone).isoformat(),
            "timezone": self.zone.key,
        }


def stamp(text: str) -> datetime:
    """A stored UTC stamp (``store.iso``). fromisoformat reads 'Z' since 3.11 and is about
    ten times faster than ``store.from_iso``'s strptime, which shows over 100,000 rows."""
    return datetime.fromisoformat(text)


def week_label(moment: datetime | date, zone: ZoneInfo) -> str:
    """ISO week of a moment in the configured zone, e.g. ``2026-W48``."""
    day = moment.astimezone(zone).date() if isinstance(moment, datetime) else moment
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_range(start: datetime | None, end: datetime, zone: ZoneInfo) -> list[str]:
    """Every ISO week from the one holding ``start`` to the one holding ``end`` (excluded)."""
    if start is None or start >= end:
        return []
    monday = _monday(start.astimezone(zone).date())
    last = (end - _TICK).astimezone(zone).date()
    weeks = []
    while monday <= last:
        weeks.append(week_label(monday, zone))
        monday += timedelta(days=7)
    return weeks


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_start(label: str, zone: ZoneInfo) -> datetime:
    """The first instant of an ISO week: its Monday, 00:00 local time."""
    year, week = label.split("-W")
    return datetime.combine(date.fromisocalendar(int(year), int(week), 1), time(), zone)


def week_end(label: str, zone: ZoneInfo) -> datetime:
    """The first instant after an ISO week: its following Monday, 00:00 local time."""
    return datetime.combine(week_start(label, zone).date() + timedelta(days=7), time(), zone)


# -- posts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PostFigures:
    """One sent post and its latest known counts."""

    id: int
    channel: str
    item_type: str
    # The channel's kind (mastodon, telegram, ...): several accounts make one platform.
    platform: str
    title: str
    city: str | None
    theme: str | None
    sent_at: datetime
    url: str | None
    deleted: bool
    favourites: int
    boosts: int
    replies: int
    reactions: int
    observed_at: datetime | None
    quotes: int = 0

    @property
    def engagement(self) -> int:
        return self.favourites + self.boosts + self.replies + self.reactions + self.quotes

    @property
    def posts(self) -> int:
        """One post: a post sums into groups as a cell of one does."""
        return 1


@dataclass(frozen=True)
class Cell:
    """The sums over the posts sent in one week that share account, platform, type, city
    and theme: what the store's GROUP BY returns, and what groups and grids add up."""

    channel: str
    platform: str
    item_type: str
    city: str | None
    theme: str | None
    sent_at: datetime  # the start of the week its posts were sent in
    posts: int
    favourites: int
    boosts: int
    replies: int
    reactions: int
    deleted: int
    quotes: int


def over_weeks(cells: Iterable[Cell]) -> list[Cell]:
    """The cells summed over their weeks: one per account, platform, type, city and
    theme, dated by the first week of its posts."""
    summed: dict[tuple[str, str, str, str | None, str | None], list[Any]] = {}
    for c in cells:
        key = (c.channel, c.platform, c.item_type, c.city, c.theme)
        sums = summed.get(key)
        if sums is None:
            summed[key] = [
                c.sent_at, c.posts, c.favourites, c.boosts, c.replies, c.reactions, c.deleted,
                c.quotes,
            ]  # fmt: skip
            continue
        sums[0] = min(sums[0], c.sent_at)
        sums[1] += c.posts
        sums[2] += c.favourites
        sums[3] += c.boosts
        sums[4] += c.replies
        sums[5] += c.reactions
        sums[6] += c.deleted
        sums[7] += c.quotes
    return [Cell(*key, *sums) for key, sums in summed.items()]


class Counts(Protocol):
    """The sums a group adds up: of a post, a cell of posts or another group."""

    @property
    def posts(self) -> int: ...
    @property
    def favourites(self) -> int: ...
    @property
    def boosts(self) -> int: ...
    @property
    def replies(self) -> int: ...
    @property
    def reactions(self) -> int: ...
    @property
    def quotes(self) -> int: ...
    @property
    def deleted(self) -> int: ...


class Counted(Counts, Protocol):
    """A post or a cell of posts: what groups add up, and what they are grouped by."""

    @property
    def channel(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def item_type(self) -> str: ...
    @property
    def city(self) -> str | None: ...
    @property
    def theme(self) -> str | None: ...
    @property
    def sent_at(self) -> datetime: ...


def post_figures(rows: Iterable[dict[str, Any]]) -> list[PostFigures]:
    """Rows of ``store.stats.sent_posts`` as figures."""
    posts = []
    for r in rows:
        title = r["title"] or (r["text"] or "").strip().split("\n", 1)[0] or r["item_ref"]
        if len(title) > TITLE_WIDTH:  # graphemes never outnumber code points
            title = truncate(title, TITLE_WIDTH)
        posts.append(
            PostFigures(
                id=r["id"],
                channel=r["channel"],
                item_type=r["item_type"],
                platform=r["platform"],
                title=title,
                city=r["city"],
                theme=r["theme"],
                sent_at=stamp(r["sent_at"]),
                url=r["remote_url"],
                deleted=r["remote_deleted_at"] is not None,
                favourites=r["favourites"],
                boosts=r["boosts"],
                replies=r["replies"],
                reactions=r["reactions"],
                observed_at=stamp(r["observed_at"]) if r["observed_at"] else None,
                quotes=r["quotes"],
            )
        )
    return posts


@dataclass
class Group:
    """Sums over the posts of one group (a channel, a city, a week...)."""

    key: str | None
    label: str
    posts: int = 0
    favourites: int = 0
    boosts: int = 0
    replies: int = 0
    reactions: int = 0
    deleted: int = 0
    quotes: int = 0

    @property
    def engagement(self) -> int:
        return self.favourites + self.boosts + self.replies + self.reactions + self.quotes

    @property
    def per_post(self) -> float | None:
        """Engagement per post, to two decimals; None for a group without posts."""
        return round(self.engagement / self.posts, 2) if self.posts else None

    def add(self, counts: Counts) -> None:
        """Sum in a post, a cell of posts, or another group (a grid's row or column)."""
        self.posts += counts.posts
        self.favourites += counts.favourites
        self.boosts += counts.boosts
        self.replies += counts.replies
        self.reactions += counts.reactions
        self.quotes += counts.quotes
        self.deleted += counts.deleted

    def as_row(self, key_name: str) -> dict[str, Any]:
        return {
            key_name: self.key,
            "posts": self.posts,
            "favourites": self.favourites,
            "boosts": self.boosts,
            "replies": self.replies,
            "reactions": self.reactions,
            "quotes": self.quotes,
            "engagement": self.engagement,
            "per_post": self.per_post,
            "deleted": self.deleted,
        }


def shows_quotes(posts: Iterable[Counted]) -> bool:
    """Whether a table of these posts (or cells) has a quotes column: one of them went to
    a platform that counts quotes (elsewhere the figure is no zero, it does not exist)."""
    return any(p.platform in QUOTING_PLATFORMS for p in posts)


def _key_of(by: str, zone: ZoneInfo) -> Callable[[Counted], str | None]:
    if by == "week":
        # A month's cells hold five week starts: each labelled once, not once a cell.
        labels: dict[datetime, str] = {}

        def week_of(p: Counted) -> str:
            label = labels.get(p.sent_at)
            if label is None:
                label = labels[p.sent_at] = week_label(p.sent_at, zone)
            return label

        return week_of
    attribute = "item_type" if by == "type" else by
    return lambda p: getattr(p, attribute)


def _keys(
    by: str, posts: Sequence[Counted], period: Period, reference: Places
) -> list[tuple[str | None, str]]:
    """The groups to show, in order, with their labels; known cities/themes even when empty."""
    key_of = _key_of(by, period.zone)
    seen = {key_of(p) for p in posts}
    known: tuple[tuple[str, str], ...] = ()
    if by == "week":
        first = period.since or min((p.sent_at for p in posts), default=None)
        known = tuple((w, w) for w in week_range(first, period.until, period.zone))
    elif by == "city":
        known = reference.named("city")
    elif by == "theme":
        known = reference.named("theme")
    listed = {slug for slug, _ in known}
    extra = sorted(k for k in seen if k is not None and k not in listed)
    keys: list[tuple[str | None, str]] = [*known, *((k, k) for k in extra)]
    if by == "week":
        keys.sort()
    if None in seen:
        keys.append((None, NONE_LABEL))
    return keys


def summarise(posts: Sequence[Counted], by: str, period: Period, reference: Places) -> list[Group]:
    """Posts and engagement per channel (account), platform, theme, city, content type or
    ISO week."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r} (known: {', '.join(GROUPINGS)})")
    groups = {key: Group(key, label) for key, label in _keys(by, posts, period, reference)}
    key_of = _key_of(by, period.zone)
    for post in posts:
        groups[key_of(post)].add(post)
    return list(groups.values())


def total(posts: Iterable[Counted]) -> Group:
    group = Group(None, "total")
    for post in posts:
        group.add(post)
    return group


def combined(groups: Iterable[Group], key: str | None = None, label: str = "total") -> Group:
    """One group summing others: a row or column of a grid."""
    group = Group(key, label)
    for g in groups:
        group.add(g)
    return group


def top_posts(posts: Iterable[PostFigures], n: int) -> list[PostFigures]:
    """The ``n`` posts with most engagement; ties go to the earlier post."""
    return sorted(posts, key=lambda p: (-p.engagement, p.sent_at, p.id))[:n]


@dataclass(frozen=True)
class Grid:
    """A cross-table of groups: ``cells[r][c]`` for row key r and column key c."""

    rows: list[tuple[str | None, str]]
    columns: list[tuple[str | None, str]]
    cells: list[list[Group]]

    def column_totals(self) -> list[Group]:
        return [
            combined((row[c] for row in self.cells), key, label)
            for c, (key, label) in enumerate(self.columns)
        ]

    def row_totals(self) -> list[Group]:
        return [
            combined(row, key, label)
            for row, (key, label) in zip(self.cells, self.rows, strict=True)
        ]


def cross(
    posts: Sequence[Counted],
    row_by: str,
    column_by: str,
    period: Period,
    reference: Places,
    *,
    skip_none: bool = False,
) -> Grid:
    """Posts grouped two ways at once: city x theme for the heat-map, week x channel.

    With ``skip_none``, posts lacking either key (a newsletter has no city) are left out.
    """
    row_of, column_of = _key_of(row_by, period.zone), _key_of(column_by, period.zone)
    if skip_none:
        posts = [p for p in posts if row_of(p) is not None and column_of(p) is not None]
    rows = _keys(row_by, posts, period, reference)
    columns = _keys(column_by, posts, period, reference)
    at = {key: i for i, (key, _) in enumerate(rows)}
    col_at = {key: i for i, (key, _) in enumerate(columns)}
    cells = [[Group(c, label) for c, label in columns] for _ in rows]
    for post in posts:
        cells[at[row_of(post)]][col_at[column_of(post)]].add(post)
    return Grid(rows, columns, cells)


# -- subscribers ---------------------------------------------------------------------


@dataclass
class SubscriberGroup:
    """Growth and churn of one (channel, frequency) over a period."""

    channel: str
    frequency: str
    active_start: int = 0
    new: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    active_end: int = 0

    @property
    def net(self) -> int:
        return self.new - self.unsubscribed - self.bounced

    @property
    def churn_pct(self) -> float | None:
        """Share of everyone subscribed at some time in the period who left, in percent."""
        exposed = self.active_start + self.new
        left = self.unsubscribed + self.bounced
        return round(100 * left / exposed, 1) if exposed else None

    def as_row(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "frequency": self.frequency,
            "active_start": self.active_start,
            "new": self.new,
            "unsubscribed": self.unsubscribed,
            "bounced": self.bounced,
            "net": self.net,
            "active_end": self.active_end,
            "churn_pct": self.churn_pct,
        }


@dataclass(frozen=True)
class _Subscription:
    channel: str
    frequency: str
    status: str
    joined: datetime
    left: datetime | None

    def active_at(self, moment: datetime) -> bool:
        """Subscribed just before ``moment``: joined earlier and not yet gone."""
        return self.joined < moment and (self.left is None or self.left >= moment)


def _subscriptions(rows: Iterable[dict[str, Any]]) -> list[_Subscription]:
    return [
        _Subscription(
            r["channel"],
            r["frequency"],
            r["status"],
            stamp(r["created_at"]),
            stamp(r["left_at"]) if r["left_at"] else None,
        )
        for r in rows
    ]


def subscriber_summary(
    rows: Iterable[dict[str, Any]], period: Period, channels: Sequence[str] = ()
) -> tuple[list[SubscriberGroup], SubscriberGroup]:
    """Per (channel, frequency), every combination shown: active at the start and end of the
    period, who joined, unsubscribed or bounced in it; and the total. ``channels`` (the
    configured digest accounts) are shown even without subscribers."""
    subs = _subscriptions(rows)
    combos = [(c, f) for c in channels for f in FREQUENCIES]
    combos += sorted({(s.channel, s.frequency) for s in subs} - set(combos))
    groups = {combo: SubscriberGroup(*combo) for combo in combos}
    everyone = SubscriberGroup("total", "all")
    for s in subs:
        for group in (groups[(s.channel, s.frequency)], everyone):
            _count(group, s, period)
    return list(groups.values()), everyone


def _count(group: SubscriberGroup, s: _Subscription, period: Period) -> None:
    def inside(moment: datetime) -> bool:
        return (period.since is None or moment >= period.since) and moment < period.until

    if period.since is not None and s.active_at(period.since):
        group.active_start += 1
    if inside(s.joined):
        group.new += 1
    if s.left is not None and inside(s.left):
        if s.status == "bounced":
            group.bounced += 1
        else:
            group.unsubscribed += 1
    if s.active_at(period.until):
        group.active_end += 1


@dataclass(frozen=True)
class Growth:
    """Active subscribers per channel at the end of each week (or of the period)."""

    weeks: list[str]
    channels: list[str]
    active: dict[str, list[int]] = field(default_factory=dict)

    def totals(self) -> list[int]:
        return [sum(self.active[c][i] for c in self.channels) for i in range(len(self.weeks))]


def subscriber_growth(
    rows: Iterable[dict[str, Any]], period: Period, shown: Sequence[str] = ()
) -> Growth:
    subs = _subscriptions(rows)
    first = period.since or min((s.joined for s in subs), default=None)
    weeks = week_range(first, period.until, period.zone)
    channels = [*shown, *sorted({s.channel for s in subs} - {*shown})]
    active: dict[str, list[int]] = {c: [] for c in channels}
    for channel in channels:
        # Active just before t: joined before t, less those who also left before t.
        joined = sorted(s.joined for s in subs if s.channel == channel)
        left = sorted(s.left for s in subs if s.channel == channel and s.left is not None)
        for label in weeks:
            moment = min(week_end(label, period.zone), period.until)
            active[channel].append(bisect_left(joined, moment) - bisect_left(left, moment))
    return Growth(weeks, channels, active)


# -- bot -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandUse:
    command: str
    queries: int
    chats: int
    share_pct: float

    def as_row(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "queries": self.queries,
            "chats": self.chats,
            "share_pct": self.share_pct,
        }


def bot_usage(rows: Iterable[dict[str, Any]]) -> tuple[list[CommandUse], CommandUse]:
    """Queries and distinct chats per command, most used first; and the total."""
    queries: dict[str, int] = {}
    chats: dict[str, set[str]] = {}
    for r in rows:
        queries[r["command"]] = queries.get(r["command"], 0) + 1
        chats.setdefault(r["command"], set()).add(r["chat_hash"])
    count = sum(queries.values())

    def share(n: int) -> float:
        return round(100 * n / count, 1) if count else 0.0

    uses = [
        CommandUse(c, n, len(chats[c]), share(n))
        for c, n in sorted(queries.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    everyone = set().union(*chats.values()) if chats else set()
    return uses, CommandUse("total", count, len(everyone), 100.0 if count else 0.0)
