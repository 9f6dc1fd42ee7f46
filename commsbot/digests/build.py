"""Partner digests: periods, what is new for one subscriber, and how it reads.

A digest belongs to a frequency and a period (ISO week ``2026-W48``, calendar month
``2026-11``, in the service's time zone). What a subscriber gets is everything that became
new since the end of the last period a digest covered for them (the period's start for a
first digest) up to the end of this one, filtered by their cities and themes:

- practices, newsletters and news items by when they were added;
- events once they have an outcome, by their last update (a corrected outcome is news).

An item with no city (or theme) is for everyone; one with a city reaches those who chose
that city or no city at all. Rendering is pure: no network, no writes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from commsbot.channels.email import EmailChannel
from commsbot.content.places import Places
from commsbot.content.translations import for_reader
from commsbot.errors import ContentError, TemplateError
from commsbot.render import LINK_FIELD, SLOT_MARK, Slot
from commsbot.store import Store, iso
from commsbot.store import digests as q
from commsbot.store import translations as translations_q
from commsbot.text import public_text

if TYPE_CHECKING:
    from commsbot.channels.base import Channel
    from commsbot.config import Config
    from commsbot.i18n import Speaker
    from commsbot.render import Renderer

TELEGRAM_LIMIT = 4096
_WEEK_RE = re.compile(r"^([0-9]{4})-W([0-9]{1,2})$", re.IGNORECASE)
_MONTH_RE = re.compile(r"^([0-9]{4})-([0-9]{1,2})$")
# Sections in the order a digest shows them; headings are the templates' business.
SECTIONS = ("practice", "event", "newsletter", "news")
_TAG_RE = re.compile(r"<[^>]*>")


# -- periods -------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    frequency: str
    label: str  # 2026-W48 or 2026-11
    start: datetime  # aware, in the service's zone
    end: datetime

    def title_in(self, words: Speaker) -> str:
        """The period as a reader of ``words``' language names it ("Woche 48, 23.-29. Nov.")."""
        from babel.dates import format_date, format_interval

        if words.language == "en":  # the long English form digests have always had
            return self.title
        if self.frequency == "weekly":
            last = (self.end - timedelta(days=1)).date()
            span = format_interval(self.start.date(), last, "yMMMMd", locale=words.locale)
            return words.gettext(
                "Week %(number)d, %(span)s", number=int(self.label.split("W")[1]), span=span
            )
        return format_date(self.start.date(), "LLLL y", locale=words.locale)

    @property
    def title(self) -> str:
        if self.frequency == "weekly":
            last = (self.end - timedelta(days=1)).date()
            first = self.start.date()
            span = (
                f"{first.day}\N{EN DASH}{last.day} {last:%B %Y}"
                if first.month == last.month
                else f"{first.day} {first:%B} \N{EN DASH} {last.day} {last:%B %Y}"
            )
            return f"Week {int(self.label.split('W')[1])}, {span}"
        return f"{self.start:%B %Y}"


def _at_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def week(year: int, number: int, zone: ZoneInfo) -> Period:
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ContentError(f"{year}-W{number:02d} is not an ISO week") from None
    return Period(
        "weekly",
        f"{year}-W{number:02d}",
        _at_midnight(monday, zone),
        _at_midnight(monday + timedelta(days=7), zone),
    )


def month(year: int, number: int, zone: ZoneInfo) -> Period:
    if not 1 <= number <= 12:
        raise ContentError(f"{year}-{number:02d} is not a month")
    following = date(year + number // 12, number % 12 + 1, 1)
    return Period(
        "monthly",
        f"{year}-{number:02d}",
        _at_midnight(date(year, number, 1), zone),
        _at_midnight(following, zone),
    )


def parse_period(text: str, zone: ZoneInfo) -> Period:
    """``2026-W48`` (an ISO week) or ``2026-11`` (a month)."""
    value = text.strip()
    found = _WEEK_RE.match(value) or _MONTH_RE.match(value)
    # The period's end and its start in UTC must exist: the year 9999 has no next week.
    if found and not 1900 <= int(found.group(1)) <= 9998:
        raise ContentError(f"period {text!r}: the year must be from 1900 to 9998")
    if found := _WEEK_RE.match(value):
        return week(int(found.group(1)), int(found.group(2)), zone)
    if found := _MONTH_RE.match(value):
        return month(int(found.group(1)), int(found.group(2)), zone)
    raise ContentError(f"period {text!r}: use an ISO week (2026-W48) or a month (2026-11)")


def period_of(frequency: str, moment: datetime, zone: ZoneInfo) -> Period:
    """The week or month a moment falls in."""
    local = moment.astimezone(zone).date()
    if frequency == "weekly":
        year, number, _ = local.isocalendar()
        return week(year, number, zone)
    return month(local.year, local.month, zone)


def last_complete(frequency: str, now: datetime, zone: ZoneInfo) -> Period:
    """The latest period that is over: the one ``digest send`` sends by default."""
    current = period_of(frequency, now, zone)
    return period_of(frequency, current.start - timedelta(seconds=1), zone)


# -- what is new for whom --------------------------------------------------------


@dataclass
class Contents:
    """Items that became new in a window, by item type, each with its ``new_at``, and
    their translations (type -> item id -> language -> fields)."""

    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    translations: dict[str, dict[int, dict[str, dict[str, Any]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, since: datetime, until: datetime) -> Contents:
        items = q.new_items(store, since, until)
        translations = {
            kind: translations_q.of_items(store, kind, [i["id"] for i in rows])
            for kind, rows in items.items()
            if rows
        }
        return cls(items, translations)

    def total(self) -> int:
        return sum(len(v) for v in self.items.values())

    def for_subscriber(self, subscriber: dict[str, Any], since: datetime) -> Contents:
        """What one subscriber gets: new since ``since``, in their cities and themes."""
        cities = set(subscriber.get("cities") or ())
        themes = set(subscriber.get("themes") or ())
        stamp = iso(since)
        return Contents(
            {
                kind: [
                    i
                    for i in items
                    if i["new_at"] >= stamp
                    and not (cities and i.get("city") and i["city"] not in cities)
                    and not (themes and i.get("theme") and i["theme"] not in themes)
                ]
                for kind, items in self.items.items()
            },
            self.translations,
        )


def since_for(subscriber: dict[str, Any], period: Period, covered: dict[int, datetime]) -> datetime:
    """Where a subscriber's digest starts: after the last period covered for them."""
    return covered.get(subscriber["id"], period.start)


# -- rendering -------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A rendered digest for one subscriber, before it has a delivery row."""

    text: str
    subject: str | None = None
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    items: int = 0


class DigestRenderer:
    """Renders digests with the templates under ``digest/``, for e-mail or Telegram."""

    def __init__(self, renderer: Renderer, lookup: Places, config: Config, period: Period):
        self.renderer = renderer
        self.lookup = lookup
        self.config = config
        self.period = period

    def context(
        self,
        contents: Contents,
        subscriber: dict[str, Any],
        since: datetime,
        per_section: int,
    ) -> dict[str, Any]:
        sections = []
        for kind in SECTIONS:
            items = contents.items.get(kind, [])
            if not items:
                continue
            shown = items[:per_section]
            sections.append(
                {
                    "kind": kind,
                    "entries": [
                        self._entry(kind, i, contents.translations.get(kind, {})) for i in shown
                    ],
                    "more": len(items) - len(shown),
                }
            )
        zone = self.config.zone
        words = self.renderer.words
        return {
            "title": self.config.digest.title,
            "period": {
                "label": self.period.label,
                "title": self.period.title_in(words),
                "frequency": self.period.frequency,
                "start": self.period.start.date().isoformat(),
                "end": (self.period.end - timedelta(days=1)).date().isoformat(),
            },
            "since": words.date(since.astimezone(zone).date()),
            "sections": sections,
            "total": contents.total(),
            "subscriber": {
                "frequency": subscriber.get("frequency", self.period.frequency),
                "cities": [self._name("city", c) for c in subscriber.get("cities") or ()],
                "themes": [self._name("theme", t) for t in subscriber.get("themes") or ()],
            },
        }

    def _name(self, kind: str, slug: str) -> str:
        table = self.lookup.cities if kind == "city" else self.lookup.themes
        found = table.get(slug)
        return str(found["name"]) if found else slug

    def _entry(
        self, kind: str, item: dict[str, Any], translations: dict[int, dict[str, dict[str, Any]]]
    ) -> dict[str, Any]:
        """An item in the reader's language where it has that translation, else in its
        original, with ``other_language`` (its language's name) to say so."""
        words = self.renderer.words
        shown = for_reader(item, translations.get(item["id"], {}), words.language)
        context = self.lookup.context(shown)
        context["link"] = item.get(LINK_FIELD.get(kind, "url"))
        language = shown.get("language") or shown["original_language"]
        context["other_language"] = (
            # A feed's item may have no language: then nothing is said about it.
            words.language_name(language) if language and language != words.language else None
        )
        return context

    def render(self, name: str, context: dict[str, Any]) -> str:
        text = self.renderer.render_text(
            f"digest/{name}", context, f"the {self.period.label} digest"
        )
        # As in posts: no invisible control from an officer's text reaches a subscriber.
        return public_text(text)

    def email(
        self,
        channel: Channel | None,
        contents: Contents,
        subscriber: dict[str, Any],
        since: datetime,
    ) -> Message:
        """Subject, plain text and HTML, with the unsubscribe link and headers."""
        shared = self.shared(channel, contents, subscriber, since)
        return self.personal(channel, shared, subscriber["token"])

    def _email_parts(
        self, contents: Contents, subscriber: dict[str, Any], since: datetime
    ) -> Shared:
        """The e-mail rendered once, cut where the templates print ``unsubscribe.url``."""
        context = self.context(contents, subscriber, since, self.config.digest.max_items)
        context["unsubscribe"] = {"url": Slot()}
        parts = {
            name: self.render(f"{name}.j2", context).split(SLOT_MARK)
            for name in ("subject.txt", "email.txt", "email.html")
        }
        for name in ("email.txt", "email.html"):
            if len(parts[name]) < 2:
                raise TemplateError(
                    f"template digest/{name}.j2 must print {{{{ unsubscribe.url }}}} as it is: "
                    "every digest says how to leave it"
                )
        return Shared(parts=parts, items=contents.total())

    def telegram(self, contents: Contents, subscriber: dict[str, Any], since: datetime) -> Message:
        """One message in Telegram's HTML within 4096 characters: when the digest is too
        long, every section shows fewer items (and says how many more there are)."""

        def attempt(per_section: int) -> str | None:
            context = self.context(contents, subscriber, since, per_section)
            context["unsubscribe"] = {"command": "/unsubscribe"}
            text = self.render("telegram.html.j2", context)
            return text if _utf16(text) <= TELEGRAM_LIMIT else None

        best = attempt(self.config.digest.max_items)
        if best is None:
            # Bisect for the most items per section that fit (fewer items, shorter text);
            # each success is more items than the last, so the last one is kept.
            fits, too_many = -1, self.config.digest.max_items
            while too_many - fits > 1:
                middle = (fits + too_many) // 2
                found = attempt(middle)
                if found is None:
                    too_many = middle
                else:
                    fits, best = middle, found
        if best is None:
            raise TemplateError(
                "template digest/telegram.html.j2 is longer than Telegram's 4096 characters "
                f"even without items ({self.period.label} digest)"
            )
        # A plain-text fallback for a channel that cannot send HTML.
        plain = html.unescape(_TAG_RE.sub("", best))
        return Message(text=plain, html=best, items=contents.total())

    def shared(
        self,
        channel: Channel | None,
        contents: Contents,
        subscriber: dict[str, Any],
        since: datetime,
    ) -> Shared:
        """What every subscriber with the same choices gets, before it is theirs."""
        kind = channel.kind if channel is not None else subscriber["channel"]
        if kind == "email":
            return self._email_parts(contents, subscriber, since)
        # A Telegram digest names the /unsubscribe command: it holds no token at all.
        return Shared(message=self.telegram(contents, subscriber, since))

    def personal(self, channel: Channel | None, shared: Shared, token: str) -> Message:
        """One subscriber's digest: their own unsubscribe link built where the templates
        print it, and nowhere else (the content around it was rendered without it)."""
        if shared.message is not None:
            return shared.message
        assert isinstance(channel, EmailChannel)
        leave = channel.unsubscribe(token)
        url, parts = leave.url, shared.parts
        return Message(
            text=url.join(parts["email.txt"]),
            subject=" ".join(url.join(parts["subject.txt"]).split()),
            html=html.escape(url).join(parts["email.html"]),
            headers={**leave.headers, "Content-Language": self.renderer.language},
            items=shared.items,
        )


@dataclass(frozen=True)
class Shared:
    """A digest as subscribers with the same choices share it: a finished message when it
    holds nothing personal (Telegram), else the e-mail's parts around the unsubscribe link."""

    message: Message | None = None
    parts: dict[str, list[str]] = field(default_factory=dict)
    items: int = 0


def choices(subscriber: dict[str, Any]) -> tuple[list[str], list[str]]:
    return list(subscriber.get("cities") or ()), list(subscriber.get("themes") or ())


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def sample_subscriber(channel: str, frequency: str, token: str = "preview-token") -> dict[str, Any]:
    """A subscriber who chose no cities and no themes, for previews."""
    return {
        "id": 0,
        "channel": channel,
        "address": "",
        "frequency": frequency,
        "cities": [],
        "themes": [],
        "token": token,
    }


def check_digest_templates(
    config: Config, sample: Store, language: str = "en"
) -> tuple[list[str], int]:
    """Render the digest templates in a language over a store where everything is new
    (the sample): problems found, and how many renderings were tried."""
    from commsbot.channels.email import EmailSettings
    from commsbot.render import Renderer
    from commsbot.text import is_valid_telegram_html

    period = period_of("weekly", datetime.now(ZoneInfo("UTC")), config.zone)
    renderer = DigestRenderer(
        Renderer(config.service.templates, language), Places.load(sample), config, period
    )
    contents = Contents.load(sample, period.start - timedelta(days=365 * 100), period.end)
    settings = config.channels.get("email") or EmailSettings()
    assert isinstance(settings, EmailSettings)
    problems: list[str] = []
    try:
        renderer.email(
            EmailChannel(settings), contents, sample_subscriber("email", "weekly"), period.start
        )
    except TemplateError as exc:
        problems.append(f"email ({language}): {exc}")
    try:
        message = renderer.telegram(contents, sample_subscriber("telegram", "weekly"), period.start)
        if not is_valid_telegram_html(message.html or ""):
            problems.append(
                f"telegram ({language}): template digest/telegram.html.j2 makes HTML that "
                "Telegram refuses"
            )
    except TemplateError as exc:
        problems.append(f"telegram ({language}): {exc}")
    return problems, 2
