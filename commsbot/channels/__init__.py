"""The channel registry: built-in channels register the way any other would.

Adding a channel is one module defining a ``Channel`` subclass plus one line here.
Modules are imported on demand so that ``commsbot --help`` stays fast.
"""

from __future__ import annotations

import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commsbot.channels.base import Channel, ChannelSettings

REGISTRY: dict[str, str] = {
    "outbox": "commsbot.channels.outbox:OutboxChannel",
    "mastodon": "commsbot.channels.mastodon:MastodonChannel",
    "email": "commsbot.channels.email:EmailChannel",
    "telegram": "commsbot.channels.telegram:TelegramChannel",
    "bluesky": "commsbot.channels.bluesky:BlueskyChannel",
}


def channel_names() -> list[str]:
    return list(REGISTRY)


def channel_class(name: str) -> type[Channel]:
    cls: type[Channel] = pkgutil.resolve_name(REGISTRY[name])
    return cls


def settings_class(name: str) -> type[ChannelSettings] | None:
    if name not in REGISTRY:
        return None
    return channel_class(name).Settings
