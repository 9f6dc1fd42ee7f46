"""The channel registry: built-in channel kinds register the way any other would.

Adding a kind is one module defining a ``Channel`` subclass plus one line here (the
contract it keeps is in ``commsbot.channels.base``). Modules are imported on demand so
that ``commsbot --help`` stays fast.
"""

from __future__ import annotations

import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commsbot.channels.base import Channel, ChannelSettings
    from commsbot.config import Config

REGISTRY: dict[str, str] = {
    "outbox": "commsbot.channels.outbox:OutboxChannel",
    "mastodon": "commsbot.channels.mastodon:MastodonChannel",
    "email": "commsbot.channels.email:EmailChannel",
    "telegram": "commsbot.channels.telegram:TelegramChannel",
}


def channel_names() -> list[str]:
    """The registered kinds."""
    return list(REGISTRY)


def channel_class(kind: str) -> type[Channel]:
    """The ``Channel`` subclass of a registered kind."""
    cls: type[Channel] = pkgutil.resolve_name(REGISTRY[kind])
    return cls


def settings_class(kind: str) -> type[ChannelSettings] | None:
    """The settings dataclass of a kind; None for a kind that is not registered."""
    if kind not in REGISTRY:
        return None
    return channel_class(kind).Settings


def account_class(settings: ChannelSettings) -> type[Channel]:
    """The ``Channel`` subclass of a configured account."""
    return channel_class(settings.kind)


def markup_of(config: Config, name: str) -> str:
    """The markup of an account's posts; a name no longer configured is taken as a kind
    (before accounts, every channel was named so), and "plain" when it is not one."""
    settings = config.channels.get(name)
    kind = settings.kind if settings is not None else name
    return channel_class(kind).markup if kind in REGISTRY else "plain"


def kinds_declaring(declaration: str) -> list[str]:
    """The registered kinds that declare ``declaration``, e.g. ``"sends_direct"``."""
    return [kind for kind in REGISTRY if getattr(channel_class(kind), declaration)]


def accounts_declaring(config: Config, declaration: str, *, enabled: bool = True) -> list[str]:
    """The configured accounts (only the enabled ones, by default) whose kind declares
    ``declaration``, e.g. ``"sends_direct"``: no caller names the kinds that do."""
    return [
        name
        for name, settings in config.channels.items()
        if (settings.enabled or not enabled) and getattr(account_class(settings), declaration)
    ]


def account(name: str, settings: ChannelSettings) -> Channel:
    """The channel instance of one configured account (not opened)."""
    return channel_class(settings.kind or name)(settings, name)
