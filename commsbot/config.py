"""TOML configuration -> frozen, validated dataclasses.

Every error names the file and the dotted key. Secrets never live in the file:
keys ending in ``_env`` name environment variables, read only when a channel needs them.
"""

from __future__ import annotations

import dataclasses
import keyword
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commsbot.errors import ConfigError

T = TypeVar("T")

ENV_CONFIG = "COMMSBOT_CONFIG"
PACKAGE_DIR = Path(__file__).resolve().parent


def packaged_path(name: str) -> Path:
    """A file or folder shipped with commsbot (inside the wheel, or the source checkout)."""
    inside = PACKAGE_DIR / name
    return inside if inside.exists() else PACKAGE_DIR.parent / name


@dataclass(frozen=True)
class ChannelSettings:
    """Keys every channel section accepts; channels subclass this with their own."""

    enabled: bool = False
    # Query parameters added to every link this channel posts, e.g. {utm_source = "mastodon"}.
    utm: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreConfig:
    path: Path = Path("commsbot.db")


@dataclass(frozen=True)
class ServiceConfig:
    timezone: str = "Europe/Brussels"
    schedules: Path = Path("schedules")
    templates: Path | None = None


@dataclass(frozen=True)
class PostingConfig:
    """How dispatch retries: attempts before a post is failed, and the first backoff."""

    max_attempts: int = 5
    retry_backoff_seconds: int = 60
    content_types: tuple[str, ...] = ("practice", "event", "newsletter", "news")


@dataclass(frozen=True)
class DigestConfig:
    """Partner digests: their title, how many items per section, and whether to send
    a digest that has nothing new (by default nothing new means nothing sent)."""

    title: str = "Cross-Innovation digest"
    send_empty: bool = False
    max_items: int = 10


@dataclass(frozen=True)
class Config:
    file: Path
    store: StoreConfig
    service: ServiceConfig
    posting: PostingConfig
    channels: dict[str, ChannelSettings]
    digest: DigestConfig = field(default_factory=DigestConfig)

    @property
    def enabled_channels(self) -> list[str]:
        return [name for name, s in self.channels.items() if s.enabled]

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


def read_secret(env_name: str, key: str) -> str:
    """The value of the environment variable a ``*_env`` key names; never logged."""
    value = os.environ.get(env_name, "")
    if not value:
        raise ConfigError(f"{key} names the environment variable {env_name}, which is not set")
    return value


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
    loader = _Builder(path, base)
    known = {"store", "service", "posting", "channels", "digest"}
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
        cls = settings_class(name)
        if cls is None:
            from commsbot.channels import channel_names

            raise ConfigError(
                f"{path}: unknown channel [channels.{name}] (known: {', '.join(channel_names())})"
            )
        channels[name] = loader.build(cls, section, f"channels.{name}")
    service = loader.build(ServiceConfig, raw.get("service", {}), "service")
    try:
        ZoneInfo(service.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{path}: service.timezone: unknown time zone {service.timezone!r}"
        ) from None
    digest = loader.build(DigestConfig, raw.get("digest", {}), "digest")
    if digest.max_items < 1:
        raise ConfigError(f"{path}: digest.max_items: must be at least 1, not {digest.max_items}")
    return Config(
        file=path,
        store=loader.build(StoreConfig, raw.get("store", {}), "store"),
        service=service,
        posting=loader.build(PostingConfig, raw.get("posting", {}), "posting"),
        channels=channels,
        digest=digest,
    )


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
            return self.convert(inner[0], value, key)
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
