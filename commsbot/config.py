"""TOML configuration -> frozen, validated dataclasses.

Every error names the file and the dotted key. Secrets never live in the file:
keys ending in ``_env`` name environment variables, read only when a channel needs them.
"""

from __future__ import annotations

import dataclasses
import functools
import keyword
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commsbot import config_names as names
from commsbot.channels.base import ChannelSettings
from commsbot.errors import N_, ConfigError, ContentError, Message

T = TypeVar("T")

ENV_CONFIG = "COMMSBOT_CONFIG"
PACKAGE_DIR = Path(__file__).resolve().parent


def packaged_path(name: str) -> Path:
    """A file or folder shipped with commsbot (inside the wheel, or the source checkout)."""
    inside = PACKAGE_DIR / name
    return inside if inside.exists() else PACKAGE_DIR.parent / name


@dataclass(frozen=True)
class StoreConfig:
    path: Path = Path("commsbot.db")


@dataclass(frozen=True)
class ServiceConfig:
    timezone: str = "Europe/Brussels"
    # A folder of *.toml job schedules; none means the packaged ``schedules/``.
    schedules: Path | None = None
    templates: Path | None = None
    # text, or json: one JSON object per log line, for a log collector.
    log_format: Literal["text", "json"] = "text"
    # On SIGTERM/Ctrl-C, how long running jobs may take to finish their sends before
    # they are stopped and whatever was in flight is recorded ``unknown``.
    stop_grace_seconds: int = 20
    # A long-running part (the bot) that fails is started again after this many seconds,
    # doubling per failure in a row up to the maximum.
    restart_seconds: int = 10
    restart_max_seconds: int = 600


@dataclass(frozen=True)
class PostingConfig:
    """How dispatch retries: attempts before a post is failed, and the first backoff."""

    max_attempts: int = 5
    retry_backoff_seconds: int = 60
    # The backoff doubles per attempt up to this: more attempts never mean waits of days.
    retry_backoff_max_seconds: int = 3600
    content_types: tuple[str, ...] = names.CONTENT_TYPES
    # Content older than this many days (an event by its end date, a newsletter or news
    # item by its publication date, a practice since it was added) is backlog, and
    # ``backlog`` says what happens to it: post it, wait for approval, or skip it (the
    # post is recorded cancelled with the reason, never dropped silently). Unset, a real
    # account asks for approval and a preview channel (the outbox) posts: enabling an
    # account never posts the back catalogue unless the config says so (#20).
    backlog_after_days: int = 30
    backlog: Literal["post", "approve", "skip"] | None = None


Approval = Literal["auto", "approve"]


@dataclass(frozen=True)
class ChannelApproval:
    """One channel's approval policy: its own default and per content type."""

    default: Approval | None = None
    types: dict[str, Approval] = field(default_factory=dict)


@dataclass(frozen=True)
class ApprovalConfig:
    """Which new posts wait for ``queue approve`` (approve) and which are queued (auto).

    The most specific rule wins: channel and type, channel, type, then ``default``.
    """

    default: Approval = "auto"
    types: dict[str, Approval] = field(default_factory=dict)
    channels: dict[str, ChannelApproval] = field(default_factory=dict)

    def policy(self, item_type: str, channel: str) -> Approval:
        own = self.channels.get(channel, ChannelApproval())
        return own.types.get(item_type) or own.default or self.types.get(item_type) or self.default


@dataclass(frozen=True)
class FeedConfig:
    """One ``[[feeds]]`` entry: a partner's RSS/Atom feed."""

    url: str
    kind: Literal["news", "newsletter"] = "news"
    city: str | None = None
    theme: str | None = None
    # The entries' categories become hashtags of their posts (machine-learning ->
    # #MachineLearning), after the channel's own and dropped before the text or link is.
    hashtags_from_categories: bool = False


@dataclass(frozen=True)
class IngestConfig:
    """How feeds are fetched, and how a failing feed backs off until it is disabled."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # A cap on the whole download, so a server that trickles cannot hold a worker.
    total_timeout: float = 120.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    concurrency: int = 4
    backoff_seconds: int = 300
    backoff_max_seconds: int = 86_400
    # Failures in a row after which a feed is disabled until an officer checks it.
    max_failures: int = 10
    # Feeds may reach loopback, private and link-local addresses only at these hosts
    # (names as in the feed URL, IP addresses, or networks such as "10.1.0.0/16").
    allow_private_hosts: tuple[str, ...] = ()


# How often a subscriber may get a digest (the subscribers table allows these). Digests,
# the bot's /subscribe and the subscriber statistics all read it from here.
FREQUENCIES = ("weekly", "monthly")


@dataclass(frozen=True)
class DigestConfig:
    """Partner digests: their title, how many items per section, and whether to send
    a digest that has nothing new (by default nothing new means nothing sent)."""

    title: str = "Cross-Innovation digest"
    send_empty: bool = False
    max_items: int = 10


@dataclass(frozen=True)
class MovementConfig:
    """Movement tracking on Mastodon and Bluesky: campaign hashtags and mentions of our
    accounts, and how much of each account's request allowance one ``track-movement`` run
    may use."""

    # Tags without '#', e.g. ["CrossInnovation"]; their public timelines are read.
    hashtags: tuple[str, ...] = ()
    # The Mastodon and Bluesky accounts that read them, each its own mentions with its own
    # request allowance and cursors; empty: every enabled one of either kind. ``account`` names one
    # (the form before several accounts); give one of the two.
    accounts: tuple[str, ...] = ()
    account: str = ""
    # Also store public mentions of and replies to each account (its notifications).
    mentions: bool = False
    # Statuses asked for per request (Mastodon gives at most 40), and pages read per
    # hashtag (and of mentions) in one run: the rest is read by the next run.
    page_size: int = 40
    max_pages: int = 5
    # Requests one run may make, all reads included; Mastodon allows an account 300 per
    # 5 minutes, shared with posting and engagement polls.
    requests_per_run: int = 30
    # The favourites, boosts and replies of statuses this many days old or younger are
    # read again with the budget left over (0: keep the counts first seen).
    refresh_days: int = 7


@dataclass(frozen=True)
class WebConfig:
    """The web console (#17): where it listens, and the address people reach it at.

    ``base_url`` is the public address (``https://comms.example.org/console``) behind a
    reverse proxy: links in alerts use it, a path in it is where the console is mounted,
    and an https one makes the session cookie Secure.
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str | None = None
    # Idle sign-ins end after this many hours; a session never lives past max_days.
    session_hours: int = 12
    max_days: int = 7

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def root_path(self) -> str:
        return urlsplit(self.base_url).path.rstrip("/") if self.base_url else ""

    @property
    def secure(self) -> bool:
        return bool(self.base_url and self.base_url.startswith("https://"))


# What alerts can be about (#20): a post waiting for approval, a failed or unknown post, an
# account down or paused, a part of the service that cannot start (a Telegram bot, the
# console: #17), a disabled feed, failed digest deliveries.
AlertProblem = Literal["approval", "failed", "unknown", "account", "part", "feed", "digest"]
ALERT_PROBLEMS: tuple[AlertProblem, ...] = typing.get_args(AlertProblem)


@dataclass(frozen=True)
class AlertsConfig:
    """Alerts (#20): to the bot's admins as Telegram messages, and to an e-mail list."""

    enabled: bool = False
    problems: tuple[AlertProblem, ...] = ALERT_PROBLEMS
    # A direct message to each of the bot account's admins ([channels.telegram] admins).
    telegram: bool = True
    # Addresses alerted through the e-mail account ``email_account`` (default: the first
    # enabled e-mail account).
    email: tuple[str, ...] = ()
    email_account: str = ""
    # "HH:MM" in service.timezone: one summary a day of what came up, instead of each
    # alert as it comes.
    daily_summary: str = ""
    # The language of e-mail alerts, and of admins who never chose one with /language.
    language: str = "en"
    # More new alerts than this in one run go out as one message listing them all.
    max_per_run: int = 10
    # A short "resolved" message once a problem told is gone (the daily summary lists
    # them instead); false: none.
    resolved: bool = True


@dataclass(frozen=True)
class Config:
    file: Path
    store: StoreConfig
    service: ServiceConfig
    posting: PostingConfig
    channels: dict[str, ChannelSettings]
    feeds: tuple[FeedConfig, ...] = ()
    ingest: IngestConfig = IngestConfig()
    approval: ApprovalConfig = field(default_factory=ApprovalConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    movement: MovementConfig = MovementConfig()
    web: WebConfig = WebConfig()
    alerts: AlertsConfig = AlertsConfig()

    @property
    def enabled_channels(self) -> list[str]:
        return [name for name, s in self.channels.items() if s.enabled]

    def enabled_accounts(self, kind: str) -> list[str]:
        """The enabled accounts of one platform kind, in the config's order."""
        return [name for name, s in self.channels.items() if s.enabled and s.kind == kind]

    def movement_accounts(self) -> list[str]:
        """The enabled Mastodon and Bluesky accounts that track the movement, in the
        config's order."""
        enabled = [
            name for name, s in self.channels.items() if s.enabled and s.kind in MOVEMENT_KINDS
        ]
        named = self.movement.accounts or (
            (self.movement.account,) if self.movement.account else ()
        )
        return [name for name in enabled if name in named] if named else enabled

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.service.timezone)

    def channel(self, name: str) -> ChannelSettings:
        try:
            return self.channels[name]
        except KeyError:
            known = ", ".join(sorted(self.channels)) or "none"
            raise ConfigError(
                f"{self.file}: no channel {name!r} is configured (configured: {known})"
            ) from None


def find_config(explicit: str | None) -> Path:
    """--config, else $COMMSBOT_CONFIG, else ./commsbot.toml, else the packaged example."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    local = Path("commsbot.toml")
    if local.exists():
        return local
    return packaged_path("config.example.toml")


def load_config(path: Path) -> Config:
    """Read and validate a config file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    from commsbot.channels import settings_class

    base = path.resolve().parent
    if base == PACKAGE_DIR:
        # The example shipped inside an installed package: keep the store and outbox
        # where the user runs commsbot, not in site-packages.
        base = Path.cwd()
    loader = _Builder(path, base)
    known = {
        "store",
        "service",
        "posting",
        "channels",
        "feeds",
        "ingest",
        "approval",
        "digest",
        "movement",
        "web",
        "alerts",
    }
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{path}: unknown section [{key}] (known: {', '.join(sorted(known))})"
            )
    channels_raw = raw.get("channels", {})
    if not isinstance(channels_raw, dict):
        raise ConfigError(f"{path}: [channels] must be a table")
    channels: dict[str, ChannelSettings] = {}
    for name, section in channels_raw.items():
        kind = section.get("kind", name) if isinstance(section, dict) else name
        cls = settings_class(kind) if isinstance(kind, str) else None
        if cls is None:
            from commsbot.channels import channel_names

            kinds = ", ".join(channel_names())
            if isinstance(section, dict) and "kind" in section:
                raise loader.fail(
                    f"channels.{name}.kind", f"unknown kind {kind!r} (known: {kinds})"
                )
            raise ConfigError(
                f"{path}: unknown channel [channels.{name}]: give it a kind, e.g. "
                f'kind = "mastodon" (known kinds: {kinds})'
            )
        settings = loader.build(cls, section, f"channels.{name}")
        channels[name] = dataclasses.replace(settings, kind=str(kind))
        problem = channels[name].check()
        if problem:
            raise ConfigError(f"{path}: channels.{name}.{problem}")
        own_language = getattr(channels[name], "language", None)
        if own_language:
            names.language(loader.fail, f"channels.{name}.language", own_language)
    service = loader.build(ServiceConfig, raw.get("service", {}), "service")
    try:
        ZoneInfo(service.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{path}: service.timezone: unknown time zone {service.timezone!r}"
        ) from None
    if service.stop_grace_seconds < 0:
        raise loader.fail("service.stop_grace_seconds", "must be 0 or more")
    if service.restart_seconds < 1:
        raise loader.fail("service.restart_seconds", "must be 1 or more")
    if service.restart_max_seconds < service.restart_seconds:
        raise loader.fail("service.restart_max_seconds", "must not be less than restart_seconds")
    posting = loader.build(PostingConfig, raw.get("posting", {}), "posting")
    for i, name in enumerate(posting.content_types):
        names.content_type(loader.fail, f"posting.content_types[{i}]", name)
    if posting.backlog_after_days < 1:
        raise loader.fail("posting.backlog_after_days", "must be 1 or more")
    if posting.max_attempts < 1:
        raise loader.fail("posting.max_attempts", "must be 1 or more")
    if posting.retry_backoff_seconds < 1:
        raise loader.fail("posting.retry_backoff_seconds", "must be 1 or more")
    if posting.retry_backoff_max_seconds < posting.retry_backoff_seconds:
        raise loader.fail(
            "posting.retry_backoff_max_seconds", "must not be less than retry_backoff_seconds"
        )
    _check_slots(loader, channels)
    store = loader.build(StoreConfig, raw.get("store", {}), "store")
    _check_accounts(loader, channels, posting, store.path)
    approval = loader.build(ApprovalConfig, raw.get("approval", {}), "approval")
    _check_approval(loader, approval, posting, channels)
    digest = loader.build(DigestConfig, raw.get("digest", {}), "digest")
    if digest.max_items < 1:
        raise ConfigError(f"{path}: digest.max_items: must be at least 1, not {digest.max_items}")
    config = Config(
        file=path,
        store=store,
        service=service,
        posting=posting,
        channels=channels,
        feeds=_feeds(loader, raw.get("feeds", [])),
        ingest=_ingest(loader, raw.get("ingest", {})),
        approval=approval,
        digest=digest,
        movement=_movement(loader, raw.get("movement", {}), channels),
        web=_web(loader, raw.get("web", {})),
    )
    alerts = loader.build(AlertsConfig, raw.get("alerts", {}), "alerts")
    return dataclasses.replace(config, alerts=_check_alerts(loader, alerts, config))


def _check_alerts(loader: _Builder, alerts: AlertsConfig, config: Config) -> AlertsConfig:
    """Where alerts go must exist when they are on; addresses are normalized."""
    from commsbot.text.addresses import normalize_email

    if alerts.daily_summary and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", alerts.daily_summary):
        raise loader.fail(
            "alerts.daily_summary",
            f'must be a time "HH:MM" (e.g. "09:00"), not {alerts.daily_summary!r}',
        )
    names.language(loader.fail, "alerts.language", alerts.language)
    if alerts.max_per_run < 1:
        raise loader.fail("alerts.max_per_run", "must be 1 or more")
    addresses = []
    for i, address in enumerate(alerts.email):
        try:
            addresses.append(normalize_email(address))
        except ContentError as exc:
            raise loader.fail(f"alerts.email[{i}]", str(exc)) from None
    alerts = dataclasses.replace(alerts, email=tuple(addresses))
    if alerts.email_account:
        account = config.channels.get(alerts.email_account)
        if account is None or account.kind != "email":
            raise loader.fail(
                "alerts.email_account", f"no e-mail account {alerts.email_account!r} is configured"
            )
    if not alerts.enabled:
        return alerts
    if alerts.email:
        account_name = alert_email_account(config, alerts)
        if account_name is None or not config.channels[account_name].enabled:
            raise loader.fail(
                "alerts.email",
                "e-mail alerts need an enabled e-mail account ([channels.email] enabled = true)",
            )
    if alerts.telegram:
        from commsbot.channels.telegram import bot_account

        settings = config.channels.get(bot_account(config))
        if settings is None or not settings.enabled or not getattr(settings, "admins", ()):
            raise loader.fail(
                "alerts.telegram",
                "Telegram alerts go to the bot's admins: they need an enabled Telegram account "
                "with admins = [user ids] (or set alerts.telegram = false)",
            )
    elif not alerts.email:
        raise loader.fail("alerts.enabled", "alerts go nowhere: set telegram = true or email")
    return alerts


def alert_email_account(config: Config, alerts: AlertsConfig | None = None) -> str | None:
    """The e-mail account alerts go through: the one named, else the first enabled one."""
    named = (alerts or config.alerts).email_account
    if named:
        return named
    enabled = config.enabled_accounts("email")
    return enabled[0] if enabled else None


def _web(loader: _Builder, raw: Any) -> WebConfig:
    web = loader.build(WebConfig, raw, "web")
    if not 0 <= web.port <= 65535:
        raise loader.fail("web.port", f"must be 0-65535, not {web.port}")
    if web.base_url is not None and not re.match(r"https?://[^/\s]+(/\S*)?$", web.base_url):
        raise loader.fail("web.base_url", f"must be an http(s) address, not {web.base_url!r}")
    if web.session_hours < 1 or web.max_days < 1:
        raise loader.fail("web.session_hours", "session_hours and max_days must be 1 or more")
    return web


def _feeds(loader: _Builder, raw: Any) -> tuple[FeedConfig, ...]:
    if not isinstance(raw, list):
        raise loader.fail("feeds", "must be an array of tables ([[feeds]])")
    feeds = loader.convert(tuple[FeedConfig, ...], raw, "feeds")
    seen: dict[str, int] = {}
    for i, feed in enumerate(feeds):
        try:
            check_feed_url(feed.url)
        except ValueError as exc:
            raise loader.fail(f"feeds[{i}].url", str(exc)) from None
        if feed.url in seen:
            raise loader.fail(f"feeds[{i}].url", f"{feed.url} is already feeds[{seen[feed.url]}]")
        seen[feed.url] = i
        if feed.city:
            names.city(loader.fail, f"feeds[{i}].city", feed.city)
        if feed.theme:
            names.theme(loader.fail, f"feeds[{i}].theme", feed.theme)
    return typing.cast(tuple[FeedConfig, ...], feeds)


def _ingest(loader: _Builder, raw: Any) -> IngestConfig:
    ingest = loader.build(IngestConfig, raw, "ingest")
    for name in ("connect_timeout", "read_timeout", "total_timeout"):
        if getattr(ingest, name) <= 0:
            raise loader.fail(f"ingest.{name}", "must be more than 0 seconds")
    for name in ("max_bytes", "concurrency", "backoff_seconds", "max_failures"):
        if getattr(ingest, name) < 1:
            raise loader.fail(f"ingest.{name}", "must be at least 1")
    if ingest.max_redirects < 0:
        raise loader.fail("ingest.max_redirects", "must be 0 or more")
    if ingest.backoff_max_seconds < ingest.backoff_seconds:
        raise loader.fail("ingest.backoff_max_seconds", "must not be less than backoff_seconds")
    for i, entry in enumerate(ingest.allow_private_hosts):
        names.private_host(loader.fail, f"ingest.allow_private_hosts[{i}]", entry)
    return ingest


# Mastodon's hashtags: letters, digits and underscores, not only digits.
_HASHTAG = re.compile(r"\w+")
# The channel kinds whose accounts read the movement (``track-movement``).
MOVEMENT_KINDS = ("mastodon", "bluesky")
# Half of the 300 requests per 5 minutes Mastodon allows an account: the rest is posting's.
MAX_MOVEMENT_REQUESTS = 150


def _movement(loader: _Builder, raw: Any, channels: dict[str, ChannelSettings]) -> MovementConfig:
    movement = loader.build(MovementConfig, raw, "movement")
    if movement.account and movement.accounts:
        raise loader.fail("movement.account", "give movement.accounts or account, not both")
    named = [("movement.account", movement.account)] if movement.account else []
    named += [(f"movement.accounts[{i}]", n) for i, n in enumerate(movement.accounts)]
    for key, name in named:
        own = channels.get(name)
        if own is None or own.kind not in MOVEMENT_KINDS:
            readers = [n for n, s in channels.items() if s.kind in MOVEMENT_KINDS]
            raise loader.fail(
                key,
                f"no Mastodon or Bluesky account {name!r} is configured "
                f"(configured: {', '.join(readers) or 'none'})",
            )
    seen: dict[str, int] = {}
    for i, tag in enumerate(movement.hashtags):
        key = f"movement.hashtags[{i}]"
        if not tag.strip():
            raise loader.fail(key, 'is empty; write a tag without "#", e.g. "CrossInnovation"')
        if tag.startswith("#"):
            raise loader.fail(key, f'write the tag without "#": {tag.lstrip("#")!r}')
        if not _HASHTAG.fullmatch(tag) or tag.isdigit():
            raise loader.fail(
                key, f"{tag!r} is not a hashtag (letters, digits and _ only, not only digits)"
            )
        if tag.lower() in seen:
            raise loader.fail(
                key, f"{tag!r} is already movement.hashtags[{seen[tag.lower()]}] (tags ignore case)"
            )
        seen[tag.lower()] = i
    if not 1 <= movement.page_size <= 40:
        raise loader.fail("movement.page_size", "must be from 1 to 40 (Mastodon's maximum)")
    if movement.max_pages < 1:
        raise loader.fail("movement.max_pages", "must be 1 or more")
    if not 1 <= movement.requests_per_run <= MAX_MOVEMENT_REQUESTS:
        raise loader.fail(
            "movement.requests_per_run",
            f"must be from 1 to {MAX_MOVEMENT_REQUESTS}: Mastodon allows an account 300 "
            "requests per 5 minutes, and posting needs the rest",
        )
    if movement.refresh_days < 0:
        raise loader.fail("movement.refresh_days", "must be 0 or more")
    return movement


def check_feed_url(url: str) -> str:
    """The URL if it can be fetched as a feed (http or https with a host), else ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise ValueError(Message(N_("%(url)s is not an http(s) URL"), url=repr(url)))
    return url


def _check_slots(loader: _Builder, channels: dict[str, ChannelSettings]) -> None:
    from commsbot.slots import parse_slot

    for name, settings in channels.items():
        for i, text in enumerate(settings.slots):
            try:
                parse_slot(text)
            except ValueError as exc:
                raise loader.fail(f"channels.{name}.slots[{i}]", str(exc)) from None


# An account's name is a key in TOML, a folder of templates and a word on the command line.
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


@functools.cache
def network_reference() -> tuple[list[str], list[str]]:
    """The slugs of the network's cities and themes (its packaged reference data)."""
    import json

    # Read as a file: importing commsbot.content from here would break the layers.
    sample = PACKAGE_DIR / "content" / "sample" / "network.json"
    data = json.loads(sample.read_text(encoding="utf-8"))
    return [c["slug"] for c in data["cities"]], [t["slug"] for t in data["themes"]]


def _check_accounts(
    loader: _Builder, channels: dict[str, ChannelSettings], posting: PostingConfig, store: Path
) -> None:
    """Names, identities and filters of the accounts, each problem naming its key."""
    from commsbot.channels import channel_class

    seen: dict[str, str] = {}
    identities: dict[tuple[object, ...], str] = {}
    for name, settings in channels.items():
        key = f"channels.{name}"
        if not _ACCOUNT_NAME.fullmatch(name):
            raise loader.fail(key, "a channel name is letters, digits, - and _ only")
        if name.lower() in seen:
            raise loader.fail(
                key, f"the same name as channels.{seen[name.lower()]} (names ignore case)"
            )
        seen[name.lower()] = name
        fields = channel_class(settings.kind).account_keys
        if fields:
            identity = (settings.kind, *(getattr(settings, f) for f in fields))
            if identity in identities:
                shown = " and ".join(toml_key(f) for f in fields)
                raise loader.fail(
                    f"{key}.{toml_key(fields[0])}",
                    f"the same {shown} as channels.{identities[identity]}: two accounts "
                    "would be one; give each its own",
                )
            identities[identity] = name
        _check_filters(loader, key, settings, posting, store)


def _check_filters(
    loader: _Builder, key: str, settings: ChannelSettings, posting: PostingConfig, store: Path
) -> None:
    from commsbot.store.content import stored_reference

    known: dict[str, list[str]] = {"content_types": [*posting.content_types, "announcement"]}
    where = ""
    if settings.cities or settings.themes:
        # The network's cities and themes, and those imported into the store since (#16).
        network, stored = network_reference(), stored_reference(store)
        known["cities"] = sorted({*network[0], *stored[0]})
        known["themes"] = sorted({*network[1], *stored[1]})
        where = f" in the network or the store {store}"
    for field_name, choices in known.items():
        for i, value in enumerate(getattr(settings, field_name)):
            if value not in choices:
                found = where if field_name != "content_types" else ""
                raise loader.fail(
                    f"{key}.{field_name}[{i}]",
                    f"unknown: {value!r}, no such slug{found} (known: {', '.join(choices)})",
                )
    for i, language in enumerate(settings.languages):
        if not _LANGUAGE.fullmatch(language):
            raise loader.fail(
                f"{key}.languages[{i}]", f'{language!r} is not a language code such as "pl"'
            )
    for i, url in enumerate(settings.feeds):
        try:
            check_feed_url(url)
        except ValueError as exc:
            raise loader.fail(f"{key}.feeds[{i}]", str(exc)) from None


def _check_approval(
    loader: _Builder,
    approval: ApprovalConfig,
    posting: PostingConfig,
    channels: dict[str, ChannelSettings],
) -> None:
    types = (*posting.content_types, "announcement")

    def check_types(rules: dict[str, Approval], where: str) -> None:
        for item_type in rules:
            if item_type not in types:
                raise loader.fail(
                    f"{where}.{item_type}", f"unknown content type (known: {', '.join(types)})"
                )

    check_types(approval.types, "approval.types")
    for name, own in approval.channels.items():
        names.channel(loader.fail, f"approval.channels.{name}", name, channels)
        check_types(own.types, f"approval.channels.{name}.types")


def toml_key(name: str) -> str:
    """The config key of a field: one named like a Python keyword drops its underscore
    (the field ``from_`` is the key ``from``)."""
    bare = name[:-1]
    return bare if name.endswith("_") and keyword.iskeyword(bare) else name


class _Builder:
    """Builds dataclasses from TOML tables, checking keys and types; paths made absolute."""

    def __init__(self, file: Path, base: Path) -> None:
        self.file = file
        self.base = base

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.file}: {key}: {message}")

    def build(self, cls: type[T], data: Any, where: str) -> T:
        if not isinstance(data, dict):
            raise self.fail(where, f"must be a table, not {_kind(data)}")
        hints = typing.get_type_hints(cls)
        fields = {toml_key(f.name): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for key in data:
            if key not in fields:
                raise self.fail(
                    f"{where}.{key}", f"unknown key (known: {', '.join(sorted(fields))})"
                )
        for name, f in fields.items():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and name not in data:
                raise self.fail(f"{where}.{name}", "is required")
        values = {
            fields[key].name: self.convert(hints[fields[key].name], value, f"{where}.{key}")
            for key, value in data.items()
        }
        # Defaults that are paths are relative to the config file too.
        for f in fields.values():
            if f.name not in values and isinstance(f.default, Path):
                values[f.name] = self.base / f.default
        return cls(**values)

    def convert(self, hint: Any, value: Any, key: str) -> Any:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            # The first member that takes the value: chat_id = -100123 or "@channel".
            for member in inner[:-1]:
                try:
                    return self.convert(member, value, key)
                except ConfigError:
                    continue
            try:
                return self.convert(inner[-1], value, key)
            except ConfigError:
                if len(inner) == 1:
                    raise
            wanted = " or ".join(_WANTED.get(m, str(m)) for m in inner)
            raise self.fail(key, f"must be {wanted}, not {_kind(value)}") from None
        if origin is Literal:
            if value not in args:
                choices = " | ".join(str(a) for a in args)
                raise self.fail(key, f"must be one of {choices}, not {value!r}")
            return value
        if origin in (list, tuple):
            if not isinstance(value, list):
                raise self.fail(key, f"must be a list, not {_kind(value)}")
            item = args[0]
            items = [self.convert(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
        if origin is dict:
            if not isinstance(value, dict):
                raise self.fail(key, f"must be a table, not {_kind(value)}")
            return {k: self.convert(args[1], v, f"{key}.{k}") for k, v in value.items()}
        if dataclasses.is_dataclass(hint):
            return self.build(hint, value, key)  # type: ignore[arg-type]
        if hint is Path:
            if not isinstance(value, str) or not value:
                raise self.fail(key, f"must be a path string, not {_kind(value)}")
            return self.base / Path(value).expanduser()
        if hint is bool:
            if not isinstance(value, bool):
                raise self.fail(key, f"must be true or false, not {_kind(value)}")
            return value
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(key, f"must be an integer, not {_kind(value)}")
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(key, f"must be a number, not {_kind(value)}")
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                raise self.fail(key, f"must be a string, not {_kind(value)}")
            if key.endswith("_env") and not value.replace("_", "").isalnum():
                raise self.fail(key, f"must name an environment variable, not {value!r}")
            return value
        raise self.fail(key, f"unsupported type {hint!r}")  # a bug in a settings class


_WANTED = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def as_dict(config: Config) -> dict[str, Any]:
    """The effective config as plain data, for ``config show`` (holds no secrets)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {
                toml_key(f.name): plain(getattr(value, f.name)) for f in dataclasses.fields(value)
            }
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    data = plain(config)
    data.pop("file")
    return typing.cast(dict[str, Any], data)
