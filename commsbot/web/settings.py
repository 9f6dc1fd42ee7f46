"""The admin's settings page: the config as loaded, read-only (#17).

The config file stays the source of truth; this shows what the running console read
from it. A secret is shown as the environment variable that holds it and whether that
is set, never its value; the store's location is not shown at all, and other paths only
relative to the config's folder.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from commsbot.config import Config
from commsbot.errors import N_

# The store's location is left out: a page never says where the data lives.
HIDDEN = {("store", "path")}


@dataclasses.dataclass(frozen=True)
class Setting:
    key: str
    value: str
    secret: bool = False  # value is the variable's name; ``is_set`` says whether it is set
    is_set: bool = False


# A setting with no value, in the admin's language.
NONE = N_("(none)")
NOT_SET = N_("(not set)")
Gettext = Callable[[str], str]


def sections(config: Config, gettext: Gettext) -> list[tuple[str, list[Setting]]]:
    """The config's sections in file order, each with its settings as shown (an empty
    value said by ``gettext``, the page's language)."""
    folder = config.file.parent
    found: list[tuple[str, list[Setting]]] = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name == "file":
            continue
        if f.name == "channels":
            for name, settings in value.items():
                found.append((f"channels.{name}", _settings(settings, "channels", folder, gettext)))
        elif f.name == "feeds":
            for i, feed in enumerate(value):
                found.append((f"feeds[{i}]", _settings(feed, "feeds", folder, gettext)))
        else:
            found.append((f.name, _settings(value, f.name, folder, gettext)))
    return found


def _settings(obj: Any, section: str, folder: Path, gettext: Gettext) -> list[Setting]:
    shown = []
    for f in dataclasses.fields(obj):
        if (section, f.name) in HIDDEN:
            continue
        value = getattr(obj, f.name)
        if f.name.endswith("_env"):
            shown.append(Setting(f.name, value or "", True, bool(value and os.environ.get(value))))
        else:
            shown.append(Setting(f.name, _shown(value, folder, gettext)))
    return shown


def _shown(value: Any, folder: Path, gettext: Gettext) -> str:
    if isinstance(value, Path):
        return _path(value, folder)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return ", ".join(
            f"{f.name} = {_shown(getattr(value, f.name), folder, gettext)}"
            for f in dataclasses.fields(value)
        )
    if isinstance(value, dict):
        shown = ", ".join(f"{k} = {_shown(v, folder, gettext)}" for k, v in value.items())
        return shown or gettext(NONE)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_shown(v, folder, gettext) for v in value) or gettext(NONE)
    if value is None:
        return gettext(NOT_SET)
    return str(value)


def _path(path: Path, folder: Path) -> str:
    """A path relative to the config's folder; one elsewhere by its last part only."""
    try:
        return str(path.resolve().relative_to(folder.resolve())) or "."
    except ValueError:
        return f"…/{path.name}"
