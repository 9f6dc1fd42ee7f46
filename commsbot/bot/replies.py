"""What the bot answers: each command's reply, from the store (through the operations of
``content.answers``, ``digests.subscribers`` and ``posting.queue``) and the templates under
``templates/bot/`` (HTML, values escaped). No network here: ``commsbot.bot`` carries the
replies to Telegram, and the benchmark times them as they are.

Every reply is valid Telegram HTML within 4096 characters as Telegram counts them, in the
chat's language: the one it chose with /language, else its user's Telegram language, else
English (``commsbot.i18n``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from commsbot.channels import markup_of
from commsbot.channels.telegram import TelegramSettings
from commsbot.clock import Clock, local_text
from commsbot.config import FREQUENCIES, Config
from commsbot.content import answers
from commsbot.content.places import Places
from commsbot.content.translations import for_reader
from commsbot.digests import subscribers
from commsbot.errors import CommsbotError, ContentError, TemplateError
from commsbot.i18n import DEFAULT, LANGUAGES, N_, Speaker, negotiate
from commsbot.render import Renderer
from commsbot.text import (
    is_valid_telegram_html,
    slugify,
    telegram_fit,
    telegram_visible,
    truncate,
    utf16_length,
)
from commsbot.text.user_input import SQLITE_MAX, row_id, whole_number, without_controls

if TYPE_CHECKING:
    from commsbot.store import Store

MAX_REPLY = 4096
PAGE_SIZE = 5
SEARCH_LIMIT = 10
OTHERS_LIMIT = 3
SEARCH_WORDS = 12
EVENTS_LIMIT = 8
OUTCOMES_LIMIT = 5
QUEUE_LIMIT = 15
# Telegram's limit on an inline button's callback data.
CALLBACK_BYTES = 64


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    help: str
    admin: bool = False

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()

    def translated(self, words: Speaker) -> Command:
        """The command as a chat user of ``words``' language reads it in /help."""
        args = words.gettext(self.args) if self.args else ""
        return Command(self.name, args, words.gettext(self.help), self.admin)


COMMANDS: tuple[Command, ...] = (
    Command("start", "", N_("what this bot does")),
    Command("help", "", N_("the commands")),
    Command("practices", N_("[city] [theme]"), N_("good practices, a page at a time")),
    Command("practice", N_("<slug>"), N_("one practice in full")),
    Command("search", N_("<words>"), N_("practices that mention all the words")),
    Command("cities", "", N_("the partner cities")),
    Command("themes", "", N_("the themes")),
    Command("events", N_("[upcoming|past]"), N_("the network's events")),
    Command("outcomes", "", N_("what the events achieved")),
    Command("newsletter", "", N_("the latest newsletter")),
    Command(
        "subscribe",
        N_("[weekly|monthly] [city ...] [theme ...]"),
        N_("a digest in this chat, in its language"),
    ),
    Command("unsubscribe", "", N_("stop the digest")),
    Command("subscriptions", "", N_("what this chat receives")),
    Command("language", N_("[code]"), N_("the language I answer in")),
    Command("queue", "", N_("posts waiting to go out"), admin=True),
    Command("announce", N_("<text>"), N_("queue an announcement on every channel"), admin=True),
    Command("approve", N_("<post id>"), N_("approve a post waiting for approval"), admin=True),
    Command("cancel", N_("<post id>"), N_("cancel a post not yet sent"), admin=True),
    Command("status", "", N_("the outbox, the channels and the subscribers"), admin=True),
)
BY_NAME = {c.name: c for c in COMMANDS}
# The words commands take, typed in English or in the chat's language ("monatlich").
KEYWORDS = {
    "weekly": N_("weekly"),
    "monthly": N_("monthly"),
    "upcoming": N_("upcoming"),
    "past": N_("past"),
}


@dataclass(frozen=True)
class Button:
    text: str
    data: str  # callback data, at most 64 bytes


@dataclass(frozen=True)
class Reply:
    text: str  # Telegram HTML
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Request:
    args: str  # the text after the command
    chat: str  # the chat id, as subscriptions keep it
    admin: bool
    chat_key: str = ""  # the chat's salted hash, as its chosen language is kept


class Malformed(Exception):
    """The arguments do not fit the command; the message (may be empty) says why."""


def clip(text: str, width: int = 80) -> str:
    """User input shown back, at most ``width`` UTF-16 units."""
    return truncate(" ".join(text.split()), width, counter=utf16_length)


def not_known(places: Places, word: str, words: Speaker) -> Malformed:
    """The answer to a word that names no city or theme, with the closest name if any."""
    near = places.near_name(word)
    hint = (
        words.gettext("Did you mean %(name)s?", name=near)
        if near
        else words.gettext("See /cities and /themes.")
    )
    known = words.gettext("I know no city or theme called “%(word)s”.", word=clip(word, 40))
    return Malformed(f"{known} {hint}")


def page_data(city: str | None, theme: str | None, page: int) -> str | None:
    """Callback data for a page button; None when the filters are too long to fit."""
    data = f"practices:{page}:{city or ''}:{theme or ''}"
    return data if len(data.encode()) <= CALLBACK_BYTES else None


def parse_page_data(data: str) -> tuple[str | None, str | None, int] | None:
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != "practices":
        return None
    page = row_id(parts[1])
    return None if page is None else (parts[2] or None, parts[3] or None, page)


class Replies:
    """The answers to every command, for one store (use it from one thread)."""

    def __init__(
        self,
        store: Store,
        config: Config,
        clock: Clock,
        account: str | None = None,
    ) -> None:
        from commsbot.channels.telegram import bot_account

        self.store = store
        self.config = config
        self.clock = clock
        # Chat users subscribe to the digests of the account the bot answers as: with two
        # bots, each its own (#16).
        self.account = account or bot_account(config)
        # One renderer per language, made when a chat first speaks it; ``answer`` picks
        # the chat's (the replies of one call are all in one language).
        self._renderers: dict[str, Renderer] = {}
        self.renderer = self.renderer_for("en")
        self._places: tuple[Any, Places] | None = None
        self._spoken: dict[str, Places] = {}
        self.handlers: dict[str, Callable[[Request], Reply]] = {
            "start": lambda r: self.render("start"),
            "help": lambda r: self.help(admin=r.admin),
            "practices": lambda r: self.practices(r.args),
            "practice": lambda r: self.practice(r.args),
            "search": lambda r: self.search(r.args),
            "cities": lambda r: self.cities(),
            "themes": lambda r: self.themes(),
            "events": lambda r: self.events(r.args),
            "outcomes": lambda r: self.outcomes(),
            "newsletter": lambda r: self.newsletter(),
            "subscribe": lambda r: self.subscribe(r.args, r.chat),
            "unsubscribe": lambda r: self.unsubscribe(r.chat),
            "subscriptions": lambda r: self.subscriptions(r.chat),
            "language": lambda r: self.language(r.args, r.chat_key),
            "queue": lambda r: self.queue(),
            "announce": lambda r: self.announce(r.args),
            "approve": lambda r: self.change_post(r.args, "approve"),
            "cancel": lambda r: self.change_post(r.args, "cancel"),
            "status": lambda r: self.status(),
        }

    def places(self) -> Places:
        """Cities and themes as they are now; their names are indexed again only on a change."""
        rows = answers.places_rows(self.store)
        if self._places is None or self._places[0] != rows:
            self._places = (rows, Places.of(*rows))
            self._spoken.clear()
        language = self.words.language
        if language not in self._spoken:  # theme names in the chat's language
            self._spoken[language] = self._places[1].spoken(self.words)
        return self._spoken[language]

    def keyword(self, word: str, choices: Sequence[str]) -> str | None:
        """Which of a command's keywords a typed word is: the English word or its
        translation in the chat's language, in any case and with or without accents."""
        typed = slugify(word)
        for choice in choices:
            if typed in (choice, slugify(self.words.gettext(KEYWORDS[choice]))):
                return choice
        return None

    # -- the way in --------------------------------------------------------------------

    def renderer_for(self, language: str) -> Renderer:
        if language not in self._renderers:
            self._renderers[language] = Renderer(self.config.service.templates, language)
        return self._renderers[language]

    @property
    def words(self) -> Speaker:
        """The words of the language being answered in."""
        return self.renderer.words

    def chat_language(self, chat_key: str, user_language: str | None) -> str:
        """The chat's chosen language, else its user's Telegram language, else English."""
        chosen = answers.chat_language(self.store, chat_key) if chat_key else None
        return chosen if chosen in LANGUAGES else negotiate(user_language)

    def speak(self, chat_key: str, user_language: str | None) -> Speaker:
        """Answer the chat in its language from now on (until the next ``speak``)."""
        self.renderer = self.renderer_for(self.chat_language(chat_key, user_language))
        return self.words

    def answer(
        self,
        command: str | None,
        args: str,
        chat: str,
        *,
        admin: bool,
        chat_key: str = "",
        user_language: str | None = None,
    ) -> tuple[str, Reply]:
        """(the command as logged, the reply) for a command and the text after it, in the
        chat's language (see ``chat_language``).

        An admin command from anyone else gets the reply an unknown command gets.
        """
        self.speak(chat_key, user_language)
        # NUL and other control characters mean nothing in a command and break FTS5 quoting.
        args = without_controls(args)
        spec = BY_NAME.get((command or "").lower())
        if spec is None or (spec.admin and not admin):
            return "unknown", self.render("unknown", command=clip(command, 40) if command else None)
        try:
            reply = self.handlers[spec.name](Request(args.strip(), chat, admin, chat_key))
        except Malformed as exc:
            reply = self.render("usage", command=spec.translated(self.words), problem=str(exc))
        except CommsbotError as exc:
            reply = self.render("problem", command=spec, problem=self.words.say(exc))
        return spec.name, reply

    def render(self, name: str, buttons: Sequence[Button] = (), **context: Any) -> Reply:
        text = self.renderer.render_text(f"bot/{name}.j2", context, f"the bot's {name} reply")
        if not is_valid_telegram_html(text):  # a template edited by hand
            raise TemplateError(f"template bot/{name}.j2 does not render valid Telegram HTML")
        return Reply(telegram_fit(text, MAX_REPLY), tuple(buttons))

    def local(self, stamp: str) -> str:
        """A stored UTC time as the officer reads it: in the config's time zone, named
        ("CET"), as every command shows it."""
        if self.words.language == "en":  # as the CLI shows it
            return local_text(stamp, self.config.zone) or ""
        when = datetime.fromisoformat(stamp).astimezone(self.config.zone)
        return f"{self.words.datetime(when, format='short')} {when.strftime('%Z')}"

    def language(self, args: str, chat_key: str) -> Reply:
        """/language shows the chat's language; /language xx changes it."""
        code = args.strip().lower()
        if not code:
            return self.render(
                "language", language=self.words.language, languages=LANGUAGES, changed=False
            )
        if code not in LANGUAGES or not chat_key:
            raise Malformed(
                self.words.gettext(
                    "I speak these languages: %(codes)s.", codes=", ".join(LANGUAGES)
                )
            )
        answers.set_chat_language(self.store, chat_key, code, self.clock())
        self.renderer = self.renderer_for(code)
        return self.render("language", language=code, languages=LANGUAGES, changed=True)

    # -- for everyone --------------------------------------------------------------------

    def help(self, *, admin: bool) -> Reply:
        shown = [c.translated(self.words) for c in COMMANDS if admin or not c.admin]
        return self.render("help", commands=shown, admin=admin)

    def practices(self, args: str) -> Reply:
        places = self.places()
        cities, themes, unknown = places.parse(args.split())
        if unknown:
            raise not_known(places, unknown[0], self.words)
        if len(cities) > 1 or len(themes) > 1:
            raise Malformed(self.words.gettext("Give one city and one theme at most."))
        return self.practices_page(
            cities[0] if cities else None, themes[0] if themes else None, 1, places
        )

    def practices_page(
        self, city: str | None, theme: str | None, page: int, places: Places | None = None
    ) -> Reply:
        places = places or self.places()
        page = min(page, SQLITE_MAX // PAGE_SIZE)  # a forged page whose offset SQLite can hold
        city = city if city in places.cities else None
        theme = theme if theme in places.themes else None
        rows, total = answers.practices_page(
            self.store, city, theme, PAGE_SIZE, (max(page, 1) - 1) * PAGE_SIZE
        )
        pages = max(1, -(-total // PAGE_SIZE))
        if page > pages:  # a button from before some practices were removed
            return self.practices_page(city, theme, pages, places)
        buttons = []
        for label, target in ((N_("◀ Previous"), page - 1), (N_("Next ▶"), page + 1)):
            data = page_data(city, theme, target)
            if 1 <= target <= pages and data:
                buttons.append(Button(self.words.gettext(label), data))
        return self.render(
            "practices",
            buttons,
            practices=self.localize("practice", rows),
            total=total,
            page=page,
            pages=pages,
            city=places.cities.get(city or ""),
            theme=places.themes.get(theme or ""),
            cities=places.cities,
            themes=places.themes,
        )

    def page(self, data: str) -> Reply | None:
        """The page a practices button asks for; None for a button this bot did not make."""
        parsed = parse_page_data(data)
        return None if parsed is None else self.practices_page(*parsed)

    def practice(self, args: str) -> Reply:
        words = args.split()
        if len(words) != 1:
            raise Malformed("")
        item = answers.published_practice(self.store, words[0].lower())
        if item is None:
            return self.render("not_found", slug=clip(words[0], 60))
        places = self.places()
        return self.render(
            "practice",
            item=self.localize("practice", [item])[0],
            city=places.cities.get(item["city"]),
            theme=places.themes.get(item["theme"]),
        )

    def search(self, args: str) -> Reply:
        # A bounded number of bounded words: FTS work stays small whatever is typed.
        typed = [w[:64] for w in args.split()[:SEARCH_WORDS]]
        if not typed:
            raise Malformed("")
        places = self.places()
        cities, words = places.split_cities(typed)
        text = " ".join(words)
        found = answers.search_practices(self.store, text, SEARCH_LIMIT, cities)
        # Then the other types, a few each: a word in an event's outcome, a newsletter, news.
        others = {
            item_type: self.localize(
                item_type, answers.search_items(self.store, item_type, text, OTHERS_LIMIT, cities)
            )
            for item_type in ("event", "newsletter", "news")
        }
        return self.render(
            "search",
            query=clip(args),
            practices=self.localize("practice", found),
            events=others["event"],
            newsletters=others["newsletter"],
            news=others["news"],
            cities=places.cities,
            themes=places.themes,
        )

    def localize(self, item_type: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows in the chat's language where they have a translation, else as they are."""
        by_id = answers.translations(self.store, item_type, [r["id"] for r in rows])
        if not by_id:  # the common case costs one indexed query
            return rows
        return [for_reader(r, by_id.get(r["id"], {}), self.words.language) for r in rows]

    def cities(self) -> Reply:
        counts = answers.practice_counts(self.store, "city")
        return self.render("cities", cities=answers.places_rows(self.store)[0], counts=counts)

    def themes(self) -> Reply:
        counts = answers.practice_counts(self.store, "theme")
        return self.render("themes", themes=list(self.places().themes.values()), counts=counts)

    def events(self, args: str) -> Reply:
        which = self.keyword(args, ("upcoming", "past")) if args else "upcoming"
        if which is None:
            raise Malformed("")
        today = self.clock().astimezone(self.config.zone).date().isoformat()
        rows = answers.events(self.store, today, upcoming=which == "upcoming", limit=EVENTS_LIMIT)
        places = self.places()
        return self.render(
            "events", events=self.localize("event", rows), which=which, cities=places.cities
        )

    def outcomes(self) -> Reply:
        rows, totals = answers.outcomes(self.store, OUTCOMES_LIMIT)
        places = self.places()
        return self.render(
            "outcomes", events=self.localize("event", rows), totals=totals, cities=places.cities
        )

    def newsletter(self) -> Reply:
        return self.render("newsletter", newsletter=answers.latest_newsletter(self.store))

    # -- subscriptions ---------------------------------------------------------------------

    def subscribe(self, args: str, chat: str) -> Reply:
        words = args.split()
        chosen = [(w, self.keyword(w, FREQUENCIES)) for w in words]
        frequencies = [frequency for _, frequency in chosen if frequency]
        if len(frequencies) > 1:
            raise Malformed(self.words.gettext("Choose weekly or monthly, not both."))
        places = self.places()
        cities, themes, unknown = places.parse([w for w, frequency in chosen if not frequency])
        if unknown:
            raise not_known(places, unknown[0], self.words)
        before = subscribers.of_chat(self.store, self.account, chat)
        if before is None:
            self._pace_new_subscription()
        frequency = frequencies[0] if frequencies else "weekly"
        # A chat has one subscription per account: a new frequency replaces the old, and
        # the reply says so rather than changing it silently.
        replaced = (
            before["frequency"]
            if before is not None
            and before["status"] == "active"
            and before["frequency"] != frequency
            else None
        )
        row = subscribers.subscribe_chat(
            self.store,
            self.account,
            chat,
            frequency,
            cities,
            themes,
            self.clock(),
            language=self.words.language,
        )
        return self.render("subscribed", subscriber=self._described(row, places), replaced=replaced)

    def _pace_new_subscription(self) -> None:
        """New chats subscribe at most ``new_subscriptions_per_hour`` an hour, all together:
        a script cannot sign up thousands of chats to the digests."""
        settings = self.config.channels.get(self.account)
        if not isinstance(settings, TelegramSettings):
            settings = TelegramSettings()
        hour_ago = self.clock() - timedelta(hours=1)
        if (
            subscribers.chats_subscribed_since(self.store, self.account, hour_ago)
            >= settings.new_subscriptions_per_hour
        ):
            raise ContentError(
                self.words.gettext(
                    "many chats subscribed in the last hour: please try again later."
                )
            )

    def _described(self, row: dict[str, Any], places: Places) -> dict[str, Any]:
        return {
            **row,
            "city_names": [places.cities[c]["name"] for c in row["cities"] if c in places.cities],
            "theme_names": [places.themes[t]["name"] for t in row["themes"] if t in places.themes],
        }

    def unsubscribe(self, chat: str) -> Reply:
        active = subscribers.unsubscribe_chat(self.store, self.account, chat, self.clock())
        return self.render("unsubscribed", was_active=active)

    def subscriptions(self, chat: str) -> Reply:
        row = subscribers.of_chat(self.store, self.account, chat)
        if row is None or row["status"] != "active":
            return self.render("subscriptions", subscriber=None)
        return self.render("subscriptions", subscriber=self._described(row, self.places()))

    # -- for the comms officer ---------------------------------------------------------------

    def queue(self) -> Reply:
        from commsbot.posting import queue as queue_ops

        rows, total = queue_ops.open_posts(self.store, QUEUE_LIMIT)
        for row in rows:
            row["when"] = self.local(row["not_before"])
            # Telegram posts are stored as HTML: show what the reader will see.
            # Posts stored as HTML (Telegram's) are shown as the reader sees them.
            html = markup_of(self.config, row["channel"]) == "html"
            text = telegram_visible(row["text"]) if html else row["text"]
            row["first_line"] = clip((text.splitlines() or [""])[0], 60)
        return self.render("queue", posts=rows, total=total)

    def announce(self, args: str) -> Reply:
        from commsbot.posting import queue as queue_ops
        from commsbot.posting.accounts import announcement_refusals
        from commsbot.posting.pipeline import make_channels

        if not args:
            raise Malformed("")
        text, language, translations = self.announcement_languages(args)
        channels = {n: c for n, c in make_channels(self.config).items() if c.takes_posts}
        # The accounts whose filters take an announcement, as `queue add` without --channel.
        refused = announcement_refusals(
            {n: c.settings for n, c in channels.items()}, language, translations.keys()
        )
        channels = {n: c for n, c in channels.items() if refused[n] is None}
        if not channels:
            raise Malformed(self.words.gettext("No channel is enabled in the config."))
        # queue_ops decides whether it waits for approval; the reply says what it decided.
        ids = queue_ops.announce(
            self.store,
            self.config,
            channels,
            text,
            at=self.clock(),
            next_slot=True,
            actor="telegram bot",
            language=language,
            translations=translations,
        )
        posts = [queue_ops.require_post(self.store, post_id) for post_id in ids]
        for post in posts:
            post["when"] = self.local(post["not_before"])
        return self.render("announced", posts=posts)

    def announcement_languages(self, args: str) -> tuple[str, str | None, dict[str, str]]:
        """/announce's text, its language and its translations: a line that starts with a
        language code and a colon ("pl: Konferencja…", any case, as a phone capitalises it)
        starts the text in that language, up to the next such line. The text before the
        first such line is the original, in no language said; with none before it, the
        first one is the original, in its language."""
        parts: list[tuple[str | None, list[str]]] = [(None, [])]
        for line in args.splitlines():
            code, colon, rest = line.partition(":")
            if colon and code.strip().lower() in LANGUAGES:
                parts.append((code.strip().lower(), [rest.strip()]))
            else:
                parts[-1][1].append(line)
        if not "\n".join(parts[0][1]).strip():
            parts.pop(0)  # the first language line is the original's
        (language, lines), *others = parts
        translations: dict[str, str] = {}
        for lang, body in others:
            assert lang is not None  # only the first part has none
            if lang in translations or lang == (language or DEFAULT):
                raise Malformed(
                    self.words.gettext("The text in %(language)s is given twice.")
                    % {"language": lang}
                )
            if not "\n".join(body).strip():
                raise Malformed(
                    self.words.gettext("Write the text in %(language)s after “%(language)s:”.")
                    % {"language": lang}
                )
            translations[lang] = "\n".join(body).strip()
        text = "\n".join(lines).strip()
        if not text:
            raise Malformed("")
        return text, language, translations

    def change_post(self, args: str, action: str) -> Reply:
        from commsbot.posting import queue as queue_ops

        words = args.split()
        if len(words) != 1 or whole_number(words[0]) is None:
            raise Malformed("")
        post_id = row_id(words[0])
        if post_id is None or not queue_ops.exists(self.store, post_id):
            raise ContentError(self.words.gettext("no post with id %(id)s", id=clip(words[0], 30)))
        change = queue_ops.approve if action == "approve" else queue_ops.cancel
        post = change(self.store, post_id, self.clock(), actor="telegram bot")
        return self.render(
            "post_changed", post=post, action=action, when=self.local(post["not_before"])
        )

    def status(self) -> Reply:
        from commsbot.posting import queue as queue_ops

        counts = queue_ops.posts_by_channel(self.store)
        states = queue_ops.channel_states(self.store)
        for state in states:
            state["until"] = self.local(state["paused_until"]) if state["paused_until"] else None
        return self.render(
            "status",
            counts=counts,
            states=[s for s in states if s["until"] or s["down_reason"]],
            subscribers=subscribers.active_counts(self.store),
        )
