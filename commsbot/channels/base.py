"""The one contract every channel keeps.

A channel gets a rendered post and returns a ``Delivery``: a failed send is a value
(one named ``Outcome``), not an exception. Channels never touch the store; dispatch
hands them posts and record writes back what they said.

A *kind* (mastodon, telegram, ...) is a ``Channel`` subclass; an *account* is one instance
of it, named in the config (``[channels.tallinn-mastodon] kind = "mastodon"``;
``[channels.mastodon]`` alone means kind = name). Adding a kind is one module with one
subclass plus one line in ``commsbot.channels.REGISTRY``; the contract tests
(``tests/test_channel_contract.py``) then run over it without being written again.

What a kind declares, as class attributes, and who reads it:

- ``kind``: its registry name; ``Settings``: its settings dataclass (a ``ChannelSettings``
  subclass), built and checked (``Settings.check``) when the config loads, so a bad value
  is an error naming file and key before anything opens.
- ``max_length`` and ``length()``: how the platform counts a post; ``rate_per_second``:
  its own pace (``rate_group()`` names a limit shared between accounts, such as a
  Telegram bot's, which dispatch then paces as one).
- ``markup``: ``"plain"`` or ``"html"``: the renderer escapes templates and links by it.
- ``takes_posts``: publishing hands it posts; ``sends_direct``: it sends digests to people
  (``send_direct``); ``polls_engagement``: ``engagement_polling()`` and
  ``fetch_engagement`` are its own; ``counts_audience``: ``audience_size`` is its own.
- ``account_keys``: the settings that together say which account this is (a token
  variable, a chat): two configured accounts with the same values are refused at load.

An instance is built as ``Cls(settings, name)`` and must not read a secret or connect
there (``open()`` does). ``self.name`` is the account's name (the outbox row's channel,
the pause and the exactly-once key are per name); ``self.key`` (``channels.NAME``) is
what its messages call its settings, e.g. ``read_secret(env, f"{self.key}.token_env")``.
A kind does nothing about filters, templates, slots or approval: ``ChannelSettings``
holds them for every kind, and selection and rendering apply them.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import ClassVar, Literal

from commsbot.errors import ChannelError, ConfigError
from commsbot.text import graphemes

Markup = Literal["plain", "html"]
# The network's ten languages (#19), an account's ``languages``; ``commsbot.i18n`` speaks them.
Language = Literal["en", "nl", "it", "de", "et", "pl", "lt", "sv", "pt", "cs"]


@dataclass(frozen=True)
class ChannelSettings:
    """Keys every channel section accepts; channels subclass this with their own.

    A section is one account: ``kind`` names its platform (a registered channel kind) and
    defaults to the section's name, so ``[channels.mastodon]`` alone is a Mastodon account.
    """

    kind: str = ""
    enabled: bool = False
    # What this account takes; an empty filter takes everything. An item with no city
    # (a newsletter) does not pass a ``cities`` filter, nor one not from a feed ``feeds``.
    cities: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    content_types: tuple[str, ...] = ()
    # The languages this account posts in (ISO 639-1, e.g. "pl"): an item goes out in the
    # first of them it is written or translated in, tagged with it (#19).
    languages: tuple[str, ...] = ()
    # Feed URLs (as in [[feeds]]): only news and newsletters read from these.
    feeds: tuple[str, ...] = ()
    # Query parameters added to every link this channel posts, e.g. {utm_source = "mastodon"}.
    utm: dict[str, str] = field(default_factory=dict)
    # Weekly posting times in the service's time zone, e.g. ["Tue 10:00", "weekdays 09:30"].
    # New content takes the next free one; none means posts go out as soon as they are due.
    slots: tuple[str, ...] = ()
    # Hashtags added to every post of this channel (e.g. a campaign's), never truncated away.
    hashtags: tuple[str, ...] = ()
    # What becomes of a post longer than the channel allows: shortened (keeping the link),
    # or a numbered thread with the link in its first post.
    long_posts: Literal["truncate", "thread"] = "truncate"
    # This channel's own backlog policy (posting.backlog when unset): the outbox is a
    # preview, so the example config lets the sample reach it at once.
    backlog: Literal["post", "approve", "skip"] | None = None
    # An item in none of ``languages`` (neither written nor translated in one): skip it (the
    # filter keeps it out), post the original under its own language tag, or hold it for
    # approval with the reason (#19).
    missing_translation: Literal["skip", "original", "approve"] = "original"

    def check(self) -> str | None:
        """What is wrong with these settings as a whole ("key: problem"), or None."""
        return None


def read_secret(env_name: str, key: str) -> str:
    """The value of the environment variable a ``*_env`` key names; never logged."""
    value = os.environ.get(env_name, "")
    if not value:
        raise ConfigError(f"{key} names the environment variable {env_name}, which is not set")
    return value


def read_image_file(image: str, folder: Path) -> tuple[Path, bytes]:
    """A local image's path (a relative one is under ``folder``, the channel's
    ``image_folder``) and bytes; one that cannot be read is an error naming it."""
    path = Path(image).expanduser()
    if not path.is_absolute():
        path = folder / path
    try:
        return path, path.read_bytes()
    except OSError as exc:
        raise ChannelError(f"image {path}: {exc.strerror or exc}") from None


def images_with_alt(post: Rendered) -> list[tuple[str, str | None]]:
    """A post's images, its first and its further ones in order, each with its alt text:
    its own (an announcement's), else the post's ``image_alt``."""
    own = [*post.images_alt, *[""] * len(post.images)][: len(post.images)]
    pairs = [(post.image, post.image_alt), *zip(post.images, own, strict=True)]
    return [(image, alt or post.image_alt) for image, alt in pairs if image]


def check_image_answer(url: str, status: int) -> None:
    """An image server's error status as an error: retried when the server may recover."""
    if status >= 400:
        raise ChannelError(f"image {url}: HTTP {status}", retryable=status >= 500 or status == 429)


# Rendered and Delivery are built once per post sent and are not frozen: a frozen
# dataclass sets each field through object.__setattr__, which cost the two 27 K of a
# post's ~1,030 K instructions (#15). Nothing changes one once built; a changed copy is
# dataclasses.replace'd, as with a frozen one.
@dataclass
class Rendered:
    """What a channel receives: the text exactly as it will appear, and what goes with it."""

    post_id: int
    channel: str
    item_type: str
    item_ref: str
    text: str
    idempotency_key: str
    link: str | None = None
    title: str | None = None
    image: str | None = None
    image_alt: str | None = None
    # Further posts of a thread, when the text did not fit in one.
    thread: tuple[str, ...] = ()
    language: str | None = None
    # Further images after ``image`` (a channel shows as many as its platform allows),
    # and their alt texts where each has its own (an announcement's); else ``image_alt``.
    images: tuple[str, ...] = ()
    images_alt: tuple[str, ...] = ()
    # When the post was last handed to the channel, if it was: that attempt may have
    # published it, so a channel whose deduplication has expired looks before posting.
    previous_attempt_at: datetime | None = None


class Outcome(Enum):
    """What became of one send. Each case is read in one place, ``commsbot.delivery``,
    which turns it into the row's state for posts and digests alike."""

    # The platform has it (``remote_id``/``remote_url`` say where).
    SENT = "sent"
    # A transient failure: tried again after the retry policy's backoff, up to its limit.
    RETRY_LATER = "retry later"
    # The platform said when (flood control, a rate-limit window): the channel waits
    # ``retry_after`` seconds; the post is not charged an attempt for it.
    RETRY_AFTER = "retry after"
    # Not handed to the platform, or known not to be there (a recovered post the channel
    # will check before posting): queued again at once, no attempt charged.
    NOT_TRIED = "not tried"
    # Refused for good (too long, bad markup, rejected by the server): never retried.
    FAILED = "failed"
    # The recipient of a direct message is gone for good (an SMTP 5xx at RCPT, a user who
    # blocked the bot): failed, and that address is never sent to again.
    BOUNCED = "bounced"
    # The platform may or may not have it: never re-sent blindly; shown to the officer.
    UNKNOWN = "unknown"
    # The whole channel refuses (a rejected token, a refused sender, lost rights to post):
    # the channel stops until it is cleared; the post waits for it, no attempt charged.
    CHANNEL_DOWN = "channel down"


@dataclass
class Delivery:
    """The outcome of one send; build it with the constructor named for the case."""

    # The post's id, or a direct message's ``ref`` (its delivery row).
    post_id: int
    outcome: Outcome
    error: str | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    # Seconds to wait: set for RETRY_AFTER only.
    retry_after: float | None = None

    @classmethod
    def sent(
        cls, ref: int, remote_id: str | None = None, remote_url: str | None = None
    ) -> Delivery:
        # Positional: the one built for every post sent, keywords cost it a dict each.
        return cls(ref, Outcome.SENT, None, remote_id, remote_url)

    @classmethod
    def retry_later(cls, ref: int, error: str) -> Delivery:
        return cls(ref, Outcome.RETRY_LATER, error)

    @classmethod
    def retry_in(cls, ref: int, seconds: float, error: str) -> Delivery:
        """The platform asked for ``seconds`` of quiet before the next send."""
        return cls(ref, Outcome.RETRY_AFTER, error, retry_after=max(seconds, 0.0))

    @classmethod
    def not_tried(cls, ref: int, error: str | None = None) -> Delivery:
        return cls(ref, Outcome.NOT_TRIED, error)

    @classmethod
    def failed(cls, ref: int, error: str) -> Delivery:
        return cls(ref, Outcome.FAILED, error)

    @classmethod
    def bounced(cls, ref: int, error: str) -> Delivery:
        return cls(ref, Outcome.BOUNCED, error)

    @classmethod
    def unknown(cls, ref: int, error: str, remote_id: str | None = None) -> Delivery:
        return cls(ref, Outcome.UNKNOWN, error, remote_id=remote_id)

    @classmethod
    def channel_down(cls, ref: int, error: str) -> Delivery:
        return cls(ref, Outcome.CHANNEL_DOWN, error)


@dataclass(frozen=True)
class ThreadFailure:
    """What a failure message of a threading channel says about how far the thread got.

    A post too long for one goes as a thread; when a part fails, ``where`` names it
    (" at part 3 of 5", empty for a single post) and ``public`` tells the officer that
    the first parts are already out, with the first one's address (empty when none is).
    Mastodon and Bluesky word their failures alike through it.
    """

    where: str
    public: str

    @classmethod
    def of(cls, posted: int, total: int, first_url: Callable[[], str]) -> ThreadFailure:
        """``posted`` of ``total`` parts made it; ``first_url()`` is asked only when one did."""
        where = f" at part {posted + 1} of {total}" if total > 1 else ""
        public = f"; parts 1-{posted} are public: {first_url()}" if posted else ""
        return cls(where, public)

    def own_error(self, ref: int, exc: ChannelError) -> Delivery:
        """The channel's own error (an image it could not read or fetch): retried when it
        says so, otherwise failed; either way naming the parts already public."""
        if exc.retryable:
            return Delivery.retry_later(ref, f"{exc}{self.public}")
        return Delivery.failed(ref, f"{exc}{self.public}")

    def overtime(self, key: str, seconds: float) -> str:
        """Why a send ended unanswered: its total time (``KEY.total_timeout``) ran out."""
        return f"no complete answer{self.where} within {seconds:g} s (see {key}.total_timeout)"


@dataclass(frozen=True)
class Engagement:
    post_id: int
    favourites: int = 0
    boosts: int = 0
    replies: int = 0
    reactions: int = 0
    clicks: int = 0
    extra: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EngagementPolling:
    """How often a channel's posts are polled for engagement: often while they are
    new, then less often, and not at all once they are older than ``max_age``."""

    max_age: timedelta
    first_day_every: timedelta
    later_every: timedelta

    def interval(self, age: timedelta) -> timedelta:
        return self.first_day_every if age < timedelta(days=1) else self.later_every


@dataclass(frozen=True)
class Action:
    """A button under a direct message: ``data`` for the bot to act on when pressed, or a
    ``url`` to open. A channel without buttons (e-mail) leaves them out."""

    label: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class EngagementSettings:
    """The settings of a kind that polls its posts' engagement (a mixin of its Settings):
    polled until posts are this old, every so often in their first day, then less often,
    and at most so many requests in one poll."""

    engagement_max_age_days: int = 14
    engagement_first_day_minutes: int = 60
    engagement_later_hours: int = 24
    engagement_requests_per_run: int = 30

    def polling(self) -> EngagementPolling:
        """The schedule these settings give."""
        return EngagementPolling(
            max_age=timedelta(days=self.engagement_max_age_days),
            first_day_every=timedelta(minutes=self.engagement_first_day_minutes),
            later_every=timedelta(hours=self.engagement_later_hours),
        )

    def engagement_problem(self) -> str | None:
        """What is wrong with these settings ("key: problem"), or None."""
        for key in (
            "engagement_max_age_days",
            "engagement_first_day_minutes",
            "engagement_later_hours",
            "engagement_requests_per_run",
        ):
            if getattr(self, key) <= 0:
                return f"{key}: must be more than 0"
        return None


@dataclass(frozen=True)
class DirectMessage:
    """A message to one person (a digest): plain text, optional HTML and subject."""

    ref: int  # the delivery row it belongs to
    recipient: str  # an e-mail address or a Telegram chat id
    text: str
    # E-mail: the HTML alternative to ``text``. Telegram: the message in Telegram's HTML
    # parse mode, sent instead of ``text`` (which stays a plain-text fallback).
    html: str | None = None
    subject: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Rows of buttons (Telegram's inline keyboard), under the message's last part.
    actions: tuple[tuple[Action, ...], ...] = ()


class Channel(ABC):
    """Base class: declare the kind (see the module's docstring); implement ``send``."""

    kind: ClassVar[str]
    max_length: ClassVar[int]
    # Sends per second this channel allows itself, below the platform's limit. A class
    # default; a channel whose rate is a setting sets its own in __init__.
    rate_per_second: float
    markup: ClassVar[Markup] = "plain"
    # How many posts dispatch hands over between two writes to the store. Only a
    # channel whose sends are local and cheap may take more than one.
    batch_size: ClassVar[int] = 1
    # How many sends may be in flight at once: more than one only for a client that is safe
    # to share between concurrent sends (an SMTP connection is not).
    concurrency: ClassVar[int] = 1
    # False for a channel that only sends to people (digests): publishing leaves it out.
    takes_posts: ClassVar[bool] = True
    sends_direct: ClassVar[bool] = False
    polls_engagement: ClassVar[bool] = False
    counts_audience: ClassVar[bool] = False
    account_keys: ClassVar[tuple[str, ...]] = ()
    # True for a channel nobody outside reads (the outbox): enabling it on a store full of
    # content is no surprise, so only content old by its date counts as its backlog.
    preview: ClassVar[bool] = False
    # Images a post shows: the first only, unless the platform takes several.
    images_per_post: ClassVar[int] = 1
    Settings: ClassVar[type[ChannelSettings]] = ChannelSettings

    def __init__(self, settings: ChannelSettings, name: str | None = None) -> None:
        self.settings = settings
        # The account's name in the config; its kind's name when there is one account.
        self.name = name or self.kind
        # Where its settings are, for messages: "channels.tallinn-mastodon".
        self.key = f"channels.{self.name}"

    def rate_group(self) -> tuple[str, float] | None:
        """A limit this account shares with other accounts: (what is counted, sends per
        second), e.g. one Telegram bot posting to several chats; None: only its own rate."""
        return None

    def length(self, text: str) -> int:
        """Length of a text as this platform counts it."""
        return graphemes(text)

    def visible(self, text: str) -> str:
        """What a reader sees of a rendered text (a channel with markup drops it here)."""
        return text

    def limit(self) -> int:
        """The current length limit (a server may announce its own)."""
        return self.max_length

    def most_images(self) -> int:
        """How many of a post's images it shows (a server may announce its own)."""
        return self.images_per_post

    def rate(self) -> float:
        """Sends per second for this instance (its settings may set a lower one)."""
        return self.rate_per_second

    def direct_rate(self) -> float:
        """Messages per second to people (digests); by default the posting rate."""
        return self.rate()

    async def open(self) -> None:  # noqa: B027  (optional hook)
        """Connect or check credentials before the first send; default: nothing to do."""

    async def close(self) -> None:  # noqa: B027  (optional hook)
        """Release connections; default: nothing to do."""

    async def flush(self) -> None:  # noqa: B027  (optional hook)
        """Finish what the sends of a batch left buffered; called after each batch, before
        its outcomes are recorded. Default: nothing is buffered."""

    @abstractmethod
    async def send(self, post: Rendered) -> Delivery:
        """Publish one post and say what happened."""

    async def send_direct(self, message: DirectMessage) -> Delivery:
        """Send to one person; the Delivery's post_id is the message's ``ref``."""
        raise ChannelError(f"channel {self.name} ({self.kind}) cannot send messages to a person")

    async def fetch_engagement(self, posts: Sequence[tuple[int, str]]) -> list[Engagement]:
        """Current counts for (post id, remote id) pairs; channels without any return none."""
        return []

    async def audience_size(self) -> int | None:
        """How many follow the channel now (followers, members); None: it cannot tell."""
        return None

    def engagement_polling(self) -> EngagementPolling | None:
        """The schedule on which to call ``fetch_engagement``; None: this channel is not polled."""
        return None

    async def recover(self, posts: Sequence[Rendered]) -> list[Delivery]:
        """Outcomes for posts left ``sending`` by an interrupted run.

        Default: ``unknown``, since only the platform could tell whether they went out.
        A channel that can deduplicate or look its posts up returns ``not_tried`` instead.
        """
        return [
            Delivery.unknown(
                p.post_id, "interrupted while sending: it may or may not have been published"
            )
            for p in posts
        ]

    async def describe(self) -> dict[str, str]:
        """Check the channel's credentials and say what it posts as and to (``channels test``).

        Called after ``open()``; raises ``ChannelError`` naming what is wrong.
        """
        return {"limit": f"{self.limit()} characters"}


class PolledChannel(Channel):
    """A kind whose posts' engagement is polled on the schedule of its ``EngagementSettings``."""

    polls_engagement = True

    def engagement_polling(self) -> EngagementPolling:
        assert isinstance(self.settings, EngagementSettings)
        return self.settings.polling()
