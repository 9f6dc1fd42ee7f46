"""The network's ten languages: gettext catalogs, CLDR plurals, dates and numbers.

One place the CLI, the bot, digests, the report and the console take their words from.
The whole API:

- ``LANGUAGES`` (the ten codes), ``DEFAULT`` ("en"), ``negotiate(code)``: a code as
  Telegram or a user gives it ("pl", "pt-BR", "PL_pl") -> one of ``LANGUAGES``, else "en";
  ``from_accept_language(header)``: the same for a browser's ``Accept-Language``.
- ``speaker(language, user_folder)``: a cached ``Speaker`` with ``gettext``/``ngettext``
  (the language's plural rule), ``date``/``datetime``/``number`` in its CLDR formats,
  and ``language_name`` (a language's name in this one).
- ``install(env, speaker)``: Jinja2's i18n extension on an environment, with ``date``,
  ``datetime``, ``number`` and ``language_name`` filters in that language.

Catalogs are ``commsbot/i18n/locale/<lang>/LC_MESSAGES/commsbot.po``, read and compiled
by Babel when first used (no .mo files to build or keep fresh); a translator overrides
any message with a ``locale/<lang>/LC_MESSAGES/commsbot.po`` in the user's templates
folder. English is the source language: its messages are the msgids themselves.
"""

from __future__ import annotations

import functools
import re
import typing
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commsbot.channels.base import Language
from commsbot.errors import N_ as N_
from commsbot.errors import Message, message_of

if TYPE_CHECKING:
    import gettext

    import babel
    import jinja2

LANGUAGES: tuple[str, ...] = typing.get_args(Language)
DEFAULT = "en"
_CODE_RE = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*$")


def negotiate(code: str | None) -> str:
    """The supported language for a code such as "pl", "pt-BR" or "de_AT"; else English."""
    match = _CODE_RE.match(code or "")
    if match is None:
        return DEFAULT
    base = match.group(1).lower()
    return base if base in LANGUAGES else DEFAULT


def from_accept_language(header: str | None) -> str:
    """The supported language a browser prefers most (``Accept-Language``, by q-value,
    ``q=0`` meaning not wanted); English when it names none of the ten."""
    wanted: list[tuple[float, int, str]] = []
    for order, part in enumerate((header or "").split(",")):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        match = _CODE_RE.match(code)
        if quality > 0 and match and match.group(1).lower() in LANGUAGES:
            wanted.append((-quality, order, match.group(1).lower()))
    return min(wanted)[2] if wanted else DEFAULT


def check_language(code: str, what: str) -> str:
    """A code that must be one of the ten exactly, or a one-line error naming ``what``."""
    from commsbot.errors import ContentError

    cleaned = code.strip().lower()
    if cleaned not in LANGUAGES:
        raise ContentError(
            N_("%(what)s: unknown language %(code)s (known: %(known)s)"),
            what=what,
            code=repr(code),
            known=", ".join(LANGUAGES),
        )
    return cleaned


@functools.lru_cache(maxsize=8192)
def _number(locale: str, value: float, pattern: str | None) -> str:
    """Babel's formatting, remembered: it takes ~80 µs a number, and a page of figures
    shows a few thousand, most of them the same small counts."""
    from babel.numbers import format_decimal

    return format_decimal(value, pattern, locale=locale)


@functools.lru_cache(maxsize=4096)
def _date(locale: str, value: date, format: str) -> str:
    """Babel's date formatting, remembered: a month's calendar names its days each view."""
    from babel.dates import format_date

    return format_date(value, format, locale=locale)


@dataclass(frozen=True)
class Speaker:
    """Words, plurals, dates and numbers in one language."""

    language: str
    translations: gettext.NullTranslations
    locale: babel.Locale

    def gettext(self, message: str, **values: Any) -> str:
        """``message`` in this language, with ``%(name)s`` placeholders filled from values."""
        text = self.translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """The form for ``n`` under this language's plural rule; ``%(num)s`` is n."""
        text = self.translations.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def say(self, said: str | BaseException) -> str:
        """A message, or what an error says, in this language (an error without a
        Message, one only the CLI raises, stays English)."""
        if isinstance(said, BaseException):
            said = message_of(said)
        if isinstance(said, Message):
            return said.text(self.translations.gettext, self.translations.ngettext)
        return said

    def date(self, value: date | str, format: str = "medium") -> str:
        """A date (or an ISO date string) in this language's CLDR format."""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return _date(str(self.locale), value, format)

    def datetime(self, value: datetime, zone: tzinfo | None = None, format: str = "medium") -> str:
        """A time in ``zone`` (else its own) in this language's CLDR format."""
        from babel.dates import format_datetime

        return format_datetime(value, format, tzinfo=zone or value.tzinfo, locale=self.locale)

    def number(self, value: float, pattern: str | None = None) -> str:
        """A number with this language's separators (1,234.5 / 1.234,5 / 1 234,5); a
        ``pattern`` such as "0.00" fixes the decimals."""
        return _number(str(self.locale), value, pattern)

    def language_name(self, code: str) -> str:
        """A language's name in this language ("Polish" in English, "polski" in Polish)."""
        import babel

        try:
            return babel.Locale.parse(code).get_display_name(self.locale) or code
        except (ValueError, TypeError, babel.UnknownLocaleError):  # a feed's odd or empty tag
            return code or ""


@functools.lru_cache(maxsize=64)
def speaker(language: str, user_folder: Path | None = None) -> Speaker:
    """The ``Speaker`` of a language (negotiated), with the user's catalog overrides."""
    import babel

    from commsbot.i18n.catalogs import translations

    language = negotiate(language)
    return Speaker(language, translations(language, user_folder), babel.Locale.parse(language))


def install(env: jinja2.Environment, words: Speaker) -> None:
    """Jinja2's i18n extension (new style: autoescaped, ``%(name)s`` filled) in one language."""
    env.add_extension("jinja2.ext.i18n")
    # Whitespace inside {% trans %} is collapsed, so translators see one line per message.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(words.translations, newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = words.language
    env.filters.update(
        date=words.date,
        datetime=words.datetime,
        number=words.number,
        decimal=words.number,
        language_name=words.language_name,
    )
