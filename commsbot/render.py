"""Rendering: content + template -> the exact text a channel will publish.

Pure: no network, no store. Templates use StrictUndefined so a missing field is an
error at preview time, never a blank in public. A template renders the body; the
link is appended here so that truncation can shorten the text and never the link.
"""

from __future__ import annotations

import hashlib
import re
from collections import ChainMap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from commsbot.config import packaged_path
from commsbot.errors import TemplateError
from commsbot.i18n import DEFAULT, N_, install, speaker
from commsbot.text import (
    add_utm,
    hashtag,
    hashtags,
    json_encoding,
    public_text,
    split_thread,
    telegram_escape,
    telegram_fit,
    truncate,
)

if TYPE_CHECKING:
    from commsbot.channels.base import Channel, Markup

# How an event's kind reads in a sentence; translated where it is shown.
EVENT_KIND_LABELS = {
    "study-visit": N_("study visit"),
    "policy-clinic": N_("policy clinic"),
    "general-meeting": N_("general meeting"),
    "workshop": N_("workshop"),
    "conference": N_("conference"),
    "dissemination": N_("dissemination"),
}

# A post's status and an item's type as the officer reads them in the bot and the console.
POST_STATUS_LABELS = {
    "draft": N_("draft"),
    "pending_approval": N_("waiting for approval"),
    "queued": N_("queued"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
    "unknown": N_("unknown"),
}
ITEM_TYPES_LABELS = {
    "practice": N_("practices"),
    "event": N_("events"),
    "newsletter": N_("newsletters"),
    "news": N_("news"),
}
FREQUENCY_LABELS = {"weekly": N_("weekly"), "monthly": N_("monthly")}
SUBSCRIBER_STATUS_LABELS = {
    "active": N_("active"),
    "pending": N_("pending"),
    "unsubscribed": N_("unsubscribed"),
    "bounced": N_("bounced"),
}
ITEM_TYPE_LABELS = {
    "practice": N_("practice"),
    "event": N_("event"),
    "outcome": N_("outcome"),
    "newsletter": N_("newsletter"),
    "news": N_("news"),
    "announcement": N_("announcement"),
}

# Where each item type keeps its link.
LINK_FIELD = {"practice": "url", "event": "url", "newsletter": "url", "news": "link"}
# Item types whose tags are a feed's categories: the renderer adds them as hashtags (a
# practice's tags are the officer's, printed where its template puts them).
CATEGORY_TAGGED = ("news", "newsletter")


# Not frozen, as channels.base.Rendered: a frozen dataclass sets each of its eleven
# fields through object.__setattr__, 2 us of every post rendered (#15). Nothing changes
# one once built.
@dataclass
class Output:
    """A rendered post before it has an outbox row."""

    text: str
    link: str | None
    length: int
    limit: int
    truncated: bool
    title: str | None = None
    image: str | None = None
    image_alt: str | None = None
    # The further posts of a thread (channels whose long_posts is "thread").
    thread: tuple[str, ...] = ()
    language: str | None = None
    # Further images after ``image``, described by the same alt text.
    images: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        # Further images only where there are some: most posts have none.
        more = {"images": list(self.images)} if self.images else {}
        return {
            **more,
            "link": self.link,
            "title": self.title,
            "image": self.image,
            "image_alt": self.image_alt,
            "thread": list(self.thread),
            "language": self.language,
        }


# Where a template printed a Slot. Every other value a template prints is stripped of it
# (``_printed``), so nothing in the content can stand where a slot is filled in later.
SLOT_MARK = "\ufdd0"


class Slot:
    """A value filled in after rendering, for each reader: a subscriber's unsubscribe link
    in a digest rendered once for all who chose the same."""

    def __str__(self) -> str:
        return SLOT_MARK

    def __html__(self) -> str:
        return SLOT_MARK


def _printed(value: Any) -> Any:
    """Jinja2's finalize: a slot prints its mark; any other text loses that mark."""
    # Most printed values are plain text: one type check for them, before Slot's.
    if type(value) is str:
        return value.replace(SLOT_MARK, "") if SLOT_MARK in value else value
    if isinstance(value, Slot):
        return SLOT_MARK
    if isinstance(value, str):  # Markup too: its replace keeps it Markup
        return value.replace(SLOT_MARK, "")
    return value


def _autoescape(name: str | None) -> bool:
    # Templates that are not a channel's posts: bot replies and *.html.j2 are HTML. A post's
    # escaping follows its channel's declared markup instead (``Renderer.environment``).
    return bool(name) and (
        name.startswith("bot/") or name.endswith(".html.j2")  # type: ignore[union-attr]
    )


def shorten(text: str, width: int) -> str:
    """A text cut at a word boundary to ``width`` graphemes, with an ellipsis."""
    return truncate(str(text), width)


def missing_hashtags(body: str, tags: tuple[str, ...]) -> str:
    """The channel's fixed hashtags that the body does not already carry, space-joined."""
    if not tags:  # most channels and items have none
        return ""
    wanted = hashtags(tags).split()
    return " ".join(
        t for t in wanted if not re.search(rf"(?<![\w#]){re.escape(t)}(?!\w)", body, re.IGNORECASE)
    )


def _append_tags(body: str, tags: str) -> str:
    """Tags on the body's last line when that line holds hashtags already, else below it."""
    if not tags:
        return body
    last = body.rstrip().rsplit("\n", 1)[-1].split()
    if last and all(word.startswith("#") for word in last):
        return f"{body.rstrip()} {tags}"
    return f"{body}\n\n{tags}" if body else tags


# json.dumps(..., default=str) as one encoder, not one built for each of a run's items
# (a row read from the store holds no cycles).
_VERSION_JSON = json_encoding.encoder(default=str)


def item_version(item: dict[str, Any]) -> str:
    """A fingerprint of an item's content, to tell later whether it was edited: every
    column but its timestamps."""
    # Columns come in the table's order, so no sorting is needed for a stable fingerprint.
    data = dict(item)
    data.pop("updated_at", None)
    data.pop("created_at", None)
    return hashlib.sha256(_VERSION_JSON(data).encode()).hexdigest()[:16]


def _render(template: jinja2.Template, values: dict[str, Any]) -> str:
    """``template.render(values)``, with the globals merged dict by dict: Jinja2 copies
    them out of the template's ChainMap key by key and lists its keys again for the
    context, which cost a fifth of a post's rendering."""
    chain = template.globals
    merged: dict[str, Any] = {}
    for layer in reversed(chain.maps if isinstance(chain, ChainMap) else (chain,)):
        merged.update(layer)
    env = template.environment
    # The context template.new_context(values) makes: globals, then values; its record of
    # which names are globals taken from the merged dict (the same keys).
    context = env.context_class(
        env, {**merged, **values}, template.name, template.blocks, globals=merged
    )
    try:
        return env.concat(template.root_render_func(context))
    except Exception:
        env.handle_exception()


# What a plain dict has as attributes: any other ``item.title`` in a template is a key.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja2's environment, reading a field of a dict (``item.title``) without first
    raising and catching an AttributeError for it, as each printed field of each post did."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        # An exact dict has no attributes beyond its type's, so Jinja2's lookup (attribute
        # first, then key, else undefined) comes to the key at once.
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class Renderer:
    """A Jinja2 environment over the user's templates, falling back to the packaged ones,
    speaking one language: its catalog's words (``_``, ``ngettext``), its dates and numbers,
    and its own templates (``<name>.<language>.j2``) where there are any."""

    def __init__(self, user_folder: Path | None = None, language: str = DEFAULT) -> None:
        folders = [str(user_folder)] if user_folder else []
        packaged = packaged_path("templates")
        if not user_folder or packaged.resolve() != user_folder.resolve():
            folders.append(str(packaged))
        self.folders = [Path(f) for f in folders]
        self.env = _Environment(
            loader=jinja2.FileSystemLoader(folders),
            undefined=jinja2.StrictUndefined,
            autoescape=_autoescape,
            finalize=_printed,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        # Which template serves (account, type): looked up once per run, not per item.
        self._chosen: dict[tuple[str, str, str], jinja2.Template] = {}
        self.env.filters.update(
            hashtag=hashtag,
            hashtags=hashtags,
            telegram_escape=telegram_escape,
            shorten=shorten,
        )
        self.words = speaker(language, user_folder)
        self.language = self.words.language
        # Before the overlays below, which take the extensions the environment has then.
        install(self.env, self.words)
        self.env.filters.update(
            event_kind=self.event_kind,
            post_status=self.label(POST_STATUS_LABELS),
            item_type=self.label(ITEM_TYPE_LABELS),
            item_types=self.label(ITEM_TYPES_LABELS),
            frequency=self.label(FREQUENCY_LABELS),
            subscriber_status=self.label(SUBSCRIBER_STATUS_LABELS),
        )

        # Posts: the same templates, escaped as the channel declares (compiled apart).
        self._markup_envs = {
            "plain": self.env.overlay(autoescape=False),
            "html": self.env.overlay(autoescape=True),
        }

    def environment(self, markup: Markup) -> jinja2.Environment:
        """The environment for posts in a channel's declared markup."""
        return self._markup_envs[markup]

    def event_kind(self, kind: str) -> str:
        """An event's kind as words of this language ("policy clinic", "klinika polityk")."""
        label = EVENT_KIND_LABELS.get(kind)
        return self.words.gettext(label) if label else kind.replace("-", " ")

    def label(self, labels: dict[str, str]) -> Callable[[str], str]:
        """A filter showing a stored word (a status, a type) in this language; a word it
        does not know reads as itself, underscores as spaces."""

        def shown(value: str) -> str:
            label = labels.get(value)
            return self.words.gettext(label) if label else str(value).replace("_", " ")

        return shown

    def template_names(self, channel: Channel, item_type: str) -> tuple[str, ...]:
        """The account's own template, then its kind's, then the type's default; each in
        this renderer's language (``practice.pl.j2``) before the one for every language."""
        lang = self.language
        names = [
            name
            for folder in (f"{channel.name}/", f"{channel.kind}/", "")
            for name in (f"{folder}{item_type}.{lang}.j2", f"{folder}{item_type}.j2")
        ]
        return tuple(dict.fromkeys(names))

    def template(self, channel: Channel, item_type: str) -> jinja2.Template:
        key = (channel.name, channel.kind, item_type)
        if key not in self._chosen:
            self._chosen[key] = self._select(channel, item_type)
        return self._chosen[key]

    def _select(self, channel: Channel, item_type: str) -> jinja2.Template:
        names = self.template_names(channel, item_type)
        try:
            return self.environment(channel.markup).select_template(names)
        except jinja2.TemplateNotFound:
            raise TemplateError(
                f"no template for {item_type} on {channel.name}: looked for {', '.join(names)}"
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"template {exc.name or exc.filename}, line {exc.lineno}: {exc.message}"
            ) from None
        except UnicodeDecodeError as exc:
            raise self._not_utf8(names, exc) from None

    def _not_utf8(self, names: tuple[str, ...], exc: UnicodeDecodeError) -> TemplateError:
        """The error for a template file that is not UTF-8: the first of ``names`` found,
        which is the one Jinja2 was reading."""
        for name in names:
            for folder in self.folders:
                if (folder / name).is_file():
                    return TemplateError(
                        f"template {folder / name}: not UTF-8 text (byte {exc.start}); "
                        "save it as UTF-8"
                    )
        return TemplateError(f"template {' or '.join(names)}: not UTF-8 text (byte {exc.start})")

    def render_text(self, name: str, context: dict[str, Any], what: str) -> str:
        """Render any template by name (bot replies, digests) with clear errors."""
        try:
            template = self.env.get_template(name)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"template {name} not found") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template {exc.name}, line {exc.lineno}: {exc.message}") from None
        except UnicodeDecodeError as exc:
            raise self._not_utf8((name,), exc) from None
        return self._run(template, context, what)

    def _run(self, template: jinja2.Template, context: dict[str, Any], what: str) -> str:
        try:
            return _render(template, context).strip()
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"template {template.name} for {what}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template {template.name} for {what}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise TemplateError(
                f"template {template.name} for {what}: a template it includes is not UTF-8 "
                f"text (byte {exc.start})"
            ) from None
        # What an expression in a template can raise, e.g. {{ 1 / 0 }} or {{ "x" | int + [] }}.
        except (TypeError, ValueError, AttributeError, ArithmeticError, LookupError) as exc:
            raise TemplateError(f"template {template.name} for {what}: {exc}") from None

    def render(
        self,
        channel: Channel,
        kind: str,
        context: dict[str, Any],
        *,
        link: str | None,
        what: str,
        template: str | None = None,
    ) -> Output:
        """Render one post for one channel: the body from its template, then the link."""
        tmpl = self.template(channel, template or kind)
        utm = channel.settings.utm
        if link and utm:
            link = add_utm(link, utm)
        shown_link = link
        markup = channel.markup == "html"
        if link and markup:
            shown_link = telegram_escape(link)
        # Invisible controls (a U+202E that reverses what follows) never reach the public,
        # whoever wrote the text: a feed, the officer or a template.
        values = {**context, "link": link, "channel": channel.name}
        body = public_text(self._run(tmpl, values, what))
        settings = channel.settings
        item = context.get("item")
        fields: dict[str, Any] = item if isinstance(item, dict) else {}
        fixed = missing_hashtags(body, settings.hashtags)
        # A feed's categories, when it asked for them: after the channel's own hashtags,
        # none twice, and given up one by one (the last first) before any text is cut.
        extra = fields.get("tags") if kind in CATEGORY_TAGGED else None
        # Most posts take no categories: the body is not copied to look for them.
        categories = missing_hashtags(f"{body}\n{fixed}", tuple(extra)).split() if extra else []
        limit = channel.limit()
        while True:
            tags = " ".join(part for part in (fixed, *categories) if part) if categories else fixed
            full = _append_tags(body, tags)
            if shown_link:
                full = f"{full}\n\n{shown_link}" if full else shown_link
            length = channel.length(full)
            if length <= limit or not categories:
                break
            categories.pop()
        truncated = False
        thread: tuple[str, ...] = ()
        if length > limit:
            # The hashtags and the link are kept whole; only the body is cut or split.
            tail = "".join(f"\n\n{part}" for part in (tags, shown_link) if part)
            room = limit - channel.length(tail)
            try:
                if room <= 0:
                    raise ValueError(f"the link and hashtags alone exceed the limit of {limit}")
                if markup:
                    # HTML is cut in its visible text, tags and entities kept whole and
                    # closed again, never in its escaped form (a "&lt;" split is invalid).
                    full, truncated = telegram_fit(body, room) + tail, True
                elif settings.long_posts == "thread":
                    first, *rest = split_thread(body, room, counter=channel.length)
                    full, thread = first + tail, tuple(rest)
                else:
                    full, truncated = truncate(body, room, counter=channel.length) + tail, True
            except ValueError as exc:
                raise TemplateError(f"{what} on {channel.name}: {exc}") from None
            length = channel.length(full)
        if not full:
            raise TemplateError(f"template {tmpl.name} for {what} rendered nothing")
        return Output(
            text=full,
            link=link,
            length=length,
            limit=limit,
            truncated=truncated,
            title=fields.get("title"),
            image=fields.get("image"),
            image_alt=fields.get("summary") or fields.get("title"),
            thread=thread,
            language=fields.get("language"),
            images=tuple(fields.get("images") or ()),
        )
