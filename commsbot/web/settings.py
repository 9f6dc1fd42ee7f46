"""The admin's settings page: the config as loaded, read-only (#17).

The config file stays the source of truth; this shows what the running console read
from it. A secret is shown as the environment variable that holds it and whether that
is set, never its value; the store's location is not shown at all, and other paths only
relative to the config's folder.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from commsbot.config import Config

# The store's location is left out: a page never says where the data lives.
HIDDEN = {("store", "path")}


@dataclasses.dataclass(frozen=True)
class Setting:
    key: str
    value: str
    secret: bool = False  # value is the variable's name; ``is_set`` says whether it is set
    is_set: bool = False


def sections(config: Config) -> list[tuple[str, list[Setting]]]:
    """The config's sections in file order, each with its settings as shown."""
    folder = config.file.parent
    found: list[tuple[str, list[Setting]]] = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name == "file":
            continue
        if f.name == "channels":
            for name, settings in value.items():
                found.append((f"channels.{name}", _settings(settings, "channels", folder)))
        elif f.name == "feeds":
            for i, feed in enumerate(value):
                found.append((f"feeds[{i}]", _settings(feed, "feeds", folder)))
        else:
            found.append((f.name, _settings(value, f.name, folder)))
    return found


def _settings(obj: Any, section: str, folder: Path) -> list[Setting]:
    shown = []
    for f in dataclasses.fields(obj):
        if (section, f.name) in HIDDEN:
            continue
        value = getattr(obj, f.name)
        if f.name.endswith("_env"):
            shown.append(Setting(f.name, value or "", True, bool(value and os.environ.get(value))))
        else:
            shown.append(Setting(f.name, _shown(value, folder)))
    return shown


def _shown(value: Any, folder: Path) -> str:
    if isinstance(value, Path):
        return _path(value, folder)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return ", ".join(
            f"{f.name} = {_shown(getattr(value, f.name), folder)}"
            for f in dataclasses.fields(value)
        )
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_shown(v, folder)}" for k, v in value.items()) or "(none)"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_shown(v, folder) for v in value) or "(none)"
    if value is None:
        return "(not set)"
    return str(value)


def _path(path: Path, folder: Path) -> str:
    """A path relative to the config's folder; one elsewhere by its last part only."""
    try:
        return str(path.resolve().relative_to(folder.resolve())) or "."
    except ValueError:
        return f"…/{path.name}"
