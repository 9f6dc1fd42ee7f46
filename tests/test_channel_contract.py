"""The channel contract, checked for every channel in the registry automatically."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from commsbot.channels import REGISTRY, channel_class, channel_names
from commsbot.channels.base import Channel, ChannelSettings

HEAVY = ("telegram", "mastodon", "feedparser", "apscheduler", "jinja2", "requests")


@pytest.mark.parametrize("name", channel_names())
def test_channel_declares_itself(name: str) -> None:
    cls = channel_class(name)
    assert issubclass(cls, Channel)
    assert cls.kind == name
    assert cls.markup in ("plain", "html")
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
    assert channel.name == name and channel.key == f"channels.{name}"


@pytest.mark.parametrize("name", channel_names())
def test_an_account_of_the_kind_has_its_own_name(name: str) -> None:
    cls = channel_class(name)
    channel = cls(cls.Settings(kind=name), "tallinn-account")
    assert (channel.name, channel.kind, channel.key) == (
        "tallinn-account",
        name,
        "channels.tallinn-account",
    )


# A declaration says what a kind does; the method it stands for must then be its own, and
# a kind that does not declare it keeps the base class's do-nothing default.
DECLARED_METHODS = {
    "sends_direct": ("send_direct",),
    "polls_engagement": ("engagement_polling", "fetch_engagement"),
    "counts_audience": ("audience_size",),
}


@pytest.mark.parametrize("name", channel_names())
@pytest.mark.parametrize("declaration", sorted(DECLARED_METHODS))
def test_declarations_match_what_the_channel_implements(name: str, declaration: str) -> None:
    cls = channel_class(name)
    declared = getattr(cls, declaration)
    assert isinstance(declared, bool)
    for method in DECLARED_METHODS[declaration]:
        own = getattr(cls, method) is not getattr(Channel, method)
        assert own == declared, f"{name}: {declaration} = {declared} but {method} is " + (
            "its own" if own else "the base class's"
        )


@pytest.mark.parametrize("name", channel_names())
def test_account_keys_are_settings(name: str) -> None:
    cls = channel_class(name)
    fields = {f.name for f in dataclasses.fields(cls.Settings)}
    assert set(cls.account_keys) <= fields
    assert cls.takes_posts or cls.sends_direct  # a kind that does nothing is a mistake


@pytest.mark.parametrize("name", channel_names())
def test_default_settings_pass_their_own_check(name: str) -> None:
    # Checked when the config loads: the defaults must be a valid starting point.
    assert channel_class(name).Settings().check() is None


@pytest.mark.parametrize("name", channel_names())
def test_a_kind_is_an_account_in_the_config(name: str, tmp_path: Path) -> None:
    from commsbot.config import parse_config

    path = tmp_path / "c.toml"
    config = parse_config({"channels": {f"second-{name}": {"kind": name}}}, path)
    assert config.channels[f"second-{name}"].kind == name
    assert isinstance(config.channels[f"second-{name}"], channel_class(name).Settings)


@pytest.mark.parametrize("name", channel_names())
def test_channel_module_imports_no_heavy_library(name: str) -> None:
    module = REGISTRY[name].partition(":")[0]
    code = f"import sys, {module}\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} imports {out.stdout.strip()} at import time"
