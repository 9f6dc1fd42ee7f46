"""The exceptions commsbot raises for problems a user can fix, and the messages they carry.

The CLI turns every ``CommsbotError`` into one clean message; anything else is a bug.

An error raised where a bot user or a console user may read it carries a ``Message``:
its msgid (marked with ``N_`` or ``NP_`` so the catalogs find it) and its values kept
apart, so each input layer says it in its reader's language (``Speaker.say``) while
``str()`` stays the English the CLI and the logs show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping


def N_(message: str) -> str:
    """Mark a message for the catalogs where it is defined; it is translated where shown."""
    return message


class Message(str):
    """A message for a person: a msgid (singular, or with a plural chosen by ``num``), its
    ``%(name)s`` values (a value may be a Message too), and, for wording that names a CLI
    option, the ``neutral`` msgid said everywhere else (the bot, the console).

    It is the English text itself (a ``str``), so the CLI, the logs and any code that
    handles it as text see exactly what they saw before; ``text`` says it in a language.
    """

    msgid: str
    plural: str | None
    neutral: str | None
    values: dict[str, object]

    def __new__(
        cls,
        msgid: str,
        plural: str | None = None,
        *,
        neutral: str | None = None,
        **values: object,
    ) -> Message:
        return cls.of(msgid, values, plural=plural, neutral=neutral)

    @classmethod
    def of(
        cls,
        msgid: str,
        values: Mapping[str, object],
        *,
        plural: str | None = None,
        neutral: str | None = None,
    ) -> Message:
        """A Message from values already in a mapping."""
        template = msgid if plural is None or values.get("num") == 1 else plural
        message = str.__new__(cls, template % values if values else template)
        message.msgid, message.plural, message.neutral = msgid, plural, neutral
        message.values = dict(values)
        return message

    def text(self, gettext: Callable[[str], str], ngettext: Callable[[str, str, int], str]) -> str:
        """The message in a language (``gettext``/``ngettext`` of its catalog), in its
        neutral wording where it has one."""
        values = {
            k: v.text(gettext, ngettext) if isinstance(v, Message) else v
            for k, v in self.values.items()
        }
        msgid = self.neutral if self.neutral is not None else self.msgid
        if self.plural is not None:
            template = ngettext(msgid, self.plural, int(values["num"]))  # type: ignore[call-overload]
        else:
            template = gettext(msgid)
        return template % values if values else template


def NP_(singular: str, plural: str, num: int, **values: object) -> Message:
    """A message with a count: the catalogs find both forms (``(1, 2)`` in the keywords)."""
    return Message.of(singular, {"num": num, **values}, plural=plural)


def either(words: Iterable[str]) -> Message | str:
    """Words joined by "or" ("draft or queued"), in the reader's language."""
    items = list(words)
    if len(items) == 1:
        return items[0]
    return Message(N_("%(first)s or %(rest)s"), first=items[0], rest=either(items[1:]))


def label(raw: str, labels: Mapping[str, str]) -> Message:
    """A stored code ("pending_approval") as the CLI names it, and as its label
    ("waiting for approval") in the reader's language."""
    return Message(raw, neutral=labels.get(raw, raw))


def message_of(exc: BaseException) -> str:
    """What an exception says: a CommsbotError's Message, a ValueError raised with a
    Message, else its English text."""
    if isinstance(exc, CommsbotError):
        return exc.message
    if exc.args and isinstance(exc.args[0], Message):
        return exc.args[0]
    return str(exc)


class CommsbotError(Exception):
    """Base class: the message says what is wrong and where.

    ``CommsbotError(N_("post %(id)s …"), id=12)`` (or a ``Message``) can be said in any
    language; a plain string stays as it is (errors only the CLI shows).
    """

    def __init__(
        self, message: str = "", /, *, neutral: str | None = None, **values: object
    ) -> None:
        if values or neutral is not None:
            message = Message.of(str(message), values, neutral=neutral)
        super().__init__(str(message))
        self.message: str = message


class ConfigError(CommsbotError):
    """A configuration file or environment variable is wrong or missing."""


class StoreError(CommsbotError):
    """The store cannot be opened, migrated or is locked by another process."""


class ContentError(CommsbotError):
    """A content item, import file or queue entry is invalid or not found."""


class TemplateError(CommsbotError):
    """A template is missing, broken, or renders too long for its channel."""


class ChannelError(CommsbotError):
    """A channel could not do what was asked; ``retryable`` says if trying later may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
