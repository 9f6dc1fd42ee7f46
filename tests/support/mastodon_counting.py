"""``mastodon_mock`` whose status length check counts as Mastodon does.

The mock announces ``characters_reserved_per_url: 23`` on ``/api/v1/instance`` but
refuses a status by ``len(text)``: a link counts at its full length and an emoji with
joiners as several characters, so a post at the real limit is refused and threads and
truncation cannot be proven there. Mastodon's own ``StatusLengthValidator`` counts
extended grapheme clusters, every URL as 23 characters and a remote mention
``@user@domain`` as ``@user``. This wrapper replaces only that check, in the mock's
process, and then runs the mock's own command line:

    python -m tests.support.mastodon_counting serve --config mock.toml --port N

The counting is written here from Mastodon's rules, not taken from commsbot, so the
tests compare commsbot's counter with an independent one.
"""

from __future__ import annotations

import re
from typing import Any

import regex  # type: ignore[import-untyped, unused-ignore]
from mastodon_mock.cli import main
from mastodon_mock.routers import statuses
from mastodon_mock.routers.helpers import validation_error
from mastodon_mock.serializers.instance import MAX_STATUS_CHARACTERS

URL_LENGTH = 23
# A URL as Mastodon's linkifier finds it: ends before closing punctuation.
_URL = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?'\)\]]", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"(?<![=/\w])(@\w+(?:[.-]\w+)*)@[\w.-]*\w", re.IGNORECASE)


def mastodon_count(text: str) -> int:
    """Length as Mastodon's StatusLengthValidator counts it."""
    shortened = _REMOTE_MENTION.sub(r"\1", _URL.sub("x" * URL_LENGTH, text))
    return len(regex.findall(r"\X", shortened))


_original = statuses._validate_status_params


def _validate(params: dict[str, Any]) -> Any:
    """The mock's checks, with the length counted as Mastodon does."""
    text = str(params.get("status") or "")
    if mastodon_count(text) > MAX_STATUS_CHARACTERS:
        return validation_error(
            f"Validation failed: Text is too long (maximum is {MAX_STATUS_CHARACTERS} characters)"
        )
    # The rest (blank text, too many media) stays the mock's; its length check now
    # sees a stand-in of the counted length, so it agrees.
    return _original({**params, "status": "x" * mastodon_count(text) if text.strip() else text})


statuses._validate_status_params = _validate

if __name__ == "__main__":
    main()
