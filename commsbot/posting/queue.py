"""What a comms officer does to the outbox: announce, approve, cancel, restore, retry, edit.

The CLI, the admin bot commands and the web console all call these. Each change is
recorded in the post's audit trail with who made it (``actor``: "cli", "telegram bot",
"web:NAME").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from commsbot.channels.base import Channel, ChannelSettings
from commsbot.clock import local_text
from commsbot.config import Config
from commsbot.content.images import MOST_IMAGES
from commsbot.content.places import Places
from commsbot.content.translations import Version, version_for
from commsbot.content.types import TYPES
from commsbot.errors import N_, NP_, ContentError, either, label
from commsbot.i18n import DEFAULT
from commsbot.posting.placement import Placer, first_slot
from commsbot.render import POST_STATUS_LABELS, Output, Renderer
from commsbot.slots import between, parse_slots
from commsbot.store import Store, from_iso, iso
from commsbot.store import accounts as accounts_q
from commsbot.store import answers as answers_q
from commsbot.store import audit as audit_q
from commsbot.store import content as content_q
from commsbot.store import posts as posts_q
from commsbot.store import service as service_q
from commsbot.store import translations as translations_q


def exists(store: Store, post_id: int) -> bool:
    """Whether a post with this id is stored."""
    return posts_q.get_post(store, post_id) is not None


def require_post(store: Store, post_id: int) -> dict[str, Any]:
    post = posts_q.get_post(store, post_id)
    if post is None:
        raise ContentError(N_("no post with id %(id)s"), id=post_id)
    return post


# What an announcement's images are refused for, said by every input beside its field.
NEEDS_ALT = N_("an image needs its alt text, for people who cannot see it")
TOO_MANY_IMAGES = N_("an announcement carries at most %(most)s images")


def announce(
    store: Store,
    config: Config,
    channels: dict[str, Channel],
    text: str,
    *,
    at: datetime,
    link: str | None = None,
    template: str = "announcement",
    next_slot: bool = False,
    first: bool = False,
    warn: Callable[[str], None] | None = None,
    moved: list[dict[str, Any]] | None = None,
    image: str | None = None,
    image_alt: str | None = None,
    more_images: Sequence[tuple[str, str]] = (),
    text_for: dict[str, str] | None = None,
    actor: str = "cli",
    now: datetime | None = None,
    language: str | None = None,
    translations: Mapping[str, str] | None = None,
) -> list[int]:
    """Queue a free-form announcement on each channel; rendered now, so errors show now.

    It goes out at ``at``, or with ``next_slot`` in each channel's next free slot; the
    approval policy for announcements decides whether it waits for approval first.
    ``warn`` hears, before anything is queued, how a text too long for a channel is cut
    or threaded there. With ``first`` it takes each channel's earliest coming slot; the
    post that held it moves to the next free one, and is added to ``moved``. ``image``
    (a path or URL) goes with every post, described by ``image_alt``, and the
    ``more_images`` after it (each a path or URL with its own alt text: channels show as
    many as their platform takes); ``text_for`` gives an account its own text instead of
    ``text``.

    ``language`` is the text's own; ``translations`` are the text in other languages. An
    account with ``languages`` posts the first of them the announcement has, else follows
    its ``missing_translation`` (the original, the original waiting for approval, or an
    error for an account named that would skip it); the language goes with the post.
    """
    translations = dict(translations or {})
    versions = {
        name: announcement_version(name, ch.settings, text, language, translations)
        for name, ch in channels.items()
    }
    texts = {name: (text_for or {}).get(name, versions[name].item["body"]) for name in channels}
    unknown = sorted(set(text_for or {}) - set(channels))
    if unknown:
        raise ContentError(
            N_(
                "a text for %(unknown)s, which this announcement does not go to "
                "(it goes to %(channels)s)"
            ),
            unknown=", ".join(unknown),
            channels=", ".join(channels),
        )
    if not all(t.strip() for t in texts.values()):
        raise ContentError(N_("an announcement needs some text"))
    pictures = [(image, image_alt or "")] if image else []
    if len(pictures) + len(more_images) > MOST_IMAGES:
        raise ContentError(TOO_MANY_IMAGES, most=MOST_IMAGES)
    if any(not alt.strip() for _, alt in [*pictures, *more_images]):
        raise ContentError(NEEDS_ALT)
    pictured: dict[str, Any] = {"image": image, "image_alt": image_alt} if image else {}
    if more_images:
        pictured["images"] = [further for further, _ in more_images]
        pictured["images_alt"] = [alt for _, alt in more_images]
    renderers: dict[str, Renderer] = {}
    outputs = {}
    for name, ch in channels.items():
        shown = versions[name].language if name not in (text_for or {}) else language
        if (shown or DEFAULT) not in renderers:  # its fixed words in its language
            renderers[shown or DEFAULT] = Renderer(config.service.templates, shown or DEFAULT)
        outputs[name] = renderers[shown or DEFAULT].render(
            ch,
            template,
            {"text": texts[name], "item": {"language": shown or None}},
            link=link,
            what="the announcement",
        )
    for name, out in outputs.items():
        note = long_text_note(name, out)
        if note and warn is not None:
            warn(note)
    with store.write():
        accounts_q.remember(store, {n: c.kind for n, c in channels.items()}, at)
        placer = Placer(store, config, at)
        announcement_id = posts_q.insert_announcement(store, text, link, template, at, language)
        for code, translated in translations.items():
            translations_q.put_translation(
                store, "announcement", announcement_id, code, {"body": translated}, at
            )
        rows = []
        for name, out in outputs.items():
            when: datetime | None = None if next_slot else at
            if first:
                when, holder = first_slot(store, config, name, at)
                # One waiting for approval holds no slot: it moves nothing.
                if holder is not None and config.approval.policy("announcement", name) == "auto":
                    _move(store, config, holder, placer, at, moved, actor, announcement_id)
            placed = placer.place("announcement", name, at=when)
            status, note = placed.status, None
            if versions[name].hold and status == "queued":
                status, note = "pending_approval", versions[name].hold
            rows.append(
                {
                    "item_type": "announcement",
                    "item_id": announcement_id,
                    "item_ref": f"announcement-{announcement_id}",
                    "channel": name,
                    "status": status,
                    "last_error": note,
                    "text": out.text,
                    "payload": {**out.payload(), **pictured},
                    "not_before": iso(placed.not_before),
                }
            )
        posts_q.insert_posts(store, rows, at)
        ids = [r["id"] for r in posts_q.posts_for_item(store, "announcement", announcement_id)]
        # ``at`` is when it goes out; the trail says when it was made.
        audit_q.record(store, ids, actor, "created", now or datetime.now(UTC), "announcement")
    return ids


def announcement_version(
    name: str,
    settings: ChannelSettings,
    text: str,
    language: str | None,
    translations: Mapping[str, str],
) -> Version:
    """Which text an account posts of an announcement in ``language`` with
    ``translations``: see ``announce`` (the console's previews show the same). The
    version's item has the text as ``body``; an account that would skip it raises."""
    item = {"body": text, "language": language}
    if not settings.languages:
        return Version(item, language or "")
    by_language = {code: {"body": t} for code, t in translations.items()}
    missing = settings.missing_translation
    chosen = version_for(
        {**item, "language": language or DEFAULT}, by_language, settings.languages, missing
    )
    if chosen.language not in settings.languages and missing == "skip":
        raise ContentError(
            N_(
                "%(name)s posts only in %(languages)s (missing_translation = skip): give the "
                "announcement --translation %(language)s=TEXT, or leave %(name)s out"
            ),
            neutral=N_(
                "%(name)s posts only in %(languages)s (missing_translation = skip): give the "
                "announcement a translation into %(language)s, or leave %(name)s out"
            ),
            name=name,
            languages=", ".join(settings.languages),
            language=settings.languages[0],
        )
    return chosen


def _move(
    store: Store,
    config: Config,
    holder: dict[str, Any],
    placer: Placer,
    now: datetime,
    moved: list[dict[str, Any]] | None,
    actor: str,
    announcement_id: int,
) -> None:
    """Move the post holding a slot to its channel's next free one, and say so in its
    trail: a post never changes its time without a word (#20)."""
    new = placer.next_slot(holder["channel"])
    posts_q.change_post(store, holder["id"], ("queued", "draft"), now, not_before=iso(new))
    detail = (
        f"from {local_text(holder['not_before'], config.zone)} to "
        f"{local_text(new, config.zone)}, to make room for announcement-{announcement_id} "
        "(queue add --first)"
    )
    audit_q.record(store, [holder["id"]], actor, "moved", now, detail)
    if moved is not None:
        moved.append({**holder, "moved_to": iso(new)})


def long_text_note(channel: str, out: Output) -> str | None:
    """How a text over a channel's limit is posted there (cut, or a thread), or None."""
    if out.thread:
        return (
            f"{channel}: the text is over its limit of {out.limit} characters; it will be "
            f"posted as a thread of {len(out.thread) + 1} posts, the first ending "
            f"{_ending(out.text)!r}"
        )
    if out.truncated:
        return (
            f"{channel}: the text is over its limit of {out.limit} characters; it will be "
            f"cut to {out.length}, ending {_ending(out.text)!r} "
            f'(or set channels.{channel}.long_posts = "thread")'
        )
    return None


def _ending(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else "…" + flat[-width:]


# What a post in another state is told, one sentence per change (for the grammar of each
# language, not a verb put into one sentence).
REFUSED = {
    "approved": N_("post %(id)s is %(status)s; only a post that is %(allowed)s can be approved"),
    "cancelled": N_("post %(id)s is %(status)s; only a post that is %(allowed)s can be cancelled"),
    "restored": N_("post %(id)s is %(status)s; only a post that is %(allowed)s can be restored"),
    "retried": N_("post %(id)s is %(status)s; only a post that is %(allowed)s can be retried"),
    "edited": N_("post %(id)s is %(status)s; only a post that is %(allowed)s can be edited"),
    "rescheduled": N_(
        "post %(id)s is %(status)s; only a post that is %(allowed)s can be rescheduled"
    ),
}


def _transition(
    store: Store,
    post_id: int,
    allowed: tuple[str, ...],
    now: datetime,
    verb: str,
    actor: str,
    detail: str = "",
    **changes: Any,
) -> dict[str, Any]:
    post = require_post(store, post_id)
    with store.write():
        if not posts_q.change_post(store, post_id, allowed, now, **changes):
            raise ContentError(
                REFUSED[verb],
                id=post_id,
                status=label(post["status"], POST_STATUS_LABELS),
                allowed=either(label(s, POST_STATUS_LABELS) for s in allowed),
            )
        audit_q.record(store, [post_id], actor, verb, now, detail)
    return require_post(store, post_id)


def approve(
    store: Store,
    post_id: int,
    now: datetime,
    *,
    not_before: datetime | None = None,
    actor: str = "cli",
) -> dict[str, Any]:
    """Queue a post waiting for approval, at ``not_before`` when given (see
    ``placement.approval_time``); a backlog note is cleared."""
    changes: dict[str, Any] = {"status": "queued", "last_error": None}
    if not_before is not None:
        changes["not_before"] = iso(not_before)
    return _transition(
        store, post_id, ("pending_approval", "draft"), now, "approved", actor, **changes
    )


def cancel(store: Store, post_id: int, now: datetime, *, actor: str = "cli") -> dict[str, Any]:
    return _transition(store, post_id, posts_q.OPEN, now, "cancelled", actor, status="cancelled")


def restore(
    store: Store, config: Config, post_id: int, now: datetime, *, actor: str = "cli"
) -> dict[str, Any]:
    """Undo a cancel: the post waits for approval again when its policy asks for it, else
    it is queued at its own time if still ahead, or in its account's next free slot."""
    from commsbot.posting.placement import approval_time

    post = require_post(store, post_id)
    if config.approval.policy(post["item_type"], post["channel"]) == "approve":
        return _transition(
            store, post_id, ("cancelled",), now, "restored", actor, status="pending_approval"
        )
    when = approval_time(store, config, post, now)
    return _transition(
        store,
        post_id,
        ("cancelled",),
        now,
        "restored",
        actor,
        status="queued",
        last_error=None,
        not_before=iso(when),
    )


def retry(
    store: Store,
    config: Config,
    channel: Channel,
    post_id: int,
    now: datetime,
    *,
    actor: str = "cli",
) -> dict[str, Any]:
    """Queue a failed or unknown post again, re-rendered when its item still exists."""
    post = require_post(store, post_id)
    changes: dict[str, Any] = {
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": None,
        "not_before": iso(now),
    }
    if post["item_type"] in TYPES:
        item = content_q.get_item_by_id(store, post["item_type"], post["item_id"])
        if item is not None:
            from commsbot.posting.pipeline import render_item

            out = render_item(
                Renderer(config.service.templates),
                Places.load(store),
                channel,
                post["item_type"],
                item,
            )
            changes.update(text=out.text, payload=out.payload())
    return _transition(store, post_id, ("failed", "unknown"), now, "retried", actor, **changes)


# The states in which a post's text or time may still change (the calendar moves these).
EDITABLE = ("draft", "pending_approval", "queued", "failed")


def edit(
    store: Store,
    channel: Channel,
    post_id: int,
    now: datetime,
    *,
    text: str | None = None,
    at: datetime | None = None,
    actor: str = "cli",
) -> dict[str, Any]:
    """Change a post's text (checked against the account's limit) or time."""
    changes: dict[str, Any] = {}
    if text is not None:
        if not text.strip():
            raise ContentError(N_("post %(id)s: the text cannot be empty"), id=post_id)
        length = channel.length(text)
        if length > channel.limit():
            raise ContentError(
                NP_(
                    "post %(id)s: the text is %(num)s character; %(account)s allows %(limit)s",
                    "post %(id)s: the text is %(num)s characters; %(account)s allows %(limit)s",
                    length,
                    id=post_id,
                    account=channel.name,
                    limit=channel.limit(),
                )
            )
        changes["text"] = text
    if at is not None:
        changes["not_before"] = iso(at)
    if not changes:
        raise ContentError(
            N_("nothing to change: give --text or --at"),
            neutral=N_("nothing to change: give a new text or a new time"),
        )
    verb = "edited" if text is not None else "rescheduled"
    detail = f"to {changes['not_before']}" if at is not None else ""
    return _transition(
        store,
        post_id,
        EDITABLE,
        now,
        verb,
        actor,
        detail,
        **changes,
    )


def listed(
    store: Store,
    *,
    status: str | None = None,
    channel: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Posts in the outbox, oldest due first (``queue list``, ``queue pending``): ``limit``
    of them (None: all) from ``offset``."""
    return posts_q.list_posts(store, status=status, channel=channel, limit=limit, offset=offset)


def counted(store: Store, *, status: str | None = None, channel: str | None = None) -> int:
    """How many posts ``listed`` would give without a limit."""
    return posts_q.count_posts(store, status=status, channel=channel)


def slot_calendar(
    store: Store, config: Config, names: list[str], now: datetime, until: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Each channel's posting slots from ``now`` to ``until``, with the post holding each."""
    calendar: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        slots = parse_slots(config.channel(name).slots)
        held = {
            from_iso(p["not_before"]): p for p in service_q.posts_between(store, name, now, until)
        }
        calendar[name] = [
            {
                "slot": iso(moment),
                "post": held[moment]["id"] if moment in held else None,
                "status": held[moment]["status"] if moment in held else "free",
                "item": (
                    f"{held[moment]['item_type']} {held[moment]['item_ref']}"
                    if moment in held
                    else None
                ),
            }
            for moment in between(slots, config.zone, now, until)
        ]
    return calendar


def posts_by_channel(store: Store) -> dict[str, dict[str, int]]:
    """How many posts each channel has in each state (``channels list``)."""
    counts: dict[str, dict[str, int]] = {}
    for row in posts_q.status_counts(store):
        counts.setdefault(row["channel"], {})[row["status"]] = row["posts"]
    return counts


def known_accounts(store: Store) -> dict[str, dict[str, Any]]:
    """Every account the store has seen (posted or queued for), by name, with its kind."""
    return accounts_q.known(store)


def history(store: Store, post_id: int) -> list[dict[str, Any]]:
    """A post's audit trail, oldest first: who created, edited, approved, moved it…"""
    return audit_q.trail(store, post_id)


def open_posts(store: Store, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Posts not yet out (or needing a look), due first, and how many there are."""
    return answers_q.open_posts(store, limit)


def channel_states(store: Store) -> list[dict[str, Any]]:
    """Each channel's pause and down state, as dispatch left them."""
    return answers_q.channel_states(store)
