"""Movement figures: who takes up the campaign, week by week, and how the audience grows.

Pure functions over rows read by ``commsbot.store.movement`` (``load`` reads them). A
*voice* is an account other than ours that used a campaign hashtag or mentioned one of
our accounts; it is *new* in the week of the first status of it the store has ever seen.
*Reach* is favourites + boosts + replies, as last read. Weeks are ISO weeks in the
configured time zone; statuses count in the week they were posted.

Each Mastodon account of ours reads the movement on its own (its mentions, the hashtags as
its server sees them): the figures are those of one account, or of the network, where a
status two accounts read (the same public url) counts once and our own accounts are
never voices; ``by_account`` then gives each account's own totals.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from commsbot.insights.stats import Period, stamp, week_end, week_range
from commsbot.text import web_url

if TYPE_CHECKING:
    from commsbot.store import Store

UNKNOWN_LANGUAGE = "(unknown)"


@dataclass(slots=True)
class MovementStatus:
    account: str  # ours, that read it
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

    def merge(self, other: MovementStatus) -> None:
        """The same status as another account read it: what either saw, counted once."""
        self.own = self.own or other.own
        self.mention = self.mention or other.mention
        self.tagged = self.tagged or other.tagged
        self.favourites = max(self.favourites, other.favourites)
        self.boosts = max(self.boosts, other.boosts)
        self.replies = max(self.replies, other.replies)
        if self.reply_to_post is None:
            self.reply_to_post = other.reply_to_post


def movement_statuses(rows: Iterable[dict[str, Any]]) -> list[MovementStatus]:
    """Rows of ``store.movement.statuses`` as figures."""
    # An account's handle and url are kept once, however many statuses it has.
    shared: dict[str, str] = {}
    return [
        MovementStatus(
            account=shared.setdefault(r["account"], r["account"]),
            acct=shared.setdefault(r["acct"], r["acct"]),
            account_url=shared.setdefault(r["account_url"], r["account_url"]),
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


def network_statuses(statuses: Iterable[MovementStatus]) -> list[MovementStatus]:
    """Each status once, however many of our accounts read it (by its public url)."""
    seen: dict[str, MovementStatus] = {}
    merged: list[MovementStatus] = []
    for s in statuses:
        first = seen.get(s.url) if s.url else None
        if first is not None:
            first.merge(s)
            continue
        # A copy: the account's own figures keep what that account read.
        copy = replace(s)
        merged.append(copy)
        if s.url:
            seen[s.url] = copy
    return merged


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
class AccountMovement:
    """One Mastodon account's movement over the period: what it read, its audience."""

    account: str
    total: Week
    audience: AudienceSeries | None

    def as_row(self) -> dict[str, Any]:
        growth = self.audience
        return {
            "account": self.account,
            **{k: v for k, v in self.total.as_row().items() if k != "week"},
            "audience_start": None if growth is None else growth.start,
            "audience_end": None if growth is None else growth.end,
            "audience_change": None if growth is None else growth.change,
        }


def by_account(
    statuses: Iterable[MovementStatus],
    first_seen: Mapping[str, Mapping[str, datetime]],
    audience: AudienceGrowth,
    period: Period,
    accounts: Iterable[str],
) -> list[AccountMovement]:
    """Each account's totals: ``accounts`` (those tracking now) and every account that
    read a status in the period, in that order."""
    tallies = {name: _Tally("total") for name in accounts}
    for s in statuses:
        tallies.setdefault(s.account, _Tally("total")).add(s)
    followers = {x.channel: x for x in audience.series if x.kind == "audience"}
    return [
        AccountMovement(
            name,
            tally.done(
                sum(_inside(moment, period) for moment in first_seen.get(name, {}).values())
            ),
            followers.get(name),
        )
        for name, tally in tallies.items()
    ]


@dataclass(frozen=True)
class MovementFigures:
    period: Period
    weeks: list[Week]
    total: Week
    voices: list[Voice]
    languages: list[Language]
    audience: AudienceGrowth
    # The figures of one account only; None: of the network.
    account: str | None = None
    accounts: list[AccountMovement] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.total.voices and not self.total.own and not self.audience.series

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.as_dict(),
            "account": self.account,
            "by_account": [a.as_row() for a in self.accounts],
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
    first_seen: Mapping[str, Mapping[str, str]],
    snapshot_rows: Iterable[dict[str, Any]],
    period: Period,
    top: int,
    *,
    account: str | None = None,
    accounts: Sequence[str] = (),
    ours: set[str] | None = None,
) -> MovementFigures:
    """Every movement figure of a period, from the rows the store gave: those of one
    ``account`` (rows, first sightings and audience of it alone), or of the network,
    with each of ``accounts`` (and any other that read something) on its own line."""
    # Our accounts are never voices, not even to another account of ours.
    known = ours or set()
    read = movement_statuses(status_rows)
    for s in read:
        s.own = s.own or s.acct in known
    heard = {
        name: {acct: stamp(moment) for acct, moment in voices.items() if acct not in known}
        for name, voices in first_seen.items()
        if account is None or name == account
    }
    if account is not None:
        firsts = heard.get(account, {})
        snapshot_rows = [r for r in snapshot_rows if r["channel"] == account]
        statuses = read
    else:
        firsts = {}
        for voices in heard.values():
            for acct, moment in voices.items():
                firsts[acct] = min(moment, firsts.get(acct, moment))
        statuses = network_statuses(read)
    weeks, total = weekly(statuses, firsts, period)
    audience = audience_growth(snapshot_rows, period)
    return MovementFigures(
        period,
        weeks,
        total,
        top_voices(statuses, firsts, top),
        languages(statuses),
        audience,
        account,
        [] if account is not None else by_account(read, heard, audience, period, accounts),
    )


def load(
    store: Store, period: Period, top: int, account: str | None = None, accounts: Sequence[str] = ()
) -> MovementFigures:
    """Read the rows a period needs and compute its figures: of one account, or of the
    network with each of ``accounts`` (those tracking) on its own line."""
    from commsbot.store import movement as movement_q

    return figures(
        movement_q.statuses(store, period.since, period.until, account),
        movement_q.first_seen(store),
        movement_q.audience_snapshots(store, period.until),
        period,
        top,
        account=account,
        accounts=accounts,
        ours=movement_q.own_accounts(store),
    )
