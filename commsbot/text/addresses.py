"""E-mail addresses as commsbot accepts them: one bare address, nothing that could
add a header or a second recipient.

An address goes into mail headers, so line breaks, commas, angle brackets, quotes and
display names are refused, not cleaned up.
"""

from __future__ import annotations

import re

from commsbot.errors import ContentError

# RFC 5322 dot-atom characters for the part before the @; quoted local parts are refused.
_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def normalize_email(text: str) -> str:
    """A bare e-mail address, lower-cased, or ContentError saying what is wrong with it."""
    shown = repr(text)
    if any(c in text for c in "\r\n"):
        raise ContentError(f"e-mail address {shown} contains a line break: refused")
    address = text.strip()
    if not address:
        raise ContentError("an e-mail address is empty")
    if any(c in address for c in ',;<>()[]\\"'):
        raise ContentError(
            f"e-mail address {shown}: give one bare address (name@example.org), without "
            "names, brackets, quotes, commas or semicolons"
        )
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in address):
        raise ContentError(f"e-mail address {shown} contains spaces or control characters")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise ContentError(f"e-mail address {shown} needs exactly one @ between name and domain")
    if not local.isascii():
        raise ContentError(f"e-mail address {shown}: only ASCII is supported before the @")
    if len(local) > 64 or not _LOCAL_RE.match(local):
        raise ContentError(f"e-mail address {shown}: {local!r} is not a valid name before the @")
    try:
        ascii_domain = domain.lower().encode("idna").decode("ascii")
    except UnicodeError:
        raise ContentError(f"e-mail address {shown}: {domain!r} is not a valid domain") from None
    labels = ascii_domain.split(".")
    if (
        len(labels) < 2
        or len(ascii_domain) > 253
        or not all(_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ContentError(f"e-mail address {shown}: {domain!r} is not a valid domain")
    normalized = f"{local.lower()}@{ascii_domain}"
    if len(normalized) > 254:
        raise ContentError(f"e-mail address {shown} is longer than 254 characters")
    return normalized
