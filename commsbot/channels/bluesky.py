"""Bluesky: ``app.bsky.feed.post`` records through the atproto SDK, each exactly once.

Exactly once with no ``unknown`` window: every post of a thread has a record key (a TID)
derived from its outbox row, so a retry after a timeout, a crash or a kill first asks the
PDS for that record (``getRecord``) and either finds it there or creates it under that key;
it can never make a second one.

The session (access and refresh tokens, never the app password) is kept in a file, so a
run refreshes it instead of signing in again: ``createSession`` is limited to 30 per five
minutes and 300 a day per account. A 429 becomes a Delivery that pauses this account until
the PDS's ``ratelimit-reset``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import math
import mimetypes
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

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
from commsbot.errors import ChannelError, ConfigError

if TYPE_CHECKING:
    from commsbot.channels.bluesky_timelines import BlueskyReader

COLLECTION = "app.bsky.feed.post"
# The lexicon's limits: 300 graphemes of text, images and card thumbnails of at most
# 1,000,000 bytes, four images a post, 25 URIs per getPosts.
MAX_GRAPHEMES = 300
BLOB_LIMIT = 1_000_000
MAX_IMAGES = 4
POSTS_PER_REQUEST = 25
# What the PDS counts against an account (Bluesky's published limits): each created
# record costs 3 points of 5,000 an hour and 35,000 a day.
POINTS_PER_RECORD = 3
WRITE_POINTS = f"5000 points an hour, 35000 a day, {POINTS_PER_RECORD} per post"
# Record keys are TIDs whose time lies in this window: always in the past, and wide
# enough (2^45 microseconds, about a year, times 1024 clock ids) that two rows of one
# account practically never meet.
TID_EPOCH_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
TID_SPAN_BITS = 45
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
log = logging.getLogger("commsbot.channels.bluesky")


@dataclass(frozen=True)
class BlueskySettings(EngagementSettings, ChannelSettings):
    # The PDS (or the entryway that knows it); the SDK follows the account's DID document.
    service: str = "https://bsky.social"
    handle: str = ""
    app_password_env: str = "COMMSBOT_BLUESKY_APP_PASSWORD"
    # Where the session (tokens, not the password) is kept between runs, as
    # bluesky-HANDLE.session, readable by the service's user only.
    session_folder: Path = Path(".")
    # Where links to posts point (the Bluesky app by default).
    web_url: str = "https://bsky.app"
    # For items without a language of their own (BCP 47, e.g. "en"); "": no langs.
    language: str = ""
    # Threads are asked for per account (long_posts = "thread"): a shortened post is the default.
    long_posts: Literal["truncate", "thread"] = "truncate"
    # An item's link as a card (title, description, thumbnail); off: images only.
    link_cards: bool = True
    request_timeout: float = 30.0
    # Seconds one send (its thread and images), engagement poll or profile read may take,
    # whatever the PDS does: one trickling its answer gets past request_timeout, not this.
    total_timeout: float = 180.0
    # Where items' relative image paths are found.
    image_folder: Path = Path(".")

    def check(self) -> str | None:
        if self.enabled and not self.handle:
            return "handle: needed when the channel is enabled, e.g. network.bsky.social"
        for key in ("service", "web_url"):
            value = getattr(self, key)
            if not re.match(r"https?://[^/\s]+", value):
                return f"{key}: {value!r} is not an http(s) address"
        for key in ("request_timeout", "total_timeout"):
            if getattr(self, key) <= 0:
                return f"{key}: must be more than 0"
        return self.engagement_problem()


def record_key(idempotency_key: str, index: int) -> str:
    """The TID record key of part ``index`` of a post: the same for its row on every run."""
    digest = hashlib.sha256(f"{idempotency_key}:{index}".encode()).digest()
    micros = TID_EPOCH_US + (int.from_bytes(digest[:8], "big") >> (64 - TID_SPAN_BITS))
    clock_id = int.from_bytes(digest[8:10], "big") & 0x3FF
    value = (micros << 10) | clock_id
    return "".join(TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def _xrpc_error(exc: Exception) -> str:
    """The PDS's error name (``RecordNotFound``, ``ExpiredToken``…) of an SDK error, or ""."""
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    return str(getattr(content, "error", "") or "")


def _text_of(record: Any) -> str | None:
    value = record.get("text") if isinstance(record, dict) else getattr(record, "text", None)
    return value if isinstance(value, str) else None


class BlueskyChannel(PolledChannel):
    kind = "bluesky"
    counts_audience = True
    # One account is one handle on one service.
    account_keys = ("service", "handle")
    max_length = MAX_GRAPHEMES
    images_per_post = MAX_IMAGES
    # No fixed pace: the PDS counts write points and says when a 429's window resets.
    rate_per_second = math.inf
    # Recovery is exact (getRecord by key), so a batch may be claimed at once.
    batch_size = 20
    Settings: ClassVar[type[ChannelSettings]] = BlueskySettings

    def __init__(self, settings: ChannelSettings, name: str | None = None) -> None:
        super().__init__(settings, name)
        assert isinstance(settings, BlueskySettings)
        self.cfg = settings
        self._client: Any = None
        self._did = ""
        self._handle = settings.handle
        # Write points the PDS last said were left, and when its window resets (epoch s).
        self._points: tuple[int, float] | None = None

    # -- session --------------------------------------------------------------

    async def open(self) -> None:
        """Resume the kept session (refreshed as needed), else sign in with the app password."""
        from atproto import AsyncClient
        from atproto_client.request import AsyncRequest

        client = AsyncClient(
            self.cfg.service,
            request=AsyncRequest(
                timeout=self.cfg.request_timeout,
                event_hooks={"response": [self._note_write_points]},
            ),
        )
        client.request.add_additional_header("User-Agent", f"commsbot/{__version__}")
        try:
            async with asyncio.timeout(self.cfg.total_timeout):
                if not await self._resume(client):
                    await self._sign_in(client)
        except TimeoutError:
            raise ChannelError(
                f"{self.name}: no complete answer from {self.cfg.service} within "
                f"{self.cfg.total_timeout:g} s (see {self.key}.total_timeout)",
                retryable=True,
            ) from None
        client.on_session_change(self._keep_session)
        session = client._session
        self._did, self._handle = str(session.did), str(session.handle)
        self._client = client

    async def _resume(self, client: Any) -> bool:
        """Whether the kept session still works (refreshing it on the way if needed)."""
        from atproto_client.exceptions import AtProtocolError, NetworkError

        kept = self._read_session()
        if kept is None:
            return False
        try:
            await client.login(session_string=kept, fetch_bsky_profile=False)
            await client.com.atproto.server.get_session()
        except NetworkError as exc:
            raise ChannelError(
                f"{self.name}: cannot reach {self.cfg.service}: {exc}", retryable=True
            ) from None
        except (AtProtocolError, ValueError):
            return False  # expired or revoked: sign in again
        self._keep_session(None, client._session)  # a refresh on the way is kept too
        return True

    async def _sign_in(self, client: Any) -> None:
        from atproto_client.exceptions import (
            AtProtocolError,
            NetworkError,
            RateLimitExceededError,
            UnauthorizedError,
        )

        try:
            password = read_secret(self.cfg.app_password_env, f"{self.key}.app_password_env")
        except ConfigError as exc:
            raise ChannelError(f"{self.name}: {exc}") from None
        try:
            await client.login(self.cfg.handle, password, fetch_bsky_profile=False)
        except RateLimitExceededError:
            raise ChannelError(
                f"{self.name}: {self.cfg.service} limits sign-ins (30 per 5 minutes, 300 a day); "
                "try later",
                retryable=True,
            ) from None
        except NetworkError as exc:
            raise ChannelError(
                f"{self.name}: cannot reach {self.cfg.service}: {exc}", retryable=True
            ) from None
        except (UnauthorizedError, AtProtocolError) as exc:
            raise ChannelError(
                f"{self.name}: {self.cfg.service} refused {self.cfg.handle} with the app password "
                f"in {self.cfg.app_password_env} ({_xrpc_error(exc) or exc}); fix it, then run "
                f"`commsbot channels test {self.name}`"
            ) from None
        self._keep_session(None, client._session)

    def _read_session(self) -> str | None:
        try:
            kept = json.loads(self.session_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        same = kept.get("service") == self.cfg.service and kept.get("handle") == self.cfg.handle
        session = kept.get("session")
        return session if same and isinstance(session, str) else None

    def session_path(self) -> Path:
        """Where this account's session is kept: one file per handle."""
        return self.cfg.session_folder / f"bluesky-{self.cfg.handle}.session"

    def _keep_session(self, _event: Any, session: Any) -> None:
        """Write the session (tokens only) for the next run, readable by this user alone."""
        path = self.session_path()
        data = {"service": self.cfg.service, "handle": self.cfg.handle, "session": session.encode()}
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(temp, path)
        except OSError as exc:
            # Not fatal, and never a failed post: the next run signs in again.
            with contextlib.suppress(OSError):
                temp.unlink()
            log.warning(
                "%s: cannot keep the session in %s: %s", self.name, path, exc.strerror or exc
            )

    def _forget_session(self) -> None:
        with contextlib.suppress(OSError):
            self.session_path().unlink()
        self._client = None

    async def _note_write_points(self, response: Any) -> None:
        """Keep what a createRecord answer says is left of the account's write points."""
        if not response.url.path.endswith("/com.atproto.repo.createRecord"):
            return
        remaining = response.headers.get("ratelimit-remaining")
        reset = response.headers.get("ratelimit-reset")
        if remaining and reset and remaining.isdigit() and reset.isdigit():
            self._points = (int(remaining), float(reset))

    def _points_wait(self, records: int) -> float | None:
        """Seconds to wait when the points left do not cover ``records`` more records."""
        if self._points is None:
            return None
        remaining, reset = self._points
        wait = reset - time.time()
        if wait <= 0:
            self._points = None
            return None
        return wait if remaining < POINTS_PER_RECORD * records else None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.request.close()
            self._client = None

    async def describe(self) -> dict[str, str]:
        """The account (handle, DID, PDS) and the limits it posts under."""
        pds = str(self._client._session.pds_endpoint or self.cfg.service).removesuffix("/xrpc")
        return {
            "account": f"@{self._handle}",
            "did": self._did,
            "pds": pds,
            "limit": f"{MAX_GRAPHEMES} graphemes, links and hashtags as facets",
            "images": f"up to {MAX_IMAGES} a post, {BLOB_LIMIT} bytes each, with alt text",
            "posting": f"long posts as a {self.cfg.long_posts}; writes: {WRITE_POINTS}",
        }

    # -- posting --------------------------------------------------------------

    async def send(self, post: Rendered) -> Delivery:
        if self._client is None:
            try:
                await self.open()
            except ChannelError as exc:
                if exc.retryable:
                    return Delivery.retry_later(post.post_id, str(exc))
                return Delivery.channel_down(post.post_id, str(exc))
        parts = (post.text, *post.thread)
        refs: list[Any] = []
        try:
            async with asyncio.timeout(self.cfg.total_timeout):
                return await self._send_parts(post, parts, refs)
        except TimeoutError:
            # Each part has its own record key: the retry looks before it creates.
            thread = ThreadFailure.of(len(refs), len(parts), lambda: self.web_link(refs[0].uri))
            return Delivery.retry_later(
                post.post_id, thread.overtime(self.key, self.cfg.total_timeout)
            )

    async def _send_parts(self, post: Rendered, parts: Sequence[str], refs: list[Any]) -> Delivery:
        """Create the parts the PDS does not have yet, appending each to ``refs``."""
        try:
            if post.previous_attempt_at is not None:
                refs.extend(await self._published(post, parts))
            wait = self._points_wait(len(parts) - len(refs))
            if wait is not None:
                return Delivery.retry_in(
                    post.post_id,
                    wait,
                    f"write points nearly used ({self._points[0] if self._points else 0} "
                    "left); account paused until the PDS's reset",
                )
            for index in range(len(refs), len(parts)):
                record = await self._record(post, parts[index], index, refs)
                refs.append(await self._create(post, index, parts[index], record))
        except Exception as exc:
            return self._failure(post, exc, refs, len(parts))
        return Delivery.sent(post.post_id, str(refs[0].uri), self.web_link(refs[0].uri))

    async def recover(self, posts: Sequence[Rendered]) -> list[Delivery]:
        """Posts an interrupted run left ``sending``: sent if the PDS has every part, else
        back in the queue (the next send looks again and creates only what is missing)."""
        outcomes: list[Delivery] = []
        for post in posts:
            parts = (post.text, *post.thread)
            try:
                if self._client is None:
                    await self.open()
                refs = await self._published(post, parts)
            except ChannelError as exc:
                if not exc.retryable:
                    outcomes.append(Delivery.failed(post.post_id, str(exc)))
                    continue
                refs = []
            except Exception:
                refs = []  # the PDS did not answer: the send looks again before posting
            if len(refs) == len(parts):
                outcomes.append(
                    Delivery.sent(post.post_id, str(refs[0].uri), self.web_link(refs[0].uri))
                )
            else:
                outcomes.append(
                    Delivery.not_tried(
                        post.post_id,
                        "interrupted while sending; the PDS is asked again before posting",
                    )
                )
        return outcomes

    def web_link(self, uri: str) -> str:
        """The post's address in the web app, from its at:// URI."""
        rkey = str(uri).rsplit("/", 1)[-1]
        return f"{self.cfg.web_url.rstrip('/')}/profile/{self._handle}/post/{rkey}"

    async def _published(self, post: Rendered, parts: Sequence[str]) -> list[Any]:
        """The parts an earlier attempt created, in order, as far as they go."""
        refs: list[Any] = []
        for index, text in enumerate(parts):
            ref = await self._existing(post, index, text)
            if ref is None:
                break
            refs.append(ref)
        return refs

    async def _existing(self, post: Rendered, index: int, text: str) -> Any:
        """The strong ref of a part already on the PDS under its key, or None."""
        from atproto import models
        from atproto_client.exceptions import BadRequestError

        rkey = record_key(post.idempotency_key, index)
        try:
            found = await self._client.com.atproto.repo.get_record(
                models.ComAtprotoRepoGetRecord.Params(
                    repo=self._did, collection=COLLECTION, rkey=rkey
                )
            )
        except BadRequestError as exc:
            if _xrpc_error(exc) == "RecordNotFound":
                return None
            raise
        if _text_of(found.value) != text:
            raise ChannelError(
                f"record {found.uri} (key {rkey}) holds another text than post "
                f"{post.post_id}; nothing was posted over it"
            )
        return models.ComAtprotoRepoStrongRef.Main(uri=found.uri, cid=found.cid)

    async def _create(self, post: Rendered, index: int, text: str, record: Any) -> Any:
        """createRecord under the part's key; a key already taken is looked up instead."""
        from atproto import models
        from atproto_client.exceptions import (
            NetworkError,
            RateLimitExceededError,
            RequestErrorBase,
            UnauthorizedError,
        )

        rkey = record_key(post.idempotency_key, index)
        try:
            made = await self._client.com.atproto.repo.create_record(
                models.ComAtprotoRepoCreateRecord.Data(
                    repo=self._did, collection=COLLECTION, rkey=rkey, record=record
                )
            )
        except (RateLimitExceededError, UnauthorizedError, NetworkError):
            raise
        except RequestErrorBase:
            # A PDS refuses a key already in use: that record may be this very post,
            # created by an attempt whose answer never arrived.
            existing = await self._existing(post, index, text)
            if existing is None:
                raise
            return existing
        return models.ComAtprotoRepoStrongRef.Main(uri=made.uri, cid=made.cid)

    async def _record(self, post: Rendered, text: str, index: int, refs: list[Any]) -> Any:
        from atproto import models

        langs = [lang] if (lang := post.language or self.cfg.language) else None
        reply = models.AppBskyFeedPost.ReplyRef(root=refs[0], parent=refs[-1]) if refs else None
        return models.AppBskyFeedPost.Record(
            text=text,
            facets=await self._client.detect_facets(text) or None,
            created_at=self._client.get_current_time_iso(),
            langs=langs,
            reply=reply,
            embed=await self._embed(post) if index == 0 else None,
        )

    async def _embed(self, post: Rendered) -> Any:
        """The first post's card (its link, with the image as thumbnail) or its images:
        up to four, each with the item's alt text and its aspect ratio. An item with
        several images shows them all (its link stays a link in the text)."""
        from atproto import models

        wanted = images_with_alt(post)
        if len(wanted) > MAX_IMAGES:
            log.warning(
                "%s post %s: %d images, Bluesky shows %d; %s left out",
                self.name,
                post.post_id,
                len(wanted),
                MAX_IMAGES,
                ", ".join(image for image, _ in wanted[MAX_IMAGES:]),
            )
            wanted = wanted[:MAX_IMAGES]
        if post.link and self.cfg.link_cards and len(wanted) <= 1:
            image = await self._image(wanted[0][0], post) if wanted else None
            description = post.image_alt if post.image_alt != post.title else ""
            return models.AppBskyEmbedExternal.Main(
                external=models.AppBskyEmbedExternal.External(
                    uri=post.link,
                    title=post.title or post.link,
                    description=description or "",
                    thumb=await self._upload(image[0]) if image else None,
                )
            )
        images = []
        for name, alt in wanted:
            fitted = await self._image(name, post)
            if fitted is None:
                continue
            data, width, height = fitted
            images.append(
                models.AppBskyEmbedImages.Image(
                    alt=alt or post.title or "",
                    image=await self._upload(data),
                    aspect_ratio=models.AppBskyEmbedDefs.AspectRatio(width=width, height=height),
                )
            )
        return models.AppBskyEmbedImages.Main(images=images) if images else None

    async def _upload(self, data: bytes) -> Any:
        return (await self._client.upload_blob(data)).blob

    # -- images -------------------------------------------------------------------

    async def _image(self, image: str, post: Rendered) -> tuple[bytes, int, int] | None:
        """An item's image as (bytes within the blob limit, width, height); None, with a
        warning naming it, for one that cannot be made small enough (the post goes
        without it). One that cannot be read fails the post."""
        if re.match(r"https?://", image, re.IGNORECASE):
            raw = await self._fetch(image)
        else:
            raw = read_image_file(image, self.cfg.image_folder)[1]
        try:
            return await asyncio.to_thread(fit_image, raw, image)
        except ImageTooLarge as exc:
            log.warning("%s post %s: %s; posted without it", self.name, post.post_id, exc)
            return None

    async def _fetch(self, url: str) -> bytes:
        import httpx

        limit = 16 * BLOB_LIMIT
        try:
            async with (
                httpx.AsyncClient(timeout=self.cfg.request_timeout, follow_redirects=True) as http,
                http.stream("GET", url) as response,
            ):
                check_image_answer(url, response.status_code)
                data = b""
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise ChannelError(f"image {url}: larger than {limit} bytes")
        except httpx.HTTPError as exc:
            raise ChannelError(f"image {url}: {exc}", retryable=True) from None
        return data

    # -- outcomes ----------------------------------------------------------------

    def _failure(self, post: Rendered, exc: Exception, refs: list[Any], total: int) -> Delivery:
        """An SDK error as a Delivery: pause the account, retry, stop the channel, or fail."""
        from atproto_client.exceptions import (
            BadRequestError,
            NetworkError,
            RateLimitExceededError,
            RequestErrorBase,
            UnauthorizedError,
        )

        thread = ThreadFailure.of(len(refs), total, lambda: self.web_link(refs[0].uri))
        where, public = thread.where, thread.public
        if isinstance(exc, ChannelError):
            return thread.own_error(post.post_id, exc)
        if isinstance(exc, RateLimitExceededError):
            wait = _seconds_until_reset(exc)
            return Delivery.retry_in(
                post.post_id,
                wait,
                f"rate limit reached{where}; account paused for {math.ceil(wait)} s",
            )
        if isinstance(exc, UnauthorizedError):
            # The kept session was revoked: the next send signs in with the app password.
            self._forget_session()
            return Delivery.retry_later(post.post_id, f"session refused{where}: {exc}")
        if isinstance(exc, NetworkError):
            # The record may exist: the retry looks it up under its key before creating.
            return Delivery.retry_later(post.post_id, f"no answer{where}: {exc}")
        if isinstance(exc, BadRequestError):
            return Delivery.failed(post.post_id, f"rejected by the PDS{where} ({exc}){public}")
        if isinstance(exc, RequestErrorBase):
            return Delivery.retry_later(post.post_id, f"PDS error{where}: {exc}")
        # Anything else (an answer the SDK could not read): the retry looks the record up
        # under its key before creating it, so even then the post is not made twice.
        log.exception("%s post %s", self.name, post.post_id)
        return Delivery.retry_later(post.post_id, f"{type(exc).__name__}{where}: {exc}")

    # -- engagement ---------------------------------------------------------------

    async def fetch_engagement(self, posts: Sequence[tuple[int, str]]) -> list[Engagement]:
        """Likes, reposts, replies and quotes, 25 posts a getPosts, within the run's budget."""
        if self._client is None:
            await self.open()
        found: list[Engagement] = []
        # What was read within the total time counts; the rest waits for the next poll.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.cfg.total_timeout):
                await self._poll(list(posts), found)
        return found

    async def _poll(self, pending: list[tuple[int, str]], found: list[Engagement]) -> None:
        """Read ``pending`` into ``found``, one request per chunk, within the budget."""
        from atproto_client.exceptions import AtProtocolError, UnauthorizedError

        for _ in range(self.cfg.engagement_requests_per_run):
            if not pending:
                break
            chunk, pending = pending[:POSTS_PER_REQUEST], pending[POSTS_PER_REQUEST:]
            try:
                views = (await self._client.get_posts([uri for _, uri in chunk])).posts
            except UnauthorizedError as exc:
                self._forget_session()
                raise ChannelError(f"{self.name}: session refused: {exc}") from None
            except AtProtocolError:
                break  # rate limit or network: the rest waits for the next poll
            by_uri = {str(v.uri): v for v in views}
            for post_id, uri in chunk:
                view = by_uri.get(uri)
                if view is not None:  # a missing one was deleted
                    found.append(
                        Engagement(
                            post_id,
                            favourites=int(view.like_count or 0),
                            boosts=int(view.repost_count or 0),
                            replies=int(view.reply_count or 0),
                            extra={"quotes": int(view.quote_count or 0)},
                        )
                    )

    async def timeline_reader(self, requests: int) -> BlueskyReader:
        """A reader of the campaign hashtags and of our mentions for ``track-movement``,
        through this channel's session, allowed ``requests`` requests."""
        from commsbot.channels.bluesky_timelines import BlueskyReader

        if self._client is None:
            await self.open()
        return BlueskyReader(self._client, self._did, self.cfg.web_url, requests=requests)

    async def audience_size(self) -> int:
        """The account's followers, read now."""
        from atproto_client.exceptions import AtProtocolError

        if self._client is None:
            await self.open()
        try:
            async with asyncio.timeout(self.cfg.total_timeout):
                profile = await self._client.get_profile(self._did)
        except (AtProtocolError, TimeoutError) as exc:
            raise ChannelError(
                f"{self.name}: cannot read the profile of @{self._handle}: {exc}", retryable=True
            ) from None
        return int(profile.followers_count or 0)


def _seconds_until_reset(exc: Any) -> float:
    """How long a 429 asks us to wait: until ``ratelimit-reset``, else ``retry-after``."""
    reset = exc.reset_at
    if reset is not None:
        return float(max(math.ceil((reset - datetime.now(UTC)).total_seconds()), 1))
    return float(exc.retry_after or 60)


def fit_image(raw: bytes, name: str) -> tuple[bytes, int, int]:
    """(bytes, width, height) of an image, re-encoded smaller when above the blob limit."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as img:
            width, height = img.size
            kind = (img.format or "").lower()
            if len(raw) <= BLOB_LIMIT and kind in ("jpeg", "png", "webp", "gif"):
                return raw, width, height
            picture = img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        mime = mimetypes.guess_type(name)[0] or "unknown type"
        raise ChannelError(
            f"image {name}: not an image commsbot can read ({mime}: {exc})"
        ) from None
    # Halve the area until the JPEG fits: a handful of steps for any photo.
    scale = 1.0
    for _ in range(12):
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        out = io.BytesIO()
        picture.resize(size).save(out, "JPEG", quality=85)
        if out.tell() <= BLOB_LIMIT:
            return out.getvalue(), size[0], size[1]
        scale *= 0.7
    raise ImageTooLarge(f"image {name}: cannot be made smaller than {BLOB_LIMIT} bytes")


class ImageTooLarge(ChannelError):
    """An image no downscaling brings within the blob limit."""
