"""What the console's pages compute from the operations below them: previews, periods,
calendars, figures. No SQL, and no store module: reads are operations of the capability
packages (posting.overview, insights.figures...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from commsbot.config import Config
from commsbot.errors import N_, CommsbotError, ContentError
from commsbot.insights import stats as st

if TYPE_CHECKING:
    from commsbot.i18n import Speaker
    from commsbot.insights.figures import KeptCells
    from commsbot.store import Store

STATE_LABELS = {
    "draft": "draft",
    "pending_approval": "waiting for approval",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "failed": "failed",
    "cancelled": "cancelled",
    "unknown": "unknown: check the platform",
}


def state_label(status: str) -> str:
    return STATE_LABELS.get(status, status)


# Markup's %-formatting escapes like .format() does, at a fraction of its cost: these
# two are called for every post on a page.
def state_badge(status: str) -> Markup:
    return Markup('<span class="state state-%s">%s</span>') % (status, state_label(status))


def csrf_input(user: Any) -> Markup:
    """The hidden CSRF field every form carries: the session's token."""
    token = user.csrf if user is not None else ""
    return Markup('<input type="hidden" name="csrf" value="%s">') % token


def post_accounts(config: Config) -> list[str]:
    """The enabled accounts that take posts, in config order."""
    from commsbot.channels import account_class

    return [n for n in config.enabled_channels if account_class(config.channel(n)).takes_posts]


@dataclass(frozen=True)
class Preview:
    """One account's rendering of a draft: exactly what it will publish, or why not."""

    channel: str
    text: str = ""
    length: int = 0
    limit: int = 0
    thread: tuple[str, ...] = ()
    truncated: bool = False
    error: str = ""
    language: str = ""  # the version's language, when the account posts in some only
    hold: str = ""  # why it waits for approval: no translation into its languages
    images: int = 0  # how many of the draft's images the platform shows


def previews(
    config: Config,
    text: str,
    link: str | None,
    accounts: list[str],
    text_for: dict[str, str] | None = None,
    language: str | None = None,
    translations: dict[str, str] | None = None,
    words: Speaker | None = None,
    images: int = 0,
) -> list[Preview]:
    """Each account's post for an announcement, rendered as the pipeline will render it;
    ``text_for`` gives an account its own text instead of ``text``. An account with
    ``languages`` shows the version it will post of the text in ``language`` and its
    ``translations``: one of them, the original waiting for approval, or why it is skipped
    (said by ``words``, the reader's language). Of ``images`` images, each shows as
    many as its platform takes."""
    from commsbot.i18n import DEFAULT, speaker
    from commsbot.posting.pipeline import make_channels
    from commsbot.posting.queue import announcement_version
    from commsbot.render import Renderer

    own = text_for or {}
    words = words or speaker(DEFAULT)
    if not text.strip() and not any(own.get(a, "").strip() for a in accounts):
        return []
    renderers: dict[str, Renderer] = {}
    shown = []
    for name, channel in make_channels(config, accounts).items():
        try:
            version = announcement_version(
                name, channel.settings, text, language, translations or {}
            )
        except CommsbotError as exc:
            shown.append(Preview(name, error=words.say(exc)))
            continue
        mine = own.get(name) or version.item["body"]
        if not mine.strip():
            continue
        lang = version.language if name not in own else language
        if (lang or DEFAULT) not in renderers:  # its fixed words in its language, as announce
            renderers[lang or DEFAULT] = Renderer(config.service.templates, lang or DEFAULT)
        try:
            out = renderers[lang or DEFAULT].render(
                channel,
                "announcement",
                {"text": mine, "item": {"language": lang or None}},
                link=link,
                what="the announcement",
            )
        except CommsbotError as exc:
            shown.append(Preview(name, error=words.say(exc)))
            continue
        shown.append(
            Preview(
                name,
                out.text,
                out.length,
                out.limit,
                out.thread,
                out.truncated,
                language=version.language if channel.settings.languages else "",
                hold=version.hold or "",
                images=min(images, channel.most_images()),
            )
        )
    return shown


def post_images(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    """A post's images in order, each with its alt text, as its channel reads them."""
    from commsbot.channels.base import Rendered, images_with_alt

    post = Rendered(
        0,
        "",
        "",
        "",
        "",
        "",
        image=payload.get("image"),
        image_alt=payload.get("image_alt"),
        images=tuple(payload.get("images") or ()),
        images_alt=tuple(payload.get("images_alt") or ()),
    )
    return images_with_alt(post)


@dataclass(frozen=True)
class Picture:
    """One of the composer's images: its name where it is kept, and its alt text."""

    name: str = ""
    alt: str = ""


@dataclass(frozen=True)
class Draft:
    """What the composer holds: the text, each account's own text, the link, the image."""

    text: str = ""
    link: str = ""
    chosen: list[str] = field(default_factory=list)
    own: dict[str, str] = field(default_factory=dict)
    # Up to four images, kept with the store (``content.images``) between previews too.
    pictures: tuple[Picture, ...] = ()
    language: str = ""  # the text's own ("" says none, as `queue add` without --language)
    translations: dict[str, str] = field(default_factory=dict)  # language -> the text in it


@dataclass(frozen=True)
class LinkCard:
    """The card a platform shows for a link, as far as the store knows the linked item;
    the console never fetches a URL to find out."""

    url: str
    host: str
    title: str = ""
    description: str = ""

    @property
    def known(self) -> bool:
        return bool(self.title)


def link_card(store: Store, url: str) -> LinkCard:
    """The card for ``url``: the title and summary of the practice, event, newsletter or
    news item it links to, else only its host."""
    from urllib.parse import urlsplit

    from commsbot.content.items import by_link

    host = urlsplit(url).hostname or url
    item = by_link(store, url)
    if item is None:
        return LinkCard(url, host)
    description = item.get("summary") or item.get("outcome") or ""
    return LinkCard(url, host, item.get("title") or "", str(description))


def post_length(config: Config, post: dict[str, Any]) -> tuple[int, int] | None:
    """A post's length as its platform counts it, and the limit; None for a channel that
    is no longer configured."""
    from commsbot.posting.pipeline import make_channels

    if post["channel"] not in config.channels:
        return None
    channel = make_channels(config, [post["channel"]])[post["channel"]]
    return channel.length(post["text"]), channel.limit()


# -- periods ----------------------------------------------------------------------------

PRESETS = (7, 30, 90, 365)


@dataclass(frozen=True)
class Chosen:
    """The period a stats page shows, the one before it, and how it was asked for."""

    period: st.Period
    previous: st.Period
    since: date
    until: date  # the last day, included


def parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ContentError(
            N_("%(name)s: %(value)s is not a date (YYYY-MM-DD)"), name=name, value=repr(text)
        ) from None


def choose_period(query: Any, zone: ZoneInfo, now: datetime) -> Chosen:
    """``since``/``until`` days (until included), else ``days`` back from today (30)."""
    today = now.astimezone(zone).date()
    since_text, until_text = query.get("since", ""), query.get("until", "")
    if since_text or until_text:
        until = parse_day(until_text, "until") if until_text else today
        since = parse_day(since_text, "since") if since_text else until - timedelta(days=29)
    else:
        try:
            days = int(query.get("days", "30"))
        except ValueError:
            days = 30
        days = min(max(days, 1), 3660)
        until, since = today, today - timedelta(days=days - 1)
    if since > until:
        raise ContentError(
            N_("since: %(since)s is after until (%(until)s)"), since=since, until=until
        )
    start = datetime.combine(since, time(), zone)
    end = datetime.combine(until + timedelta(days=1), time(), zone)
    length = end - start
    return Chosen(st.Period(start, end, zone), st.Period(start - length, start, zone), since, until)


def figures(
    store: Store, chosen: Chosen, top: int = 10, kept: KeptCells | None = None
) -> dict[str, Any]:
    """The stats page: totals now and before, groupings, the heat-map and top posts, from
    the same summary as ``commsbot stats`` and the report (its weeks from ``kept``, read
    again where they changed)."""
    from commsbot.insights import charts
    from commsbot.insights import figures as fig

    period = chosen.period
    summary = fig.summary(store, period, kept=kept)
    groups = {by: summary.groups(by) for by in st.GROUPINGS}
    heat = summary.cross("city", "theme", skip_none=True)
    return {
        "total": summary.total(),
        "previous": fig.total(store, chosen.previous),
        "groups": groups,
        "heat": heat,
        "heat_chart": charts.heat_map(
            [label for _, label in heat.rows],
            [label for _, label in heat.columns],
            [[(g.engagement, g.posts) for g in row] for row in heat.cells],
        ),
        "channel_chart": charts.bar_chart([(g.label, g.engagement) for g in groups["channel"]]),
        "top": fig.top_posts(store, period, top),
    }


def movement(store: Store, config: Config, chosen: Chosen, top: int = 10) -> dict[str, Any]:
    """The stats page's movement and audience growth: the figures ``commsbot stats
    movement`` and the report show, with the report's charts and one per account."""
    from commsbot.insights import charts
    from commsbot.insights import movement as mv
    from commsbot.insights.report import movement_context

    figures = mv.load(store, chosen.period, top, accounts=config.movement_accounts())
    return {
        **movement_context(figures, config.movement.hashtags),
        "accounts_chart": charts.stacked_columns(
            [a.account for a in figures.accounts],
            {
                "with hashtags": [a.total.tagged for a in figures.accounts],
                "mentions": [a.total.mentions for a in figures.accounts],
            },
        ),
    }


def audience_rows(growth: Any) -> list[dict[str, Any]]:
    """Audience growth as rows for a download: one per week and channel."""
    return [
        {"week": week, "channel": s.channel, "kind": s.kind, "size": s.values[i]}
        for i, week in enumerate(growth.weeks)
        for s in growth.series
    ]


# -- calendar ---------------------------------------------------------------------------


# Posts a day shows in each view; a busy day links to the rest in the queue.
DAY_POSTS = {"week": 12, "month": 4}
CALENDAR_TEXT = 60  # characters of a post's text a calendar shows


def shortened(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` characters at a word, ending with "…"."""
    if len(text) <= size:
        return text
    cut = text[: size - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


@dataclass
class Day:
    day: date
    in_month: bool
    posts: list[dict[str, Any]]
    free_slots: list[tuple[str, str]]  # (account, local time) of empty slots
    more: int = 0  # posts beyond what a day shows; the queue lists them all


# A day's posts, free slots and "Move to…" choices are made here rather than in the
# template: a month has a few hundred, and the template spends ~20 steps on each (half
# the page's time). Every value from the store or the config goes through escape().


def day_posts(day: Day, movable: bool, posts_url: str, badge: Any) -> Markup:
    """A day's posts as the calendar lists them: draggable ones when ``movable``."""
    url = escape(posts_url)
    lines = []
    for p in day.posts:
        drag = (
            f' draggable="true" data-post="{p["id"]}" data-time="{p["local"]}"'
            if movable and p["movable"]
            else ""
        )
        lines.append(
            f'<li class="cal-post account-{p["tone"]}"{drag}><a href="{url}{p["id"]}">'
            f"{p['local']} {escape(p['channel'])} #{p['id']}</a> {badge(p['status'])} "
            f'<span class="text">{escape(p["short"])}</span></li>'
        )
    return Markup("\n".join(lines))


def day_free_slots(day: Day, word: str) -> Markup:
    """A day's free slots, each a drop target: "10:00 outbox: free slot"."""
    word, iso = escape(word), day.day.isoformat()
    return Markup(
        "".join(
            f'<li class="free" data-slot="{iso}T{at}">{at} {escape(account)}: {word}</li>'
            for account, at in day.free_slots
        )
    )


def move_choices(day: Day, label: str) -> Markup:
    """The "Move to…" form's choices for a day's movable posts."""
    label = escape(label)
    return Markup(
        "".join(
            f'<option value="{p["id"]}">{label} {p["local"]} {escape(p["channel"])} '
            f"#{p['id']}</option>"
            for p in day.posts
            if p["movable"]
        )
    )


def calendar(
    store: Store, config: Config, view: str, start_text: str, now: datetime
) -> dict[str, Any]:
    """The days of a week or month view with their posts and free slots."""
    from commsbot.posting import overview
    from commsbot.posting.queue import EDITABLE
    from commsbot.slots import between, parse_slots

    zone = config.zone
    today = now.astimezone(zone).date()
    anchor = parse_day(start_text, "start") if start_text else today
    if view == "month":
        first = anchor.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        grid_start = first - timedelta(days=first.weekday())
        grid_end = last + timedelta(days=6 - last.weekday())
        prev = (first - timedelta(days=1)).replace(day=1)
        nxt = last + timedelta(days=1)
    else:
        view = "week"
        first = grid_start = anchor - timedelta(days=anchor.weekday())
        last = grid_end = grid_start + timedelta(days=6)
        prev, nxt = grid_start - timedelta(days=7), grid_start + timedelta(days=7)
    start = datetime.combine(grid_start, time(), zone)
    end = datetime.combine(grid_end + timedelta(days=1), time(), zone)
    days = {
        grid_start + timedelta(days=i): Day(grid_start + timedelta(days=i), False, [], [])
        for i in range((grid_end - grid_start).days + 1)
    }
    for d in days.values():
        d.in_month = first <= d.day <= last
    order = list(days.values())
    starts = [datetime.combine(d.day, time(), zone) for d in order] + [end]
    accounts = post_accounts(config)
    tone = {name: i % 8 for i, name in enumerate(accounts)}
    # What the template would otherwise work out per post (a month shows a few hundred):
    # the local time, the account's colour, whether it may move, the text cut short.
    for at, due, post in overview.days(store, starts, DAY_POSTS[view]):
        day = order[at]
        when = datetime.fromisoformat(post["not_before"]).astimezone(zone)
        day.posts.append(
            {
                **post,
                "local": f"{when.hour:02d}:{when.minute:02d}",
                "tone": tone.get(post["channel"], 0),
                "movable": post["status"] in EDITABLE,
                "short": shortened(post["text"], CALENDAR_TEXT),
            }
        )
        day.more = due - len(day.posts)
    free = [
        (name, moment)
        for name in accounts
        if (slots := parse_slots(config.channel(name).slots))
        for moment in between(slots, zone, max(start, now), end)
    ]
    taken = overview.held(store, free)
    for name, moment in free:
        if (name, moment) not in taken:
            slot = moment.astimezone(zone)
            days[slot.date()].free_slots.append((name, f"{slot.hour:02d}:{slot.minute:02d}"))
    weeks = [list(days.values())[i : i + 7] for i in range(0, len(days), 7)]
    return {
        "view": view,
        "weeks": weeks,
        "first": first,
        "last": last,
        "prev": prev.isoformat(),
        "next": nxt.isoformat(),
        "today": today,
        "accounts": accounts,
    }


def free_slots(store: Store, config: Config, channel: str, now: datetime, n: int) -> list[str]:
    """The next ``n`` free slots of an account, as local 'YYYY-MM-DDTHH:MM' values."""
    from commsbot.posting import overview
    from commsbot.slots import SlotQueue, parse_slots

    if channel not in config.channels:
        return []
    slots = parse_slots(config.channel(channel).slots)
    if not slots:
        return []
    queue = SlotQueue(slots, config.zone, now, overview.taken_slots(store, channel, now))
    return [queue.take().astimezone(config.zone).strftime("%Y-%m-%dT%H:%M") for _ in range(n)]


def parse_local(text: str, zone: ZoneInfo, name: str) -> datetime:
    """A datetime-local field ('2026-12-03T10:00') in the config's zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ContentError(
            N_("%(name)s: %(value)s is not a time (YYYY-MM-DD HH:MM)"), name=name, value=repr(text)
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
