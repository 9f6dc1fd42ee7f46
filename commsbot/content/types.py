"""The content types (practices, events, newsletters, news) and their fields.

Kept free of heavy imports: the CLI builds its commands from these at start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from commsbot.errors import N_, ContentError, Message

Kind = Literal["text", "slug", "url", "date", "int", "list", "city", "theme", "choice", "bool"]
SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
EVENT_KINDS = (
    "study-visit",
    "policy-clinic",
    "general-meeting",
    "workshop",
    "conference",
    "dissemination",
)
STATUSES = ("published", "draft")


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = "text"
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None


@dataclass(frozen=True)
class ContentType:
    name: str
    plural: str
    fields: tuple[Field, ...]
    title_field: str = "title"
    cli: bool = True

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


_STATUS = Field(
    "status", "choice", choices=STATUSES, default="published", help="published or draft"
)

TYPES: dict[str, ContentType] = {
    t.name: t
    for t in (
        ContentType(
            "practice",
            "practices",
            (
                Field("slug", "slug", help="identifier; made from the title when left out"),
                Field("title", required=True),
                Field("city", "city", required=True, help="city slug or name"),
                Field("theme", "theme", required=True, help="theme slug or name"),
                Field("summary", default=""),
                Field("body", default=""),
                Field("url", "url"),
                Field("creative_sectors", "list", default=[]),
                Field("beneficiary_sectors", "list", default=[]),
                Field("tags", "list", default=[]),
                Field("language", default="en"),
                Field("image", help="local path or URL of an image"),
                Field(
                    "images",
                    "list",
                    default=[],
                    help="further images after image (Bluesky shows up to 4 in all)",
                ),
                _STATUS,
                Field("example", "bool", default=False, help="invented sample content"),
            ),
        ),
        ContentType(
            "event",
            "events",
            (
                Field("slug", "slug"),
                Field("title", required=True),
                Field("kind", "choice", required=True, choices=EVENT_KINDS),
                Field("city", "city"),
                Field("start_date", "date", required=True, help="YYYY-MM-DD"),
                Field("end_date", "date", help="YYYY-MM-DD; the start date when left out"),
                Field("participants", "int"),
                Field("outcome", default=""),
                Field("url", "url"),
                _STATUS,
            ),
        ),
        ContentType(
            "newsletter",
            "newsletters",
            (
                Field("slug", "slug"),
                Field("title", required=True),
                Field("number", "int"),
                Field("published", "date", required=True, help="YYYY-MM-DD"),
                Field("summary", default=""),
                Field("url", "url"),
                Field("body", default=""),
                Field("language", help="ISO 639-1 code, e.g. pl; none: the channel's"),
                Field("tags", "list", default=[]),
                _STATUS,
            ),
        ),
        ContentType(
            "news",
            "news",
            (
                Field("slug", "slug"),
                Field("guid", required=True),
                Field("title", default=""),
                Field("link", "url"),
                Field("summary", default=""),
                Field("published"),
                Field("feed_url"),
                Field("city", "city"),
                Field("theme", "theme"),
                Field("language"),
                Field("tags", "list", default=[]),
                _STATUS,
            ),
            cli=False,
        ),
    )
}
PLURALS = {t.plural: t.name for t in TYPES.values()}

# The text fields each type's translations may carry (an item keeps its original language
# in ``language``; practices' image alt text exists only in translations and posts).
TRANSLATED_FIELDS: dict[str, tuple[str, ...]] = {
    "practice": ("title", "summary", "body", "image_alt"),
    "event": ("title", "outcome"),
    "newsletter": ("title", "summary", "body"),
    "news": ("title", "summary"),
}


def content_type(name: str) -> ContentType:
    key = PLURALS.get(name, name)
    if key not in TYPES:
        raise ContentError(
            N_("unknown content type %(name)s (known: %(known)s)"),
            name=repr(name),
            known=", ".join(TYPES),
        )
    return TYPES[key]


def item_named(ctype: ContentType, slug: str) -> Message:
    """An item as errors name it: "practice 'slug'", its type in the reader's language."""
    return Message(N_("%(type)s %(slug)s"), type=Message(ctype.name), slug=repr(slug))


def not_found(ctype: ContentType, slug: str) -> ContentError:
    """The error for a slug no item of a type has."""
    return ContentError(
        N_("no %(type)s with slug %(slug)s"), type=Message(ctype.name), slug=repr(slug)
    )
