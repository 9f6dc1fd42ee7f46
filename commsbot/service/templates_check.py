"""``templates check``: every template against every sample item, in every language, and
the catalogs against the messages, before anything is public."""

from __future__ import annotations

from commsbot.channels import account, channel_class, channel_names
from commsbot.channels.base import Channel
from commsbot.clock import utcnow
from commsbot.config import Config
from commsbot.content.items import load_sample
from commsbot.content.places import Places
from commsbot.content.types import TYPES
from commsbot.digests.build import check_digest_templates
from commsbot.errors import TemplateError
from commsbot.i18n import DEFAULT, LANGUAGES
from commsbot.i18n.check import check_catalogs
from commsbot.posting.pipeline import render_item
from commsbot.render import Renderer
from commsbot.store import Store
from commsbot.store import content as q

SAMPLE_ANNOUNCEMENT = "Sample announcement: the network meets in Plzeň & Vilnius 🎉"


def _channel(config: Config, name: str) -> Channel:
    """A configured account, or a kind that no account uses, with its defaults."""
    if name in config.channels:
        return account(name, config.channels[name])
    if name not in channel_names():
        config.channel(name)  # the error naming the configured channels
    cls = channel_class(name)
    return cls(cls.Settings(kind=name))


def _names(config: Config) -> list[str]:
    """Every configured account, and each kind no account uses."""
    used = {s.kind for s in config.channels.values()}
    return [*config.channels, *(k for k in channel_names() if k not in used)]


def check_templates(
    config: Config, store: Store, names: list[str] | None = None
) -> tuple[list[str], int]:
    """Problems found (template, item, what went wrong) and how many renderings were tried."""
    renderer = Renderer(config.service.templates)
    # Channels that take no posts (e-mail) have only digest templates, checked below.
    channels = [_channel(config, n) for n in (names or _names(config))]
    channels = [c for c in channels if c.takes_posts]
    problems: list[str] = []
    checked = 0
    found, tried = check_catalogs(config.service.templates)
    problems.extend(found)
    checked += tried
    with Store(":memory:") as sample:
        load_sample(sample, utcnow())
        for language in LANGUAGES:
            found, tried = check_digest_templates(config, sample, language)
            problems.extend(found)
            checked += tried
        found, tried = _check_languages(config, sample, channels)
        problems.extend(found)
        checked += tried
        for source, label in ((sample, "sample"), (store, "store")):
            lookup = Places.load(source)
            for item_type in config.posting.content_types:
                items = q.list_items(source, item_type)
                if not items:
                    continue
                for channel in channels:
                    for item in items:
                        checked += 1
                        what = f"{label} {item_type} {item['slug']!r}"
                        try:
                            out = render_item(renderer, lookup, channel, item_type, item)
                        except TemplateError as exc:
                            problems.append(f"{channel.name}: {exc}")
                            continue
                        if out.truncated:
                            name = renderer.template(channel, item_type).name
                            problems.append(
                                f"{channel.name}: template {name} for {what}: too long "
                                f"({_full_length(renderer, lookup, channel, item_type, item)}"
                                f"/{out.limit}), would be truncated"
                            )
        for channel in channels:
            checked += 1
            try:
                renderer.render(
                    channel,
                    "announcement",
                    {"text": SAMPLE_ANNOUNCEMENT},
                    link="https://cross-innovation.example/",
                    what="a sample announcement",
                )
            except TemplateError as exc:
                problems.append(f"{channel.name}: {exc}")
    assert all(t in TYPES for t in config.posting.content_types)
    return problems, checked


# Bot commands whose replies are rendered in every language (the rest change the store).
BOT_CHECKS = (
    ("start", ""),
    ("help", ""),
    ("practices", ""),
    ("search", "design"),
    ("cities", ""),
    ("themes", ""),
    ("events", "past"),
    ("events", "upcoming"),
    ("outcomes", ""),
    ("newsletter", ""),
    ("language", ""),
    ("subscriptions", ""),
    ("practice", "nothing-has-this-slug"),
)


def _check_languages(
    config: Config, sample: Store, channels: list[Channel]
) -> tuple[list[str], int]:
    """The templates in every language but English (checked above): bot replies, and the
    sample items posted in each language as an account with that language posts them."""
    from commsbot.bot.replies import Replies, Request
    from commsbot.content.translations import for_reader
    from commsbot.store import translations as translations_q

    problems: list[str] = []
    checked = 0
    replies = Replies(sample, config, utcnow)
    lookup = Places.load(sample)
    first = q.list_items(sample, "practice", limit=1)
    commands = [*BOT_CHECKS, ("practice", first[0]["slug"] if first else "")]
    for language in LANGUAGES:
        replies.speak("", language)
        for name, args in commands:
            checked += 1
            try:
                replies.handlers[name](Request(args, "0", admin=False))
            except TemplateError as exc:
                problems.append(f"bot ({language}): /{name}: {exc}")
        if language == DEFAULT:
            continue
        renderer = Renderer(config.service.templates, language)
        for item_type in config.posting.content_types:
            items = q.list_items(sample, item_type, limit=5)
            by_id = translations_q.of_items(sample, item_type, [i["id"] for i in items])
            for channel in channels:
                for item in items:
                    checked += 1
                    shown = for_reader(item, by_id.get(item["id"], {}), language)
                    try:
                        render_item(renderer, lookup, channel, item_type, shown)
                    except TemplateError as exc:
                        problems.append(f"{channel.name} ({language}): {exc}")
    return problems, checked


def _full_length(
    renderer: Renderer, lookup: Places, channel: Channel, item_type: str, item: dict[str, object]
) -> int:
    template = renderer.template(channel, item_type)
    body = renderer._run(
        template, {**lookup.context(item), "link": None, "channel": channel.name}, ""
    )
    return channel.length(body)
