"""Items in other languages: adding translations, reading them from import rows, and an
item as a reader of one language sees it.

An item keeps its original text and ``language``; a translation holds only the fields
that were translated, so an untranslated field shows the original.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commsbot.content.types import TRANSLATED_FIELDS, ContentType, item_named, not_found
from commsbot.errors import N_, ContentError, Message
from commsbot.i18n import LANGUAGES
from commsbot.store import Store
from commsbot.store import content as q
from commsbot.store import translations as translations_q

# A flat column such as ``title_pl`` in a CSV (or JSON) row.
_FLAT_RE = re.compile(r"^([a-z_]+)_([a-z]{2})$")


def clean_fields(
    ctype: ContentType, language: str, fields: Mapping[str, Any], where: str
) -> tuple[str, dict[str, str]]:
    """A translation's language and text fields, checked, or a ContentError naming where."""
    allowed = TRANSLATED_FIELDS.get(ctype.name, ())
    lang = str(language).strip().lower()
    if lang not in LANGUAGES:
        raise ContentError(
            N_("%(what)s: unknown language %(code)s (known: %(known)s)"),
            what=where,
            code=repr(language),
            known=", ".join(LANGUAGES),
        )
    clean: dict[str, str] = {}
    for name, value in fields.items():
        if name not in allowed:
            raise ContentError(
                N_(
                    "%(where)s: %(language)s: a %(type)s's translation has no field %(field)s "
                    "(fields: %(fields)s)"
                ),
                where=where,
                language=lang,
                type=Message(ctype.name),
                field=repr(name),
                fields=", ".join(allowed),
            )
        if value is None:
            continue
        if not isinstance(value, str):
            raise ContentError(
                N_("%(where)s: %(language)s: %(field)s must be text"),
                where=where,
                language=lang,
                field=name,
            )
        if value.strip():
            clean[name] = value.strip()
    if not clean:
        raise ContentError(
            N_("%(where)s: %(language)s: nothing to translate (give %(fields)s)"),
            where=where,
            language=lang,
            fields=", ".join(allowed),
        )
    return lang, clean


def translate(
    store: Store,
    ctype: ContentType,
    slug: str,
    language: str,
    fields: Mapping[str, Any],
    now: datetime,
    *,
    sample: bool = False,
) -> dict[str, dict[str, Any]]:
    """Add or change an item's translation into a language; returns all its translations."""
    item = q.get_item(store, ctype.name, slug)
    if item is None:
        raise not_found(ctype, slug)
    lang, clean = clean_fields(ctype, language, fields, item_named(ctype, slug))
    if lang == item.get("language", "en"):
        raise ContentError(
            N_("%(where)s: %(language)s is its original language; edit the item instead"),
            where=item_named(ctype, slug),
            language=lang,
        )
    translations_q.put_translation(store, ctype.name, item["id"], lang, clean, now, sample=sample)
    return translations_q.of_item(store, ctype.name, item["id"])


def translations_of(store: Store, ctype: ContentType, item_id: int) -> dict[str, dict[str, Any]]:
    """An item's translations by language."""
    return translations_q.of_item(store, ctype.name, item_id)


def remove_translation(store: Store, ctype: ContentType, slug: str, language: str) -> None:
    """Remove an item's translation into a language; an error names what is missing."""
    item = q.get_item(store, ctype.name, slug)
    if item is None:
        raise not_found(ctype, slug)
    if not translations_q.remove_translation(store, ctype.name, item["id"], language):
        raise ContentError(
            N_("%(where)s has no %(language)s translation"),
            where=item_named(ctype, slug),
            language=language,
        )


def split_row(
    ctype: ContentType, data: dict[str, Any], where: str
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """(the item's own fields, its translations) from an import row: a JSON ``translations``
    object ({"pl": {"title": …}}) and flat ``title_pl``-style columns."""
    own = dict(data)
    found: dict[str, dict[str, str]] = {}
    nested = own.pop("translations", None)
    if nested is not None:
        if not isinstance(nested, dict) or not all(isinstance(v, dict) for v in nested.values()):
            raise ContentError(
                N_("%(where)s: translations must map languages to fields"), where=where
            )
        for lang, fields in nested.items():
            inside = Message(N_("%(where)s: translations"), where=where)
            code, clean = clean_fields(ctype, lang, fields, inside)
            found.setdefault(code, {}).update(clean)
    allowed = TRANSLATED_FIELDS.get(ctype.name, ())
    for key in list(own):
        match = _FLAT_RE.match(key)
        if match and match.group(1) in allowed and match.group(2) in LANGUAGES:
            value = own.pop(key)
            if value:
                code, clean = clean_fields(ctype, match.group(2), {match.group(1): value}, where)
                found.setdefault(code, {}).update(clean)
    return own, found


def localized(
    item: dict[str, Any], translations: Mapping[str, Mapping[str, Any]], language: str
) -> dict[str, Any] | None:
    """The item as a reader of ``language`` sees it (its translated fields over the original,
    ``language`` set, ``original_language`` kept), or None when it has no such translation."""
    original = item.get("language", "en")
    if language == original:
        return {**item, "original_language": original}
    fields = translations.get(language)
    if not fields:
        return None
    text = {k: v for k, v in fields.items() if k != "sample"}
    return {**item, **text, "language": language, "original_language": original}


def for_reader(
    item: dict[str, Any], translations: Mapping[str, Mapping[str, Any]], language: str
) -> dict[str, Any]:
    """The item in ``language`` where it has that translation, else in its original."""
    return localized(item, translations, language) or {
        **item,
        "original_language": item.get("language", "en"),
    }


# Not frozen: one is built for each post planned, and a frozen dataclass sets each field
# through object.__setattr__ (#15). Nothing changes one once built.
@dataclass
class Version:
    """Which version of an item an account posts: ``item`` in ``language``; ``hold`` says
    why it waits for approval."""

    item: dict[str, Any]
    language: str
    hold: str | None = None


def version_for(
    item: dict[str, Any],
    translations: Mapping[str, Mapping[str, Any]],
    wanted: Sequence[str],
    missing: str,
) -> Version:
    """The version for an account that posts in ``wanted`` languages: the first of them the
    item is written or translated in; else the original, held for approval when ``missing``
    is "approve". (With "skip" the account's filter has kept such an item out already.)

    An item with no language (a feed that names none) is in none of ``wanted``: it is
    treated as one without a translation, and its original goes untagged (#16)."""
    original = item.get("language")
    for language in wanted:
        shown = localized(item, translations, language)
        if shown is not None:
            return Version(shown, language)
    hold = None
    wanted_text = ", ".join(wanted)
    if missing == "approve":
        # Short enough for ``queue pending``; the item is named by the post's own columns.
        hold = (
            f"no translation into {wanted_text}: approve to post the original ({original})"
            if original
            else f"no language and no translation into {wanted_text}: approve to post it as it is"
        )
    # Its fixed words (dates, "participants") in English when it names no language.
    return Version(for_reader(item, {}, original or "en"), original or "en", hold)
