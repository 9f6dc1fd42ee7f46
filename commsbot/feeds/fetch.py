"""Fetching a feed over HTTP: conditional GET, timeouts, a size cap, few redirects.

Blocking (``requests``); the ingest job runs it in worker threads. A failure is a value
with a message for the comms officer, never an exception. Every connection, redirects'
included, goes through ``feeds.guard``: the SSRF policy on the resolved address, and a
total time the peer cannot extend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
import urllib3

from commsbot import __version__
from commsbot.config import IngestConfig
from commsbot.deadline import Deadline, DeadlinePassed, Refused
from commsbot.feeds.guard import AddressPolicy, Guard, guarded_pools

USER_AGENT = f"commsbot/{__version__} (feed ingestion; python-requests)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
CHUNK = 64 * 1024
_CLOSED = "the connection closed before the whole feed arrived"
_CONNECTION_PREFIX = re.compile(r"^(?:<[^>]*>|HTTPS?Connection\([^)]*\)): ")


@dataclass(frozen=True)
class Fetched:
    """What one request gave: a body (200), nothing new (304), or an error."""

    url: str  # where the body came from, after redirects: the base for relative links
    status: int | None = None
    body: bytes | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    retry_after: int | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def fetch(
    url: str,
    settings: IngestConfig,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """GET url, sending the validators kept from the last answer."""
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    guard = Guard(
        AddressPolicy.allowing(settings.allow_private_hosts), Deadline(settings.total_timeout)
    )
    with guard.deadline, requests.Session() as session:
        # The policy is about the feed's own address: a proxy from the environment would
        # be the only address checked.
        session.trust_env = False
        session.max_redirects = settings.max_redirects
        for adapter in session.adapters.values():
            adapter.poolmanager.pool_classes_by_scheme = guarded_pools(guard)  # type: ignore[attr-defined]
        try:
            with session.get(
                url,
                headers=headers,
                timeout=(settings.connect_timeout, settings.read_timeout),
                stream=True,
                allow_redirects=True,
            ) as response:
                return _read(response, settings, guard.deadline)
        except Refused as exc:
            return Fetched(url, error=f"refused: {exc}")
        except (DeadlinePassed, requests.exceptions.RequestException) as exc:
            if guard.deadline.expired:
                return Fetched(url, error=_overtime(settings))
            return Fetched(url, error=_failure(exc, settings))


def _overtime(settings: IngestConfig) -> str:
    return f"no complete answer within {settings.total_timeout:g} s (see [ingest] total_timeout)"


def _failure(exc: Exception, settings: IngestConfig) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {settings.connect_timeout:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer within {settings.read_timeout:g} s"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return _CLOSED
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"more than {settings.max_redirects} redirects"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error: {_reason(exc)}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"cannot connect: {_reason(exc)}"
    return f"request failed: {_reason(exc)}"


def _read(response: requests.Response, settings: IngestConfig, deadline: Deadline) -> Fetched:
    final = response.url
    status = response.status_code
    if status == 304:
        return Fetched(final, status=status)
    if status != 200:
        reason = f"HTTP {status} {response.reason or ''}".strip()
        return Fetched(
            final, status=status, error=reason, retry_after=_retry_after(response, status, settings)
        )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        return Fetched(final, status=status, error=_too_big(int(declared), settings))
    chunks: list[bytes] = []
    size = 0
    try:
        # read1 returns what has arrived, so the deadline is checked even against a server
        # that sends a byte at a time; decompression is bounded by the chunk size.
        while chunk := response.raw.read1(CHUNK, decode_content=True):
            size += len(chunk)
            # Counted after decompression: neither a lying header nor a gzip bomb gets past.
            if size > settings.max_bytes:
                return Fetched(final, status=status, error=_too_big(None, settings))
            if deadline.remaining() <= 0:
                return Fetched(final, status=status, error=_overtime(settings))
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if deadline.expired:
            return Fetched(final, status=status, error=_overtime(settings))
        if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
            error = f"no answer within {settings.read_timeout:g} s"
        elif isinstance(exc, urllib3.exceptions.DecodeError):
            error = f"could not decompress: {_reason(exc)}"
        elif isinstance(exc, urllib3.exceptions.ProtocolError):
            error = _CLOSED
        else:
            raise
        return Fetched(final, status=status, error=error)
    if deadline.expired:  # the watchdog's shutdown reads as the end of the body
        return Fetched(final, status=status, error=_overtime(settings))
    return Fetched(
        final,
        status=status,
        body=b"".join(chunks),
        content_type=response.headers.get("Content-Type"),
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
    )


def _too_big(declared: int | None, settings: IngestConfig) -> str:
    said = f" ({declared} bytes)" if declared is not None else ""
    return f"larger than the cap of {settings.max_bytes} bytes{said}; see [ingest] max_bytes"


def _retry_after(response: requests.Response, status: int, settings: IngestConfig) -> int | None:
    if status not in (429, 503):
        return None
    return retry_after_seconds(
        response.headers.get("Retry-After", ""), datetime.now(UTC), settings.backoff_max_seconds
    )


def retry_after_seconds(value: str, now: datetime, cap: int) -> int | None:
    """A ``Retry-After`` (seconds or an HTTP date) as seconds from ``now``, at most ``cap``.

    Garbage, a date in the past or a negative number is None (the feed's own back-off
    applies); a huge number is the cap, never an overflow.
    """
    value = value.strip()
    if value.isascii() and value.isdigit():
        # More digits than the cap has cannot be less than it: no need to convert them all.
        return cap if len(value) > len(str(cap)) else min(int(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP dates are GMT
    seconds = (when - now).total_seconds()
    return min(int(seconds), cap) if seconds > 0 else None


def _reason(exc: BaseException) -> str:
    """The innermost reason of a requests error, without urllib3's object reprs."""
    while exc.args and isinstance(exc.args[0], BaseException):
        exc = exc.args[0]
    reason = getattr(exc, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else exc)
    # "HTTPConnection(host='h', port=80): Failed to ..." -> "Failed to ..."
    return _CONNECTION_PREFIX.sub("", text)
