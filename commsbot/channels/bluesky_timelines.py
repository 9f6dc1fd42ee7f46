"""Reading Bluesky for movement tracking: posts with a campaign hashtag (``searchPosts``),
mentions of and replies to our account (``listNotifications``), and fresh counts of posts
already seen (``getPosts``), with the same results as the Mastodon reader
(``commsbot.channels.mastodon_timelines``), so ``track-movement`` treats both alike.

Bluesky pages run newest first, from a cursor towards older posts, so a read starts at
the top and goes down until it reaches what the last run saw. The source's cursor is a
small JSON object: ``newest``, the sort time of the newest post read so far; and, while a
read that stopped early (its page limit, the budget, a rate limit) is still under way,
``resume`` (the page to carry on from) and ``top`` (the newest time that read saw). The
next run carries on from ``resume`` down to ``newest``, then starts again at the top:
nothing between is skipped, and what is read twice is stored once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commsbot.channels.mastodon_timelines import PublicStatus, Reading, Refresh
from commsbot.errors import ChannelError

# The lexicon's limit of URIs per getPosts.
POSTS_PER_REQUEST = 25
# Notifications that are a post about us: someone mentioning or replying to our account.
MENTION_REASONS = ("mention", "reply")

# One page: (items as (sort time, post view), the next page's cursor or None).
Page = tuple[list[tuple[datetime, Any]], str | None]


@dataclass
class _Cursor:
    newest: str | None = None
    resume: str | None = None
    top: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> _Cursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls()  # not ours (e.g. written by another reader): read from the top
        if not isinstance(data, dict):
            return cls()
        return cls(*(data.get(k) if isinstance(data.get(k), str) else None for k in _KEYS))

    def dump(self) -> str:
        return json.dumps({k: v for k, v in zip(_KEYS, self.astuple(), strict=True) if v})

    def astuple(self) -> tuple[str | None, str | None, str | None]:
        return self.newest, self.resume, self.top


_KEYS = ("newest", "resume", "top")


def _when(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    first, second = _when(a), _when(b)
    if first is None or second is None:
        return a or b
    return a if first >= second else b


class BlueskyReader:
    """Reads through the channel's AT Protocol client as the account ``own_did``, making
    at most ``requests`` requests (``used`` of them already made)."""

    per_request = POSTS_PER_REQUEST

    def __init__(self, client: Any, own_did: str, web_url: str, *, requests: int) -> None:
        self._client = client
        self.own_did = own_did
        self.web_url = web_url.rstrip("/")
        self.requests = requests
        self.used = 0

    async def hashtag(
        self, tag: str, newest_id: str | None, page_size: int, max_pages: int
    ) -> Reading:
        """Posts using ``#tag``, newer than the cursor ``newest_id`` says were read."""
        from atproto import models

        pattern = re.compile(rf"(?<!\w)#{re.escape(tag)}(?!\w)", re.IGNORECASE)

        async def page(cursor: str | None) -> Page:
            # The tag parameter is the search's own tag filter; "#tag" in q is what search
            # services without it (a local AppView) match on. Either way only posts that
            # really carry the tag are kept.
            found = await self._client.app.bsky.feed.search_posts(
                models.AppBskyFeedSearchPosts.Params(
                    q=f"#{tag}", tag=[tag], sort="latest", limit=page_size, cursor=cursor
                )
            )
            kept = [(self._sort_time(p), p) for p in found.posts if _tagged(p, tag, pattern)]
            return kept, found.cursor

        return await self._read(page, newest_id, max_pages)

    async def mentions(self, newest_id: str | None, page_size: int, max_pages: int) -> Reading:
        """Posts mentioning or replying to our account, from its notifications newer than
        the cursor ``newest_id`` says were read."""
        from atproto import models

        async def page(cursor: str | None) -> Page:
            found = await self._client.app.bsky.notification.list_notifications(
                models.AppBskyNotificationListNotifications.Params(
                    reasons=list(MENTION_REASONS), limit=page_size, cursor=cursor
                )
            )
            notes = [n for n in found.notifications if n.reason in MENTION_REASONS]
            # The notifications carry no counts: the posts themselves do (one request).
            views = await self._posts([str(n.uri) for n in notes]) if notes else {}
            items = [
                (self._sort_time(views[str(n.uri)]), views[str(n.uri)])
                for n in notes
                if str(n.uri) in views
            ]
            return items, found.cursor

        return await self._read(page, newest_id, max_pages)

    async def refresh(self, remote_ids: Sequence[str]) -> Refresh:
        """Current counts of posts (their at:// URIs), 25 a request, as far as the budget
        goes; those no longer there are ``gone``."""
        from atproto_client.exceptions import AtProtocolError

        out = Refresh()
        pending = list(remote_ids)
        while pending:
            if self.used >= self.requests:
                out.stopped = f"used its {self.requests} requests (movement.requests_per_run)"
                break
            chunk = pending[: self.per_request]
            try:
                views = await self._posts(chunk)
            except AtProtocolError as exc:
                out.stopped = self._stop(exc)
                break
            del pending[: len(chunk)]
            for uri in chunk:
                kept = self._public(views[uri]) if uri in views else None
                if kept is None:
                    out.gone.append(uri)
                else:
                    out.statuses.append(kept)
        return out

    async def _posts(self, uris: Sequence[str]) -> dict[str, Any]:
        """getPosts of up to 25 URIs (one request): the views found, by URI."""
        self.used += 1
        found = await self._client.get_posts(list(uris))
        return {str(view.uri): view for view in found.posts}

    async def _read(
        self,
        fetch: Callable[[str | None], Awaitable[Page]],
        cursor_text: str | None,
        max_pages: int,
    ) -> Reading:
        from atproto_client.exceptions import AtProtocolError

        cursor = _Cursor.parse(cursor_text)
        boundary = _when(cursor.newest) if cursor.newest else None
        # A read under way carries on where it stopped; otherwise one starts at the top.
        page_cursor, top = (cursor.resume, cursor.top) if cursor.resume else (None, None)
        reading = Reading(cursor_text)
        pages = 0
        while True:
            if pages == max_pages:
                reading.stopped = f"read {max_pages} pages (movement.max_pages); more next run"
            elif self.used >= self.requests:
                reading.stopped = f"used its {self.requests} requests (movement.requests_per_run)"
            if reading.stopped:
                break
            try:
                self.used += 1
                items, next_cursor = await fetch(page_cursor)
            except AtProtocolError as exc:
                reading.stopped = self._stop(exc)
                break
            pages += 1
            reached = False
            for moment, view in items:
                top = _later(top, moment.isoformat())
                if boundary is not None and moment < boundary:
                    reached = True  # read by an earlier run
                    continue
                kept = self._public(view)
                if kept is None:
                    reading.skipped += 1
                else:
                    reading.statuses.append(kept)
            if reached or not next_cursor:
                page_cursor = None
                break
            page_cursor = next_cursor
        reading.pages = pages
        if page_cursor is None and not reading.stopped:
            reading.newest_id = _Cursor(_later(cursor.newest, top)).dump()
        elif pages:
            reading.newest_id = _Cursor(cursor.newest, page_cursor, top).dump()
        return reading

    @staticmethod
    def _sort_time(view: Any) -> datetime:
        """When a post counts as posted: its createdAt, unless it claims a time after it
        was indexed (as the AppView sorts)."""
        indexed = _when(view.indexed_at)
        created = _when(getattr(view.record, "created_at", None))
        times = [t for t in (indexed, created) if t is not None]
        return min(times) if times else datetime.fromtimestamp(0).astimezone()

    def _public(self, view: Any) -> PublicStatus | None:
        """The post as kept (its author's handle and profile, never a name or avatar), or
        None when it is not a post."""
        record = view.record
        if getattr(record, "text", None) is None:
            return None
        handle = str(view.author.handle)
        reply = getattr(record, "reply", None)
        langs = getattr(record, "langs", None) or []
        rkey = str(view.uri).rsplit("/", 1)[-1]
        return PublicStatus(
            remote_id=str(view.uri),
            acct=handle,
            account_url=f"{self.web_url}/profile/{handle}",
            created_at=self._sort_time(view),
            language=str(langs[0]) if langs else None,
            url=f"{self.web_url}/profile/{handle}/post/{rkey}",
            favourites=int(view.like_count or 0),
            boosts=int(view.repost_count or 0),
            replies=int(view.reply_count or 0),
            own=str(view.author.did) == self.own_did,
            in_reply_to_id=str(reply.parent.uri) if reply is not None else None,
        )

    def _stop(self, exc: Exception) -> str:
        """Why a failed request ends the read; a refused session is an error."""
        from atproto_client.exceptions import (
            NetworkError,
            RateLimitExceededError,
            UnauthorizedError,
        )

        if isinstance(exc, RateLimitExceededError):
            return "the server's rate limit is reached; more next run"
        if isinstance(exc, NetworkError):
            return f"no answer from the server: {exc}"
        if isinstance(exc, UnauthorizedError):
            raise ChannelError(f"the session was refused: {exc}") from None
        return f"the server answered an error: {exc}"


def _tagged(view: Any, tag: str, pattern: re.Pattern[str]) -> bool:
    """Whether a post carries the tag: as a facet, in its tags, or written in its text."""
    record = view.record
    wanted = tag.lower()
    for facet in getattr(record, "facets", None) or []:
        for feature in facet.features:
            if str(getattr(feature, "tag", "")).lower() == wanted:
                return True
    if any(str(t).lower() == wanted for t in getattr(record, "tags", None) or []):
        return True
    return bool(pattern.search(str(getattr(record, "text", "") or "")))
