"""The channel contract, checked for every channel in the registry automatically."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys

import pytest

from commsbot.channels import REGISTRY, channel_class, channel_names
from commsbot.channels.base import Channel, ChannelSettings

HEAVY = ("telegram", "mastodon", "feedparser", "apscheduler", "jinja2", "requests")


@pytest.mark.parametrize("name", channel_names())
def test_channel_declares_itself(name: str) -> None:
    cls = channel_class(name)
    assert issubclass(cls, Channel)
    assert cls.name == name
    assert cls.max_length > 0
    assert cls.rate_per_second > 0
    assert cls.batch_size >= 1
    assert issubclass(cls.Settings, ChannelSettings)
    assert dataclasses.is_dataclass(cls.Settings)
    assert inspect.iscoroutinefunction(cls.send)
    assert inspect.iscoroutinefunction(cls.audience_size)
    assert (cls.__doc__ or "").strip() or (
        getattr(inspect.getmodule(cls), "__doc__", None) or ""
    ).strip()


@pytest.mark.parametrize("name", channel_names())
def test_channel_builds_from_default_settings_without_network_or_secrets(name: str) -> None:
    cls = channel_class(name)
    channel = cls(cls.Settings())  # constructors read no secret and open no connection
    assert channel.limit() > 0
    assert channel.length("Plzeň 🎉") >= 1


@pytest.mark.parametrize("name", channel_names())
def test_channel_module_imports_no_heavy_library(name: str) -> None:
    module = REGISTRY[name].partition(":")[0]
    code = f"import sys, {module}\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} imports {out.stdout.strip()} at import time"
