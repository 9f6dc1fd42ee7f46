"""Movement figures: who takes up the campaign, week by week, and how the audience grows.

Pure functions over rows read by ``commsbot.store.movement`` (``load`` reads them). A
*voice* is an account other than ours that used a campaign hashtag or mentioned our
account; it is *new* in the week of the first status of it the store has ever seen.
*Reach* is favourites + boosts + replies, as last read. Weeks are ISO weeks in the
configured time zone; statuses count in the week they were posted.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from commsbot.insights.stats import Period, stamp, week_end, week_range
from commsbot.text import web_url

if TYPE_CHECKING:
    from commsbot.store import Store

UNKNOWN_LANGUAGE = "(unknown)"


@dataclass(slots=True)
class MovementStatus:
    acct: str
    account_url: str
    created_at: datetime
    language: str | None
    favourites: int
    boosts: int
    replies: int
    own: bool
    mention: bool
    tagged: bool
    reply_to_post: int | None

    @property
    def reach(self) -> int:
        return self.favourites + self.boosts + self.replies


def movement_statuses(rows: Iterable[dict[str, Any]]) -> list[MovementStatus]:
    """Rows of ``store.movement.statuses`` as figures."""
    # An account's handle and url are kept once, however many statuses it has.
    shared: dict[str, str] = {}
    return [
        MovementStatus(
            acct=shared.setdefault(r["acct"], r["acct"]),
            account_url=shared.setdefault(r["account_url"], r["account_url"]),
            created_at=stamp(r["created_at"]),
            language=r["language"],
            favourites=r["favourites"],
            boosts=r["boosts"],
            replies=r["replies"],
            own=bool(r["own"]),
            mention=bool(r["mention"]),
            tagged=bool(r["tagged"]),
            reply_to_post=r["reply_to_post"],
        )
        for r in rows
    ]


@dataclass
class Week:
    """The movement in one ISO week (or, labelled "total", in the whole period)."""

    week: str
    tagged: int = 0  # statuses by others using a campaign hashtag
    accounts: int = 0  # distinct accounts among them
    mentions: int = 0  # statuses by others mentioning our account
    replies: int = 0  # statuses by others replying to one of our posts
    conversations: int = 0  # distinct posts of ours replied to
    voices: int = 0  # distinct accounts heard, by hashtag or mention
    new_voices: int = 0  # accounts heard for the first time ever
    own: int = 0  # our own statuses using a campaign hashtag
    reach: int = 0  # of the statuses by others

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


class _Tally:
    """Counts of one week (or of the period) taken in one pass over its statuses."""

    __slots__ = ("accounts", "posts", "voices", "week")

    def __init__(self, label: str) -> None:
        self.week = Week(label)
        self.accounts: set[str] = set()
        self.voices: set[str] = set()
        self.posts: set[int] = set()

    def add(self, s: MovementStatus) -> None:
        week = self.week
        if s.own:
            week.own += s.tagged
            return
        self.voices.add(s.acct)
        week.reach += s.favourites + s.boosts + s.replies
        if s.tagged:
            week.tagged += 1
            self.accounts.add(s.acct)
        week.mentions += s.mention
        if s.reply_to_post is not None:
            week.replies += 1
            self.posts.add(s.reply_to_post)

    def done(self, new_voices: int) -> Week:
        week = self.week
        week.accounts, week.voices = len(self.accounts), len(self.voices)
        week.conversations, week.new_voices = len(self.posts), new_voices
        return week


def _inside(moment: datetime, period: Period) -> bool:
    return (period.since is None or moment >= period.since) and moment < period.until


def weekly(
    statuses: Sequence[MovementStatus], first_seen: Mapping[str, datetime], period: Period
) -> tuple[list[Week], Week]:
    """Every ISO week of the period (from the first status when it has no start), and the
    whole period; ``first_seen`` is each voice's first status ever (``store.first_seen``)."""
    start = period.since or min((s.created_at for s in statuses), default=None)
    labels = week_range(start, period.until, period.zone)
    # A status is in the week whose end is the first one after it (ends in UTC: quicker
    # to compare than a label made for each of many statuses).
    ends = [week_end(label, period.zone).astimezone(UTC) for label in labels]
    weeks = [_Tally(label) for label in labels]
    total = _Tally("total")
    for s in statuses:
        weeks[bisect_right(ends, s.created_at)].add(s)
        total.add(s)
    new = [0] * len(labels)
    for moment in first_seen.values():
        if _inside(moment, period):
            new[bisect_right(ends, moment)] += 1
    return [w.done(n) for w, n in zip(weeks, new, strict=True)], total.done(sum(new))


@dataclass(frozen=True)
class Voice:
    """One account other than ours and what it said in the period."""

    acct: str
    url: str
    statuses: int
    tagged: int
    mentions: int
    favourites: int
    boosts: int
    replies: int
    first_seen: datetime

    @property
    def reach(self) -> int:
        return self.favourites + self.boosts + self.replies

    def as_row(self, period: Period) -> dict[str, Any]:
        return {
            "account": self.acct,
            "url": self.url,
            "statuses": self.statuses,
            "tagged": self.tagged,
            "mentions": self.mentions,
            "favourites": self.favourites,
            "boosts": self.boosts,
            "replies": self.replies,
            "reach": self.reach,
            "first_seen": self.first_seen.astimezone(period.zone).isoformat(),
        }


def top_voices(
    statuses: Iterable[MovementStatus], first_seen: Mapping[str, datetime], n: int
) -> list[Voice]:
    """The ``n`` voices of most reach; ties go to more statuses, then by handle."""
    # acct -> [url, statuses, tagged, mentions, favourites, boosts, replies, first status]
    said: dict[str, list[Any]] = {}
    for s in statuses:
        if s.own:
            continue
        sums = said.get(s.acct)
        if sums is None:
            sums = said[s.acct] = ["", 0, 0, 0, 0, 0, 0, s.created_at]
        # The latest known; one stored before URLs were checked is checked here too.
        sums[0] = web_url(s.account_url) or ""
        sums[1] += 1
        sums[2] += s.tagged
        sums[3] += s.mention
        sums[4] += s.favourites
        sums[5] += s.boosts
        sums[6] += s.replies
    voices = [
        Voice(
            acct,
            url,
            statuses,
            tagged,
            mentions,
            favourites,
            boosts,
            replies,
            first_seen.get(acct, first),
        )
        for acct, (url, statuses, tagged, mentions, favourites, boosts, replies, first) in (
            said.items()
        )
    ]
    return sorted(voices, key=lambda v: (-v.reach, -v.statuses, v.acct.lower()))[:n]


@dataclass(frozen=True)
class Language:
    language: str
    statuses: int
    accounts: int
    share_pct: float

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def languages(statuses: Iterable[MovementStatus]) -> list[Language]:
    """Statuses by others per language (as their authors set it), most first."""
    counts: dict[str, int] = {}
    accounts: dict[str, set[str]] = {}
    for s in statuses:
        if s.own:
            continue
        key = s.language or UNKNOWN_LANGUAGE
        counts[key] = counts.get(key, 0) + 1
        accounts.setdefault(key, set()).add(s.acct)
    total = sum(counts.values())
    return [
        Language(key, n, len(accounts[key]), round(100 * n / total, 1))
        for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


@dataclass(frozen=True)
class AudienceSeries:
    """One channel's audience (or digest subscribers) at the end of each week."""

    channel: str
    kind: str  # audience | subscribers
    values: list[int | None]  # None: not measured yet
    start: int | None  # at the start of the period, or first measured in it
    end: int | None  # last measured in the period

    @property
    def label(self) -> str:
        return f"{self.channel} digest subscribers" if self.kind == "subscribers" else self.channel

    @property
    def change(self) -> int | None:
        return None if self.start is None or self.end is None else self.end - self.start

    def as_row(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "change": self.change,
        }


def _last_before(points: Sequence[tuple[datetime, int]], moment: datetime) -> int | None:
    """The size last measured before a moment; points are oldest first."""
    i = bisect_left(points, moment, key=lambda p: p[0])
    return points[i - 1][1] if i else None


@dataclass(frozen=True)
class AudienceGrowth:
    weeks: list[str]
    series: list[AudienceSeries]


def audience_growth(rows: Iterable[dict[str, Any]], period: Period) -> AudienceGrowth:
    """Snapshots (``store.movement.audience_snapshots``, oldest first) per week and series:
    the last size measured before each week ends; audiences first, then subscribers."""
    taken: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    for r in rows:
        taken.setdefault((r["kind"], r["channel"]), []).append((stamp(r["observed_at"]), r["size"]))
    first = min((t for points in taken.values() for t, _ in points), default=None)
    weeks = week_range(period.since or first, period.until, period.zone)
    series = []
    for (kind, channel), points in sorted(taken.items()):
        values = [_last_before(points, min(week_end(w, period.zone), period.until)) for w in weeks]
        start = None if period.since is None else _last_before(points, period.since)
        if start is None:
            start = next((size for t, size in points if _inside(t, period)), None)
        end = _last_before(points, period.until)
        series.append(AudienceSeries(channel, kind, values, start, end))
    return AudienceGrowth(weeks, series)


@dataclass(frozen=True)
class MovementFigures:
    period: Period
    weeks: list[Week]
    total: Week
    voices: list[Voice]
    languages: list[Language]
    audience: AudienceGrowth

    @property
    def empty(self) -> bool:
        return not self.total.voices and not self.total.own and not self.audience.series

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.as_dict(),
            "weeks": [w.as_row() for w in self.weeks],
            "total": {k: v for k, v in self.total.as_row().items() if k != "week"},
            "top_voices": [v.as_row(self.period) for v in self.voices],
            "languages": [lang.as_row() for lang in self.languages],
            "audience": {
                "weeks": self.audience.weeks,
                "series": [
                    {**s.as_row(), "label": s.label, "values": s.values}
                    for s in self.audience.series
                ],
            },
        }


def figures(
    status_rows: Iterable[dict[str, Any]],
    first_seen: Mapping[str, str],
    snapshot_rows: Iterable[dict[str, Any]],
    period: Period,
    top: int,
) -> MovementFigures:
    """Every movement figure of a period, from the rows the store gave."""
    statuses = movement_statuses(status_rows)
    firsts = {acct: stamp(moment) for acct, moment in first_seen.items()}
    weeks, total = weekly(statuses, firsts, period)
    return MovementFigures(
        period,
        weeks,
        total,
        top_voices(statuses, firsts, top),
        languages(statuses),
        audience_growth(snapshot_rows, period),
    )


def load(store: Store, period: Period, top: int) -> MovementFigures:
    """Read the rows a period needs and compute its figures."""
    from commsbot.store import movement as movement_q

    return figures(
        movement_q.statuses(store, period.since, period.until),
        movement_q.first_seen(store),
        movement_q.audience_snapshots(store, period.until),
        period,
        top,
    )
