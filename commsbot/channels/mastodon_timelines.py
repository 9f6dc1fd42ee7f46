"""Reading public Mastodon timelines for movement tracking: a campaign hashtag's statuses,
the mentions of our account, and fresh counts of statuses already seen.

Timelines are read forward from a cursor (``min_id``: each page is the one just above the
cursor), so a run that stops early (its page limit, its request budget, the server's rate
limit) leaves a cursor with no gap behind it, and the next run carries on from there.
Only public and unlisted statuses are kept, and of their author only the public handle
and profile url. Every request counts against the budget the reader was given.

Mastodon.py is synchronous: each method runs its requests in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commsbot.channels.mastodon_api import STATUSES_PER_REQUEST, api_error
from commsbot.deadline import within
from commsbot.errors import ChannelError
from commsbot.text import web_url

PUBLIC = ("public", "unlisted")


@dataclass(frozen=True)
class PublicStatus:
    """What is kept of a public status: no names, avatars or biographies."""

    remote_id: str
    acct: str  # user@server, also for accounts of our own server
    account_url: str
    created_at: datetime
    language: str | None
    url: str | None
    favourites: int
    boosts: int
    replies: int
    own: bool  # by the account commsbot posts as
    in_reply_to_id: str | None


@dataclass
class Reading:
    """What one read of a timeline found, and where the next read starts."""

    newest_id: str | None
    statuses: list[PublicStatus] = field(default_factory=list)
    pages: int = 0
    # Seen but not kept: private or direct statuses, boosts, deleted ones.
    skipped: int = 0
    # Why the read stopped before it caught up; None when it did.
    stopped: str | None = None


@dataclass
class Refresh:
    """Fresh counts of statuses seen before, and those no longer public."""

    statuses: list[PublicStatus] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    stopped: str | None = None


def _id_order(remote_id: str) -> tuple[int, str]:
    """Mastodon ids are decimal strings: a longer one is a larger one."""
    return len(remote_id), remote_id


class TimelineReader:
    """Reads through a Mastodon.py client, making at most ``requests`` requests (``used``
    of them already made for it), and none while the server allows the account only
    ``reserve`` more (posting needs those)."""

    per_request = STATUSES_PER_REQUEST

    def __init__(
        self,
        client: Any,
        own_id: str,
        domain: str,
        *,
        requests: int,
        used: int = 0,
        reserve: int,
        token_refused: Callable[[int | None, str], str],
        total_timeout: float,
    ) -> None:
        self._client = client
        # Each read (all its pages) ends within this, whatever the server does.
        self._total = total_timeout
        self._token_refused = token_refused
        self.own_id = own_id
        self.domain = domain
        self.requests = requests
        self.reserve = reserve
        self.used = used

    async def hashtag(
        self, tag: str, newest_id: str | None, page_size: int, max_pages: int
    ) -> Reading:
        """Public statuses using ``#tag`` posted after the status ``newest_id``."""

        def page(min_id: str) -> list[tuple[str, Any]]:
            # By its lower-case name, as Mastodon files tags.
            found = self._client.timeline_hashtag(tag.lower(), min_id=min_id, limit=page_size)
            return [(str(s.id), s) for s in found]

        return await asyncio.to_thread(
            within, self._total, self._read, page, newest_id, page_size, max_pages
        )

    async def mentions(self, newest_id: str | None, page_size: int, max_pages: int) -> Reading:
        """Public statuses mentioning our account (replies included), from its
        notifications after the notification ``newest_id``."""

        def page(min_id: str) -> list[tuple[str, Any]]:
            found = self._client.notifications(types=["mention"], min_id=min_id, limit=page_size)
            return [(str(n.id), n.get("status")) for n in found]

        return await asyncio.to_thread(
            within, self._total, self._read, page, newest_id, page_size, max_pages
        )

    async def refresh(self, remote_ids: Sequence[str]) -> Refresh:
        """Current counts of statuses, up to 20 a request, as far as the budget goes."""
        return await asyncio.to_thread(within, self._total, self._refresh, remote_ids)

    # -- in the worker thread -------------------------------------------------

    def _read(
        self,
        fetch: Callable[[str], list[tuple[str, Any]]],
        newest_id: str | None,
        page_size: int,
        max_pages: int,
    ) -> Reading:
        from mastodon.errors import MastodonError

        reading = Reading(newest_id)
        while True:
            if reading.pages == max_pages:
                reading.stopped = f"read {max_pages} pages (movement.max_pages); more next run"
                break
            reading.stopped = self._cannot_ask()
            if reading.stopped:
                break
            try:
                self.used += 1
                # "0": from the first status the timeline has.
                page = fetch(reading.newest_id or "0")
            except MastodonError as exc:
                reading.stopped = self._stop(exc)
                break
            reading.pages += 1
            if not page:
                break
            for _, status in page:
                kept = self._public(status)
                if kept is None:
                    reading.skipped += 1
                else:
                    reading.statuses.append(kept)
            reading.newest_id = max((key for key, _ in page), key=_id_order)
            if len(page) < page_size:
                break
        return reading

    def _refresh(self, remote_ids: Sequence[str]) -> Refresh:
        from mastodon.errors import MastodonError, MastodonNotFoundError

        out = Refresh()
        pending = list(remote_ids)
        per_request = STATUSES_PER_REQUEST
        while pending:
            out.stopped = self._cannot_ask()
            if out.stopped:
                break
            chunk = pending[:per_request]
            try:
                self.used += 1
                if per_request > 1:
                    found = list(self._client.statuses(chunk))
                else:
                    found = [self._client.status(chunk[0])]
            except MastodonNotFoundError:
                if per_request > 1:
                    per_request = 1  # a server older than 4.3: one status a request
                else:
                    out.gone.append(pending.pop(0))  # deleted by its author
                continue
            except MastodonError as exc:
                out.stopped = self._stop(exc)
                break
            del pending[: len(chunk)]
            public = {s.remote_id: s for s in map(self._public, found) if s is not None}
            out.statuses.extend(public.values())
            out.gone.extend(remote for remote in chunk if remote not in public)
        return out

    def _public(self, status: Any) -> PublicStatus | None:
        """The status as kept, or None when it is not public (or is a boost)."""
        if status is None or status.get("reblog") or status.get("visibility") not in PUBLIC:
            return None
        account = status.account
        acct = str(account.acct)
        reply_to = status.get("in_reply_to_id")
        return PublicStatus(
            remote_id=str(status.id),
            acct=acct if "@" in acct else f"{acct}@{self.domain}",
            # Another server's word: only an http(s) URL may become a link in the report.
            account_url=web_url(account.get("url")) or "",
            created_at=status.created_at,
            language=status.get("language") or None,
            url=web_url(status.get("url")) or web_url(status.get("uri")),
            favourites=int(status.get("favourites_count") or 0),
            boosts=int(status.get("reblogs_count") or 0),
            replies=int(status.get("replies_count") or 0),
            own=str(account.id) == self.own_id,
            in_reply_to_id=None if reply_to is None else str(reply_to),
        )

    def _cannot_ask(self) -> str | None:
        """Why no further request may be made now, or None."""
        if self.used >= self.requests:
            return f"used its {self.requests} requests (movement.requests_per_run)"
        client = self._client
        reset = client.ratelimit_reset
        if client.ratelimit_remaining <= self.reserve and reset and reset > time.time():
            return (
                f"the server allows {client.ratelimit_remaining} more requests until its "
                f"reset; they are kept for posting (reserve_requests {self.reserve})"
            )
        return None

    def _stop(self, exc: Exception) -> str:
        """Why a failed request ends the read; a refused token is an error."""
        from mastodon.errors import MastodonNetworkError, MastodonRatelimitError

        code, message = api_error(exc)
        if isinstance(exc, MastodonRatelimitError) or code == 429:
            return "the server's rate limit is reached; more next run"
        if isinstance(exc, MastodonNetworkError):
            return f"no answer from the server: {exc}"
        if code in (401, 403):
            raise ChannelError(self._token_refused(code, message)) from None
        return f"the server answered {code or 'an error'}: {message}"
