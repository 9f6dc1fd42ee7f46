"""Digest subscribers: validated e-mail addresses, chosen cities and themes, and leaving.

Subscriber rows are personal data: ``forget`` deletes them; an import never brings back
an address that unsubscribed or bounced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from commsbot.config import FREQUENCIES
from commsbot.content.items import read_csv, read_text
from commsbot.content.places import Places
from commsbot.errors import N_, ContentError, message_of
from commsbot.i18n import check_language
from commsbot.store import Store
from commsbot.store import answers as answers_q
from commsbot.store import audience as q
from commsbot.store import digests as digests_q
from commsbot.text.addresses import normalize_email
from commsbot.text.user_input import row_id


def resolve_choices(ref: Places, kind: str, values: Iterable[str]) -> list[str]:
    """City or theme slugs for names, local names or slugs (';' also separates them)."""
    slugs: list[str] = []
    for value in values:
        for part in value.split(";"):
            if not part.strip():
                continue
            try:
                slug = ref.resolve(kind, part.strip())
            except ValueError as exc:
                raise ContentError(message_of(exc)) from None
            if slug not in slugs:
                slugs.append(slug)
    return slugs


def check_frequency(value: str) -> str:
    frequency = value.strip().lower()
    if frequency not in FREQUENCIES:
        raise ContentError(N_("frequency %(value)s must be weekly or monthly"), value=repr(value))
    return frequency


def add_email(
    store: Store,
    address: str,
    frequency: str,
    cities: Sequence[str],
    themes: Sequence[str],
    now: datetime,
    channel: str = "email",
    language: str | None = None,
) -> dict[str, Any]:
    """Subscribe an e-mail address to the digests of an e-mail account, or change its
    choices (this re-activates it); the digest comes in ``language`` (None: as before,
    English for a new subscriber)."""
    ref = Places.load(store)
    return q.upsert_subscriber(
        store,
        channel,
        normalize_email(address),
        check_frequency(frequency),
        resolve_choices(ref, "city", cities),
        resolve_choices(ref, "theme", themes),
        now,
        language=None if language is None else check_language(language, "language"),
    )


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    # Addresses that left (unsubscribed or bounced) are never re-subscribed by an import.
    kept_out: list[str] = field(default_factory=list)


# How many bad rows one import error names (a file of thousands of bad rows is one typo).
BAD_ROWS_SHOWN = 20


def import_csv(store: Store, path: Path, now: datetime, channel: str = "email") -> ImportResult:
    """Subscribe every row of a CSV (email, frequency, cities, themes, language) to the
    digests of an e-mail account; all or nothing."""
    text = read_text(path)
    fieldnames, records = read_csv(path, text)
    columns = [c.strip().lower() for c in fieldnames]
    if "email" not in columns:
        raise ContentError(f"{path}: needs an 'email' column (found: {', '.join(columns)})")
    unknown = set(columns) - {"email", "frequency", "cities", "themes", "language"}
    if unknown:
        raise ContentError(
            f"{path}: unknown column {sorted(unknown)[0]!r} "
            "(known: email, frequency, cities, themes, language)"
        )
    ref = Places.load(store)
    rows: list[tuple[str, str, list[str], list[str], str | None]] = []
    seen: dict[str, int] = {}
    # Every bad row is found before any is stored: the officer fixes the file once.
    bad: list[str] = []
    for n, raw in records:
        if None in raw:
            bad.append(f"row {n}: more values than columns")
            continue
        row = {k.strip().lower(): (v or "") for k, v in raw.items()}
        try:
            address = normalize_email(row["email"])
            frequency = check_frequency(row.get("frequency") or "monthly")
            cities = resolve_choices(ref, "city", [row.get("cities", "")])
            themes = resolve_choices(ref, "theme", [row.get("themes", "")])
            language = row.get("language", "").strip()
            language = check_language(language, "language") if language else None
        except ContentError as exc:
            bad.append(f"row {n}: {exc}")
            continue
        if address in seen:
            bad.append(f"row {n}: {address} is already on row {seen[address]}")
            continue
        seen[address] = n
        rows.append((address, frequency, cities, themes, language))
    if len(bad) == 1:
        raise ContentError(f"{path}: {bad[0]}")
    if bad:
        shown = "; ".join(bad[:BAD_ROWS_SHOWN])
        more = f"; and {len(bad) - BAD_ROWS_SHOWN} more" if len(bad) > BAD_ROWS_SHOWN else ""
        raise ContentError(f"{path}: {len(bad)} bad rows, nothing imported: {shown}{more}")
    result = ImportResult()
    with store.write():
        for address, frequency, cities, themes, language in rows:
            existing = q.get_subscriber(store, channel, address)
            if existing is not None and existing["status"] != "active":
                result.kept_out.append(f"{address} ({existing['status']})")
                continue
            q.upsert_subscriber(
                store, channel, address, frequency, cities, themes, now, language=language
            )
            if existing is None:
                result.added += 1
            else:
                result.updated += 1
    return result


def listed(
    store: Store, *, channel: str | None, frequency: str | None, status: str | None
) -> list[dict[str, Any]]:
    """Subscribers and their choices, filtered (``subscribers list``)."""
    return q.list_subscribers(store, channel=channel, frequency=frequency, status=status)


# ``ACCOUNT:ADDRESS``: an account's name (or a kind) before the colon.
_ON_ACCOUNT = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]*):(.+)")


def find(store: Store, target: str) -> dict[str, Any]:
    """A subscriber by e-mail address, ``ACCOUNT:ADDRESS`` (an account's name or kind, e.g.
    ``telegram:CHAT_ID`` or ``partners-email:a@example.org``), or ``#ID``. An address that
    several accounts have must name its account."""
    value = target.strip()
    if value.startswith("#") and "@" not in value:
        # Beyond SQLite's 64-bit integers there is no such row (and no query to make).
        number = row_id(value[1:])
        one = None if number is None else digests_q.subscriber_by_id(store, number)
        subscribers = [] if one is None else [one]
    else:
        on = _ON_ACCOUNT.fullmatch(value)
        account, address = (on[1], on[2].strip()) if on else (None, value)
        if "@" in address:
            address = normalize_email(address)
        subscribers = q.subscribers_at(store, address, account)
    if not subscribers:
        raise ContentError(
            N_(
                "no subscriber %(target)s (use an e-mail address, ACCOUNT:ADDRESS such as "
                "telegram:ID, or #ID)"
            ),
            target=repr(target),
        )
    if len(subscribers) > 1:
        raise ContentError(
            N_(
                "%(target)s subscribes on several accounts (%(accounts)s): give "
                "ACCOUNT:ADDRESS or #ID"
            ),
            target=repr(target),
            accounts=", ".join(s["channel"] for s in subscribers),
        )
    return subscribers[0]


def remove(store: Store, target: str, now: datetime) -> dict[str, Any]:
    """Unsubscribe (the row stays, for the history of deliveries and growth figures)."""
    subscriber = find(store, target)
    q.set_subscriber_status(store, subscriber["id"], "unsubscribed", now)
    return subscriber


def unsubscribe_token(store: Store, token: str, now: datetime) -> dict[str, Any]:
    """The one step a subscriber takes to leave: the token from their unsubscribe link."""
    subscriber = q.subscriber_by_token(store, token.strip())
    if subscriber is None:
        raise ContentError(
            N_("no subscription has this token (it may have been forgotten already)")
        )
    q.set_subscriber_status(store, subscriber["id"], "unsubscribed", now)
    return subscriber


def forget(store: Store, target: str) -> dict[str, Any]:
    """Delete a subscriber's personal data; past deliveries keep no link to them."""
    subscriber = find(store, target)
    q.forget_subscriber(store, subscriber["channel"], subscriber["address"])
    return subscriber


# -- a chat's own subscription (the bot's /subscribe, /unsubscribe, /subscriptions) -------


def of_chat(store: Store, account: str, chat: str) -> dict[str, Any] | None:
    """The subscription of a Telegram chat to the digests of ``account``, if any."""
    return q.get_subscriber(store, account, chat)


def subscribe_chat(
    store: Store,
    account: str,
    chat: str,
    frequency: str,
    cities: Sequence[str],
    themes: Sequence[str],
    now: datetime,
    *,
    language: str | None = None,
) -> dict[str, Any]:
    """Subscribe a chat (or change its choices); returns its subscription."""
    return q.upsert_subscriber(
        store, account, chat, frequency, cities, themes, now, language=language
    )


def chats_subscribed_since(store: Store, account: str, since: datetime) -> int:
    """How many new subscriptions ``account`` has had since a time (the bot's pacing)."""
    return q.subscribers_created_since(store, account, since)


def unsubscribe_chat(store: Store, account: str, chat: str, now: datetime) -> bool:
    """End a chat's subscription; whether it was active."""
    row = q.get_subscriber(store, account, chat)
    if row is None or row["status"] != "active":
        return False
    return q.set_subscriber_status(store, row["id"], "unsubscribed", now)


def active_counts(store: Store) -> dict[str, int]:
    """Active subscribers per channel."""
    return answers_q.active_subscribers(store)
