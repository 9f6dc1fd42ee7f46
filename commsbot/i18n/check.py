"""The catalogs against the sources: every message translated in every language, with the
same placeholders and markup and every plural form; and the catalog template (``.pot``)
and the packaged ``.po`` files brought up to date (``make catalogs``).

Messages are what Babel extracts from the templates (Jinja2's ``_``, ``gettext``,
``ngettext`` and ``{% trans %}``) and from the package's Python (``N_``, ``gettext``,
``ngettext`` calls), the packaged templates and the user's alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from commsbot.i18n import DEFAULT, LANGUAGES

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog
    from babel.messages.catalog import Message as Message_
from commsbot.i18n.catalogs import DOMAIN, PACKAGED, catalog_path, packaged_catalog, read_catalog

PACKAGE = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2), "NP_": (1, 2)}
TEMPLATE_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
_PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[sd]")
# The tags of Telegram's HTML and the e-mail templates a message may carry ("<b>", "<code>").
_TAG_RE = re.compile(r"</?(a|b|i|u|s|em|strong|code|pre|blockquote|span)\b")

Msgid = str | tuple[str, str]


@dataclass(frozen=True)
class Message:
    id: Msgid
    where: str  # file:line of its first use

    @property
    def key(self) -> str:
        return self.id if isinstance(self.id, str) else self.id[0]


def _extract(folder: Path, patterns: list[tuple[str, str]]) -> Iterator[Message]:
    from babel.messages.extract import extract_from_dir

    options = {pattern: TEMPLATE_OPTIONS for pattern, method in patterns if method != "python"}
    for name, line, msgid, _comments, _context in extract_from_dir(
        str(folder), method_map=patterns, options_map=options, keywords=KEYWORDS
    ):
        if isinstance(msgid, tuple):  # ngettext: (singular, plural); gettext gives a str
            msgid = (msgid[0], msgid[1])
        if msgid:
            yield Message(msgid, f"{folder / name}:{line}")


def source_messages(user_folder: Path | None = None) -> dict[str, Message]:
    """Every message the package and the templates (the user's too) use, by msgid."""
    from commsbot.config import packaged_path

    found: dict[str, Message] = {}
    sources = [
        (PACKAGE, [("**.py", "python")]),
        (packaged_path("templates"), [("**.j2", "jinja2")]),
    ]
    if user_folder is not None and user_folder.is_dir():
        sources.append((user_folder, [("**.j2", "jinja2")]))
    for folder, patterns in sources:
        for message in _extract(folder, patterns):
            found.setdefault(message.key, message)
    return found


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER_RE.findall(text))


def _tags(text: str) -> list[str]:
    return sorted(_TAG_RE.findall(text))


def check_catalogs(user_folder: Path | None = None) -> tuple[list[str], int]:
    """Problems with the catalogs (one line each, naming the catalog and the message), and
    how many translations were checked."""
    messages = source_messages(user_folder)
    problems: list[str] = []
    checked = 0
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        catalogs: list[tuple[Path, Catalog]] = []
        for path in [
            *([catalog_path(user_folder, language)] if user_folder is not None else []),
            packaged_catalog(language),
        ]:
            if path.is_file():
                catalogs.append((path, read_catalog(path, language)))
        if not catalogs:
            problems.append(f"{language}: no catalog (looked for {packaged_catalog(language)})")
            continue
        for key, message in messages.items():
            checked += 1
            found = _first_translation(catalogs, key)
            label = f"{catalogs[-1][0]}: {key!r} (used at {message.where})"
            if found is None:
                problems.append(f"{label}: not translated")
                continue
            path, entry = found
            label = f"{path}: {key!r}"
            string = entry.string or ""
            problems.extend(f"{label}: {p}" for p in _compare(message.id, string, language))
    return problems, checked


def _first_translation(
    catalogs: list[tuple[Path, Catalog]], key: str
) -> tuple[Path, Message_] | None:
    """The catalog that serves a message (the user's before the packaged one), and its entry."""
    for path, catalog in catalogs:
        entry = catalog.get(key)
        if entry is not None and entry.string and _translated(entry.string) and not entry.fuzzy:
            return path, entry
    return None


def _translated(string: str | tuple[str, ...] | list[str]) -> bool:
    if isinstance(string, str):
        return bool(string.strip())
    return bool(string) and all(s.strip() for s in string)


def _compare(msgid: Msgid, string: str | tuple[str, ...] | list[str], language: str) -> list[str]:
    """What a translation gets wrong against its message: forms, placeholders, markup."""
    from babel.messages.catalog import Catalog

    problems = []
    if isinstance(msgid, str):
        forms = [string] if isinstance(string, str) else list(string)
        wanted = 1
        source = msgid
    else:
        forms = [string] if isinstance(string, str) else list(string)
        wanted = Catalog(locale=language).num_plurals
        source = msgid[1]
    if len(forms) != wanted:
        problems.append(f"has {len(forms)} plural forms, {language} needs {wanted}")
    for n, form in enumerate(forms):
        where = f"form {n}: " if len(forms) > 1 else ""
        # A form may leave out the count ("jedna praktyka"), never invent or drop a name.
        names, expected = _placeholders(form), _placeholders(source)
        if names - expected:
            problems.append(f"{where}unknown placeholder %({sorted(names - expected)[0]})s")
        missing = (expected - {"num"}) - names if not isinstance(msgid, str) else expected - names
        if missing:
            problems.append(f"{where}placeholder %({sorted(missing)[0]})s is missing")
        if _tags(form) != _tags(source):
            problems.append(f"{where}markup differs from the message ({' '.join(_tags(source))})")
    return problems


def update_catalogs() -> list[Path]:
    """Write the catalog template and merge it into every packaged catalog (new messages
    empty, gone ones kept as obsolete); returns the files written."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    template = Catalog(domain=DOMAIN, project="commsbot", charset="utf-8")
    for message in source_messages().values():
        source, _, line = message.where.rpartition(":")
        template.add(
            message.id, locations=[(str(Path(source).relative_to(PACKAGE.parent)), int(line))]
        )
    written = [PACKAGED / f"{DOMAIN}.pot"]
    with written[0].open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=True, width=100)
    for language in LANGUAGES:
        path = packaged_catalog(language)
        if language == DEFAULT or not path.is_file():
            continue
        catalog = read_catalog(path, language)
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, sort_output=True, width=100)
        written.append(path)
    return written


if __name__ == "__main__":  # make catalogs
    for written in update_catalogs():
        print(written)
