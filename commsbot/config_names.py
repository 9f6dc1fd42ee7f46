"""The names a config may use, checked when it loads: one function per kind of name
(content type, channel, city, theme, language, a host allowed to feeds).

Each takes the config's ``fail(key, message)`` and the dotted key, and either returns the
name (a city or theme as its slug) or raises with the known values, so that a typo such as
``content_types = ["practise"]`` stops the start instead of every publish run.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from functools import cache

from commsbot.errors import ConfigError

Fail = Callable[[str, str], ConfigError]

# The network's ten languages (ISO 639-1), which posts, digests and replies are written in.
LANGUAGES = ("en", "nl", "it", "de", "et", "pl", "lt", "sv", "pt", "cs")
# The content types (commsbot.content.types, a layer above, defines them; a test keeps the
# two the same).
CONTENT_TYPES = ("practice", "event", "newsletter", "news")
# A host name as the operator would write it (letters, digits, hyphens, dots).
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_][a-z0-9_-]{0,62})*\.?$"
)


def _unknown(fail: Fail, key: str, what: str, value: object, known: Iterable[str]) -> ConfigError:
    names = list(known)
    near = difflib.get_close_matches(str(value).lower(), names, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return fail(key, f"unknown {what} {value!r}{hint} (known: {', '.join(names) or 'none'})")


def content_type(fail: Fail, key: str, value: str, *, announcement: bool = False) -> str:
    """A content type (``announcement`` too where a rule may name free-form posts)."""
    known = [*CONTENT_TYPES, *(["announcement"] if announcement else [])]
    if value not in known:
        raise _unknown(fail, key, "content type", value, known)
    return value


def channel(fail: Fail, key: str, value: str, configured: Iterable[str]) -> str:
    """A channel configured in ``[channels]``."""
    names = sorted(configured)
    if value not in names:
        raise _unknown(fail, key, "channel", value, names)
    return value


def language(fail: Fail, key: str, value: str) -> str:
    """One of the network's languages."""
    if value not in LANGUAGES:
        raise _unknown(fail, key, "language", value, LANGUAGES)
    return value


def private_host(fail: Fail, key: str, entry: str) -> str:
    """A host feeds may reach on a private network: a name, an IP address or a network."""
    try:
        ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        if not _HOST.match(entry.lower()):
            raise fail(
                key,
                f"{entry!r} is not a host name, an IP address or a network such as 10.0.0.0/8",
            ) from None
    return entry


def city(fail: Fail, key: str, value: str) -> str:
    """A partner city by slug, name or local name (``Plzeň``, ``plzen``); returns the slug."""
    return _place(fail, key, value, "city", "cities")


def theme(fail: Fail, key: str, value: str) -> str:
    """A theme by slug or name; returns the slug."""
    return _place(fail, key, value, "theme", "themes")


def _place(fail: Fail, key: str, value: str, what: str, table: str) -> str:
    for slug, names in _reference()[table].items():
        if value.strip().lower() in names:
            return slug
    raise _unknown(fail, key, what, value, sorted(_reference()[table]))


@cache
def _reference() -> dict[str, dict[str, set[str]]]:
    """Slug -> the lower-cased names it goes by, from the network's reference data."""
    # Here, not at the top: importlib.resources is ~10 M instructions of a run whose
    # config names no city or theme (#15).
    from importlib import resources

    text = resources.files("commsbot.content.sample").joinpath("network.json").read_text("utf-8")
    data = json.loads(text)
    return {
        table: {
            row["slug"]: {str(row[k]).lower() for k in ("slug", "name", "local_name") if row.get(k)}
            for row in data[table]
        }
        for table in ("cities", "themes")
    }
