"""Numbers and text that people type (CLI arguments, bot commands, button data, import
files), read one way everywhere.

``str.isdigit()`` before ``int()`` is the trap this avoids: it is true for '²' (which
``int`` refuses) and for '٣' (which ``int`` reads as 3), and says nothing about size,
while SQLite holds 64-bit integers only.
"""

from __future__ import annotations

import re

# The largest integer an SQLite column holds.
SQLITE_MAX = 2**63 - 1
# Python refuses to read longer decimal strings (sys.get_int_max_str_digits).
_MAX_DIGITS = 4300
_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def whole_number(text: str, *, signed: bool = False) -> int | None:
    """The number ``text`` spells in ASCII digits (around spaces allowed), or None."""
    value = text.strip()
    if not _WHOLE.fullmatch(value) or len(value) > _MAX_DIGITS:
        return None
    if not signed and value[0] in "+-":
        return None
    return int(value)


def row_id(text: str) -> int | None:
    """A stored row's id as typed: a whole number from 1 that SQLite can hold, or None."""
    number = whole_number(text)
    return number if number is not None and 1 <= number <= SQLITE_MAX else None


def without_controls(text: str) -> str:
    """Text with each control character (NUL, escapes, line separators) made a space;
    tabs and line feeds stay."""
    return _CONTROL.sub(" ", text)
