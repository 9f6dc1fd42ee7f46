"""Mastodon: statuses through Mastodon.py, each published exactly once.

Every status carries an ``Idempotency-Key`` derived from its outbox row, so a retry
after a timeout gets back the status the server already made instead of a second one.
Mastodon keeps a key for about an hour: a post whose previous attempt is older than
that is first looked for among the account's own statuses.

Mastodon.py is synchronous, so every call runs in a worker thread, never on the event
loop; the client is made with ``ratelimit_method="throw"`` so it never sleeps, and a
rate limit becomes a Delivery that pauses the channel until the server's reset time.
"""

from __future__ import annotations

import asyncio
import logging
import math
import mimetypes
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, ParamSpec, TypeVar
from urllib.parse import urlsplit

from commsbot import __version__
from commsbot.channels.base import (
    ChannelSettings,
    Delivery,
    Engagement,
    EngagementSettings,
    PolledChannel,
    Rendered,
    ThreadFailure,
    check_image_answer,
    images_with_alt,
    read_image_file,
    read_secret,
)
from commsbot.channels.mastodon_api import STATUSES_PER_REQUEST, api_error
from commsbot.deadline import bounded_session, current, within
from commsbot.errors import ChannelError, ConfigError
from commsbot.text import html_to_text, mastodon_length, truncate

P = ParamSpec("P")
T = TypeVar("T")

# Mastodon forgets an Idempotency-Key after an hour; past this a retry looks first.
KEY_LIFETIME = timedelta(minutes=50)
# A status this much older than the attempt that made it still counts (clock skew).
CLOCK_SKEW = timedelta(minutes=10)
# How many pages (of 40) of the account's statuses a lookup reads at most.
LOOKUP_PAGES = 5
# Mastodon's limit on an image description, and on the media a status carries (a
# server whose instance information says otherwise is taken at its word).
ALT_TEXT_LIMIT = 1500
MEDIA_PER_STATUS = 4

log = logging.getLogger("commsbot.channels.mastodon")

if TYPE_CHECKING:
    from commsbot.channels.mastodon_timelines import TimelineReader


@dataclass(frozen=True)
class MastodonSettings(EngagementSettings, ChannelSettings):
    api_base_url: str = ""
    access_token_env: str = "COMMSBOT_MASTODON_TOKEN"
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    # For items without a language of their own (ISO 639-1, e.g. "en"); "": the server's.
    language: str = ""
    long_posts: Literal["truncate", "thread"] = "thread"
    # Seconds for each request to the server, and for fetching an item's image.
    request_timeout: float = 30.0
    # Seconds a whole call may take (a send with its image and thread, an engagement poll,
    # a timeline read), whatever the server does: one trickling its answer a byte at a
    # time gets past request_timeout, not past this.
    total_timeout: float = 180.0
    # How long a post waits for its image to be processed before it is retried later.
    media_wait_seconds: float = 60.0
    # Where items' relative image paths are found.
    image_folder: Path = Path(".")
    # Mastodon's defaults, used until open() reads the server's own.
    max_characters: int = 500
    characters_reserved_per_url: int = 23
    max_media_attachments: int = MEDIA_PER_STATUS
    # Engagement (the EngagementSettings): a poll stops while the server has fewer than
    # reserve_requests left, so posting always has room.
    reserve_requests: int = 60

    def check(self) -> str | None:
        if self.enabled and not self.api_base_url:
            return "api_base_url: needed when the channel is enabled, e.g. https://mastodon.social"
        if self.api_base_url and not re.match(r"https?://[^/\s]+", self.api_base_url):
            return f"api_base_url: {self.api_base_url!r} is not an http(s) address"
        positive = (
            "request_timeout",
            "total_timeout",
            "media_wait_seconds",
            "max_characters",
            "characters_reserved_per_url",
            "max_media_attachments",
        )
        for key in positive:
            if getattr(self, key) <= 0:
                return f"{key}: must be more than 0"
        if problem := self.engagement_problem():
            return problem
        if self.reserve_requests < 0:
            return "reserve_requests: must not be negative"
        return None


def _instance(client: Any) -> Any:
    """The server's instance information.

    The version is asked for first and strictly: left to ``instance()``, Mastodon.py's
    version check recurses without end when the server cannot be reached (2.3.3,
    halcy/Mastodon.py#450).
    """
    from mastodon.errors import MastodonVersionError

    try:
        client.retrieve_mastodon_version(fail_hard=True)
    except MastodonVersionError as exc:
        raise (exc.__cause__ or exc) from None
    return client.instance()


def _letters(text: str) -> str:
    """Only letters and digits: what survives any server's HTML rendering of a text."""
    return "".join(ch for ch in text if ch.isalnum())


def part_key(post: Rendered, index: int) -> str:
    """The Idempotency-Key of one status of a post: the row's key, numbered after the first."""
    return post.idempotency_key if index == 0 else f"{post.idempotency_key}-{index + 1}"


class MastodonChannel(PolledChannel):
    kind = "mastodon"
    counts_audience = True
    # One token is one account: a second account with the same token variable would post
    # as the first.
    account_keys = ("access_token_env",)
    max_length = 500
    # No fixed pace: the server says how many requests remain until when (X-RateLimit-*),
    # and a post that would not fit in what remains pauses the channel until the reset.
    rate_per_second = math.inf
    # Posts an interrupted run leaves ``sending`` are recovered safely (idempotency keys,
    # then a lookup), so a batch may be claimed at once: one store write per 20 posts.
    batch_size = 20
    Settings: ClassVar[type[ChannelSettings]] = MastodonSettings

    def __init__(self, settings: ChannelSettings, name: str | None = None) -> None:
        super().__init__(settings, name)
        assert isinstance(settings, MastodonSettings)
        self.cfg = settings
        self._limit = settings.max_characters
        self._url_length = settings.characters_reserved_per_url
        self._client: Any = None
        self._account: Any = None
        self._server = ""
        self._version = ""
        self._image_limit: int | None = None
        self._image_types: tuple[str, ...] = ()
        # Media a status takes (the instance says; Mastodon's own is 4).
        self._media_limit = settings.max_media_attachments

    # -- rendering ------------------------------------------------------------

    def length(self, text: str) -> int:
        return mastodon_length(text, self._url_length)

    def limit(self) -> int:
        return self._limit

    def most_images(self) -> int:
        return self._media_limit

    # -- connection -----------------------------------------------------------

    async def open(self) -> None:
        """Make the client and read the server's limits from its instance information."""
        from mastodon import Mastodon
        from mastodon.errors import MastodonError, MastodonNetworkError, MastodonRatelimitError

        if not self.cfg.api_base_url:
            raise ChannelError(f"{self.name}: {self.key}.api_base_url is not set")
        try:
            token = read_secret(self.cfg.access_token_env, f"{self.key}.access_token_env")
        except ConfigError as exc:
            raise ChannelError(f"{self.name}: {exc}") from None
        client = Mastodon(
            access_token=token,
            api_base_url=self.cfg.api_base_url,
            ratelimit_method="throw",
            request_timeout=self.cfg.request_timeout,
            user_agent=f"commsbot/{__version__}",
            # Every connection is watched by the deadline of the call that uses it.
            session=bounded_session(),
        )
        try:
            instance = await self._call(_instance, client)
        except MastodonNetworkError as exc:
            raise ChannelError(
                f"{self.name}: cannot reach {self.cfg.api_base_url}: {exc}", retryable=True
            ) from None
        except MastodonRatelimitError:
            raise ChannelError(
                f"{self.name}: {self.cfg.api_base_url} says the rate limit is reached; try later",
                retryable=True,
            ) from None
        except MastodonError as exc:
            _, message = api_error(exc)
            raise ChannelError(
                f"{self.name}: {self.cfg.api_base_url} does not answer as a Mastodon server "
                f"({message})"
            ) from None
        self._client = client
        self._read_instance(instance)

    def _read_instance(self, instance: Any) -> None:
        config = instance.get("configuration") or {}
        statuses = config.get("statuses") or {}
        media = config.get("media_attachments") or {}
        self._limit = int(
            statuses.get("max_characters") or instance.get("max_toot_chars") or self._limit
        )
        self._url_length = int(statuses.get("characters_reserved_per_url") or self._url_length)
        self._image_limit = media.get("image_size_limit")
        self._media_limit = int(statuses.get("max_media_attachments") or self._media_limit)
        self._image_types = tuple(
            t for t in media.get("supported_mime_types") or () if t.startswith("image/")
        )
        self._server = str(instance.get("domain") or instance.get("uri") or "")
        self._version = str(instance.get("version") or "")

    async def close(self) -> None:
        if self._client is not None:
            self._client.session.close()
            self._client = None

    async def describe(self) -> dict[str, str]:
        """The account the token belongs to, and the server's limits."""
        me = await self._call(self._me)
        client = self._client
        left = ""
        if client.ratelimit_reset:
            reset = datetime.fromtimestamp(client.ratelimit_reset, UTC)
            left = f", {client.ratelimit_remaining} requests left until {reset:%H:%M:%S} UTC"
        return {
            "account": f"@{me.acct}@{self._server}" if "@" not in me.acct else f"@{me.acct}",
            "name": str(me.display_name or me.username),
            "profile": str(me.url),
            "server": f"{self.cfg.api_base_url} (Mastodon {self._version or 'version unknown'})",
            "limit": f"{self._limit} characters, each link counts {self._url_length}",
            "images": f"up to {self._media_limit} a status, "
            + (
                f"up to {self._image_limit} bytes each"
                if self._image_limit
                else "no size limit given"
            ),
            "posting": (
                f"{self.cfg.visibility}, long posts as a {self.cfg.long_posts}"
                f"{left or ', no rate limit announced yet'}"
            ),
        }

    def _me(self, fresh: bool = False) -> Any:
        """The token's account (cached unless ``fresh``); a rejected token is a ChannelError."""
        from mastodon.errors import MastodonError

        if self._account is None or fresh:
            try:
                self._account = self._client.account_verify_credentials()
            except MastodonError as exc:
                code, message = api_error(exc)
                if code in (401, 403):
                    raise ChannelError(self._token_refused(code, message)) from None
                raise ChannelError(f"{self.name}: cannot check the account: {message}") from None
        return self._account

    def _token_refused(self, code: int | None, message: str) -> str:
        return (
            f"{self.cfg.api_base_url} refused the token in {self.cfg.access_token_env} "
            f"({code}: {message}); fix it, then run `commsbot channels test {self.name}`"
        )

    def _until_reset(self) -> float | None:
        """Seconds until the server's rate-limit window resets, if it said."""
        reset = self._client.ratelimit_reset
        left = reset - time.time() if reset else 0
        return left if left > 0 else None

    # -- posting --------------------------------------------------------------

    async def send(self, post: Rendered) -> Delivery:
        if self._client is None:
            try:
                await self.open()
            except ChannelError as exc:
                return Delivery.retry_later(post.post_id, str(exc))
        return await self._call(self._send, post)

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args)`` in a worker thread, ended within ``total_timeout``."""
        return await asyncio.to_thread(within, self.cfg.total_timeout, partial(fn, *args, **kwargs))

    def _overtime(self, thread: ThreadFailure) -> str | None:
        """Why a call failed, if it was its total time that ended it."""
        deadline = current()
        if deadline is None or not deadline.expired:
            return None
        return thread.overtime(self.key, self.cfg.total_timeout)

    async def recover(self, posts: Sequence[Rendered]) -> list[Delivery]:
        # Re-sent with the same key, a post the server has comes back as that status; past
        # the key's lifetime, _send first looks for it (previous_attempt_at is kept).
        return [
            Delivery.not_tried(
                p.post_id,
                "interrupted while sending; checked against the server before posting again",
            )
            for p in posts
        ]

    def _send(self, post: Rendered) -> Delivery:
        """Publish a post (all statuses of its thread), in a worker thread."""
        from mastodon.errors import MastodonError

        parts = (post.text, *post.thread)
        published: list[Any] = []
        try:
            if self._key_may_have_expired(post):
                published = self._published_parts(post, parts)
            # The images go with the first status: none to upload once that is public.
            upload = self._attached(post) if not published else []
            needed = len(parts) - len(published) + len(upload)
            wait = self._until_reset()
            if wait and self._client.ratelimit_remaining < needed:
                return Delivery.retry_in(
                    post.post_id,
                    wait,
                    f"rate limit nearly used ({self._client.ratelimit_remaining} "
                    f"requests left); paused until the server's reset",
                )
            media = [self._upload(image, alt) for image, alt in upload] or None
            for index in range(len(published), len(parts)):
                published.append(
                    self._client.status_post(
                        parts[index],
                        in_reply_to_id=published[-1].id if published else None,
                        media_ids=media if index == 0 else None,
                        visibility=self.cfg.visibility,
                        language=post.language or self.cfg.language or None,
                        idempotency_key=part_key(post, index),
                    )
                )
        except (MastodonError, ChannelError) as exc:
            return self._failure(post, exc, published, len(parts))
        first = published[0]
        return Delivery.sent(post.post_id, str(first.id), first.url)

    def _failure(
        self, post: Rendered, exc: Exception, published: list[Any], total: int
    ) -> Delivery:
        """A Mastodon.py error as a Delivery: wait, retry, stop the channel, or fail."""
        from mastodon.errors import (
            MastodonAPIError,
            MastodonNetworkError,
            MastodonRatelimitError,
            MastodonServerError,
        )

        thread = ThreadFailure.of(len(published), total, lambda: str(published[0].url))
        where, public = thread.where, thread.public
        if isinstance(exc, ChannelError):
            return thread.own_error(post.post_id, exc)
        code, message = api_error(exc)
        if isinstance(exc, MastodonRatelimitError) or code == 429:
            wait = self._until_reset() or 60.0
            return Delivery.retry_in(
                post.post_id, wait, f"rate limit reached{where}; paused for {math.ceil(wait)} s"
            )
        if isinstance(exc, MastodonNetworkError):
            # The server may have made the status: the retry carries the same key.
            overtime = self._overtime(thread)
            return Delivery.retry_later(post.post_id, overtime or f"no answer{where}: {exc}")
        if isinstance(exc, MastodonServerError):
            return Delivery.retry_later(post.post_id, f"server error {code}{where}: {message}")
        if code in (401, 403):
            return Delivery.channel_down(post.post_id, self._token_refused(code, message))
        # Not about this post: failing it would fail every post for good, so the channel
        # stops until the officer has looked. (A 404 to a later part of a thread is its
        # parent gone: that post's own problem.)
        if code == 410 or (code == 404 and not published):
            return Delivery.channel_down(
                post.post_id,
                f"{self.cfg.api_base_url} has no such endpoint or account ({code}: {message}); "
                f"check {self.key}.api_base_url, then run `commsbot channels test {self.name}`"
                if code == 404
                else f"{self.cfg.api_base_url} says the account is gone ({code}: {message})",
            )
        if code is None and isinstance(exc, MastodonAPIError):
            # An answer that is not JSON, after a 2xx: the status may exist, and the retry
            # carries the same key, so it gets that status back rather than a second one.
            return Delivery.retry_later(
                post.post_id, f"the server's answer{where} could not be read (not JSON)"
            )
        return Delivery.failed(
            post.post_id, f"rejected by the server{where} ({code or 'error'}: {message}){public}"
        )

    # -- exactly once after a long interruption ---------------------------------

    def _key_may_have_expired(self, post: Rendered) -> bool:
        last = post.previous_attempt_at
        return last is not None and datetime.now(UTC) - last > KEY_LIFETIME

    def _published_parts(self, post: Rendered, parts: Sequence[str]) -> list[Any]:
        """The statuses an earlier attempt published, part by part, as far as they go."""
        assert post.previous_attempt_at is not None
        candidates = self._own_statuses_since(post.previous_attempt_at - CLOCK_SKEW)
        found: list[Any] = []
        for part in parts:
            parent = found[-1].id if found else None
            match = next(
                (
                    s
                    for s in candidates
                    if s.in_reply_to_id == parent and s not in found and self._same_text(s, part)
                ),
                None,
            )
            if match is None:
                break
            found.append(match)
        return found

    def _own_statuses_since(self, since: datetime) -> list[Any]:
        """The account's statuses created since a time, oldest first (a few pages at most)."""
        client = self._client
        page = client.account_statuses(self._me().id, limit=40)
        statuses: list[Any] = []
        for _ in range(LOOKUP_PAGES):
            if not page:
                break
            statuses.extend(s for s in page if s.created_at >= since)
            if page[-1].created_at < since:
                break
            page = client.fetch_next(page)
        return statuses[::-1]

    def _same_text(self, status: Any, text: str) -> bool:
        """Whether a status has exactly this text: its visible letters first, then its source."""
        from mastodon.errors import MastodonAPIError

        if _letters(html_to_text(status.content)) != _letters(text):
            return False
        try:
            source = self._client.status_source(status.id)
        except MastodonAPIError:
            return True  # a server without /source: the visible text has to do
        return bool(str(source.text).strip() == text.strip())

    # -- images -------------------------------------------------------------------

    def _attached(self, post: Rendered) -> list[tuple[str, str | None]]:
        """The post's images with their alt texts, as many as a status takes; the rest
        left out with a warning naming them."""
        wanted = images_with_alt(post)
        if len(wanted) > self._media_limit:
            log.warning(
                "%s post %s: %d images, the server takes %d a status; %s left out",
                self.name,
                post.post_id,
                len(wanted),
                self._media_limit,
                ", ".join(image for image, _ in wanted[self._media_limit :]),
            )
        return wanted[: self._media_limit]

    def _upload(self, image: str, alt: str | None) -> Any:
        """Upload an image with its alt text and wait (bounded) until it is processed."""
        data, mime, name = self._image(image)
        alt = truncate(alt, ALT_TEXT_LIMIT) if alt else None
        media = self._client.media_post(data, mime_type=mime, description=alt, file_name=name)
        deadline = time.monotonic() + self.cfg.media_wait_seconds
        pause = 0.2
        call = current()
        while media.get("url") is None:
            if time.monotonic() + pause > deadline or (call and call.remaining() < pause):
                raise ChannelError(
                    f"the server had not processed the image {image} after "
                    f"{self.cfg.media_wait_seconds:g} s",
                    retryable=True,
                )
            time.sleep(pause)  # a worker thread, not the event loop
            pause = min(pause * 2, 2.0)
            media = self._client.media(media.id)
        return media.id

    def _image(self, image: str) -> tuple[bytes, str, str]:
        """(bytes, MIME type, file name) of a local path or an http(s) URL."""
        if re.match(r"https?://", image, re.IGNORECASE):
            data, mime = self._fetch(image)
            name = image.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "image"
        else:
            path, data = read_image_file(image, self.cfg.image_folder)
            mime, name = mimetypes.guess_type(path.name)[0] or "", path.name
        mime = mime or mimetypes.guess_type(name)[0] or ""
        if not mime:
            raise ChannelError(f"image {image}: of unknown type (name it .png, .jpg, .gif, …)")
        if self._image_types and mime not in self._image_types:
            raise ChannelError(
                f"image {image}: the server takes {', '.join(self._image_types)}, "
                f"not {mime or 'a file of unknown type'}"
            )
        if self._image_limit and len(data) > self._image_limit:
            raise ChannelError(
                f"image {image}: {len(data)} bytes, the server takes at most {self._image_limit}"
            )
        return data, mime, name

    def _fetch(self, url: str) -> tuple[bytes, str]:
        import requests

        limit = self._image_limit or 16 * 1024 * 1024
        try:
            with (
                bounded_session() as session,
                session.get(url, timeout=self.cfg.request_timeout, stream=True) as response,
            ):
                check_image_answer(url, response.status_code)
                data = response.raw.read(limit + 1, decode_content=True)
                mime = response.headers.get("Content-Type", "").split(";")[0].strip()
        except requests.RequestException as exc:
            raise ChannelError(f"image {url}: {exc}", retryable=True) from None
        if len(data) > limit:
            raise ChannelError(f"image {url}: larger than the server's limit of {limit} bytes")
        return data, mime

    # -- engagement ---------------------------------------------------------------

    async def fetch_engagement(self, posts: Sequence[tuple[int, str]]) -> list[Engagement]:
        """Favourites, boosts and replies, up to 20 statuses a request, within the budget."""
        if self._client is None:
            await self.open()
        return await self._call(self._engagement, posts)

    def _engagement(self, posts: Sequence[tuple[int, str]]) -> list[Engagement]:
        from mastodon.errors import MastodonError, MastodonNotFoundError

        client = self._client
        budget = self.cfg.engagement_requests_per_run
        pending = list(posts)
        per_request = STATUSES_PER_REQUEST
        found: list[Engagement] = []
        while pending and budget > 0 and client.ratelimit_remaining > self.cfg.reserve_requests:
            chunk = pending[:per_request]
            budget -= 1
            try:
                if per_request > 1:
                    statuses = client.statuses([remote for _, remote in chunk])
                else:
                    statuses = [client.status(chunk[0][1])]
            except MastodonNotFoundError:
                if per_request > 1:
                    per_request = 1  # a server older than 4.3: one status a request
                else:
                    del pending[0]  # deleted since it was posted
                continue
            except MastodonError as exc:
                code, message = api_error(exc)
                if code in (401, 403):
                    raise ChannelError(self._token_refused(code, message)) from None
                break  # rate limit or network: the rest waits for the next poll
            del pending[: len(chunk)]
            by_id = {str(s.id): s for s in statuses}
            for post_id, remote in chunk:
                status = by_id.get(str(remote))
                if status is not None:
                    found.append(
                        Engagement(
                            post_id,
                            favourites=int(status.favourites_count or 0),
                            boosts=int(status.reblogs_count or 0),
                            replies=int(status.replies_count or 0),
                        )
                    )
        return found

    # -- movement -------------------------------------------------------------------

    async def audience_size(self) -> int:
        """The account's followers, read now."""
        if self._client is None:
            await self.open()
        me = await self._call(self._me, True)
        return int(me.followers_count or 0)

    async def timeline_reader(self, requests: int) -> TimelineReader:
        """A reader of public timelines through this channel's client, allowed ``requests``
        requests (finding out which account is ours included) and keeping the channel's
        ``reserve_requests`` for posting."""
        from commsbot.channels.mastodon_timelines import TimelineReader

        if self._client is None:
            await self.open()
        asked = self._account is None
        me = await self._call(self._me)
        return TimelineReader(
            self._client,
            str(me.id),
            self._server or urlsplit(self.cfg.api_base_url).netloc,
            requests=requests,
            used=int(asked),
            reserve=self.cfg.reserve_requests,
            token_refused=self._token_refused,
            total_timeout=self.cfg.total_timeout,
        )
