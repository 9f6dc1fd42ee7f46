"""E-mail addresses as commsbot accepts them: one bare address, nothing that could
add a header or a second recipient.

An address goes into mail headers, so line breaks, commas, angle brackets, quotes and
display names are refused, not cleaned up. The syntax of the address itself, and its
domain in IDNA 2008 (``anna@straße.de`` is ``xn--strae-oqa.de``, never ``strasse.de``),
are email-validator's: a maintained implementation of the RFCs with messages that say
what is wrong, instead of hand-written rules and Python's IDNA 2003 codec.
"""

from __future__ import annotations

from commsbot.errors import N_, ContentError


def normalize_email(text: str) -> str:
    """A bare e-mail address, lower-cased, its domain in ASCII (IDNA 2008), or
    ContentError saying what is wrong with it."""
    shown = repr(text)
    if any(c in text for c in "\r\n"):
        raise ContentError(
            N_("e-mail address %(address)s contains a line break: refused"), address=shown
        )
    address = text.strip()
    if not address:
        raise ContentError(N_("an e-mail address is empty"))
    if any(c in address for c in ',;<>()[]\\"'):
        raise ContentError(
            N_(
                "e-mail address %(address)s: give one bare address (name@example.org), without "
                "names, brackets, quotes, commas or semicolons"
            ),
            address=shown,
        )
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in address):
        raise ContentError(
            N_("e-mail address %(address)s contains spaces or control characters"), address=shown
        )
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise ContentError(
            N_("e-mail address %(address)s needs exactly one @ between name and domain"),
            address=shown,
        )
    if not local.isascii():
        # Such an address needs SMTPUTF8 on every server on the way; few relays offer it.
        raise ContentError(
            N_("e-mail address %(address)s: only ASCII is supported before the @"), address=shown
        )
    # Imported here: with dnspython under it, it takes a fifth of a second to import.
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        # email-validator's own words stay English: it has no catalogs.
        raise ContentError(
            N_("e-mail address %(address)s: %(problem)s"), address=shown, problem=str(exc)
        ) from None
    return f"{checked.local_part.lower()}@{checked.ascii_domain}"
