"""Movement figures: who takes up the campaign, week by week, and how the audience grows.

Pure functions over rows read by ``commsbot.store.movement`` (``load`` reads them). A
*voice* is an account other than ours that used a campaign hashtag or mentioned our
account; it is *new* in the week of the first status of it the store has ever seen.
*Reach* is favourites + boosts + replies, as last read. Weeks are ISO weeks in the
configured time zone; statuses count in the week they were posted.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from commsbot.stats import Period, stamp, week_end, week_label, week_range

if TYPE_CHECKING:
    from commsbot.store import Store

UNKNOWN_LANGUAGE = "(unknown)"


@dataclass(frozen=True)
class MovementStatus:
    acct: str
    account_url: str
    created_at: datetime
    language: str | None
    url: str | None
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
    return [
        MovementStatus(
            acct=r["acct"],
            account_url=r["account_url"],
            created_at=stamp(r["created_at"]),
            language=r["language"],
            url=r["url"],
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


def _tally(label: str, statuses: Iterable[MovementStatus], new_voices: int) -> Week:
    week = Week(label, new_voices=new_voices)
    accounts: set[str] = set()
    voices: set[str] = set()
    posts: set[int] = set()
    for s in statuses:
        if s.own:
            week.own += s.tagged
            continue
        voices.add(s.acct)
        week.reach += s.reach
        if s.tagged:
            week.tagged += 1
            accounts.add(s.acct)
        if s.mention:
            week.mentions += 1
        if s.reply_to_post is not None:
            week.replies += 1
            posts.add(s.reply_to_post)
    week.accounts, week.voices, week.conversations = len(accounts), len(voices), len(posts)
    return week


def _inside(moment: datetime, period: Period) -> bool:
    return (period.since is None or moment >= period.since) and moment < period.until


def weekly(
    statuses: Sequence[MovementStatus], first_seen: Mapping[str, datetime], period: Period
) -> tuple[list[Week], Week]:
    """Every ISO week of the period (from the first status when it has no start), and the
    whole period; ``first_seen`` is each voice's first status ever (``store.first_seen``)."""
    zone = period.zone
    start = period.since or min((s.created_at for s in statuses), default=None)
    labels = week_range(start, period.until, zone)
    by_week: dict[str, list[MovementStatus]] = {label: [] for label in labels}
    for s in statuses:
        by_week[week_label(s.created_at, zone)].append(s)
    new: dict[str, int] = dict.fromkeys(labels, 0)
    for moment in first_seen.values():
        if _inside(moment, period):
            new[week_label(moment, zone)] += 1
    weeks = [_tally(label, by_week[label], new[label]) for label in labels]
    return weeks, _tally("total", statuses, sum(new.values()))


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
    mine: dict[str, list[MovementStatus]] = {}
    for s in statuses:
        if not s.own:
            mine.setdefault(s.acct, []).append(s)
    voices = [
        Voice(
            acct=acct,
            url=said[-1].account_url,
            statuses=len(said),
            tagged=sum(s.tagged for s in said),
            mentions=sum(s.mention for s in said),
            favourites=sum(s.favourites for s in said),
            boosts=sum(s.boosts for s in said),
            replies=sum(s.replies for s in said),
            first_seen=first_seen.get(acct, said[0].created_at),
        )
        for acct, said in mine.items()
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
