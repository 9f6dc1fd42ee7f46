"""What the Mastodon channel and the timeline reader share about Mastodon's API."""

from __future__ import annotations

# Mastodon's limit on ids per GET /api/v1/statuses.
STATUSES_PER_REQUEST = 20


def api_error(exc: Exception) -> tuple[int | None, str]:
    """HTTP status and the server's message of a Mastodon.py error."""
    # MastodonAPIError args: ("Mastodon API returned error", status, reason, message).
    args = exc.args
    if len(args) >= 4 and isinstance(args[1], int):
        return args[1], str(args[3] or args[2])
    return None, str(exc)
