"""Fetching a feed over HTTP: conditional GET, timeouts, a size cap, few redirects.

Blocking (``requests``); the ingest job runs it in worker threads. A failure is a value
with a message for the comms officer, never an exception.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import requests
import urllib3

from commsbot import __version__
from commsbot.config import IngestConfig

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
    deadline = time.monotonic() + settings.total_timeout
    with requests.Session() as session:
        session.max_redirects = settings.max_redirects
        try:
            with session.get(
                url,
                headers=headers,
                timeout=(settings.connect_timeout, settings.read_timeout),
                stream=True,
                allow_redirects=True,
            ) as response:
                return _read(response, settings, deadline)
        except requests.exceptions.ConnectTimeout:
            return Fetched(url, error=f"no connection within {settings.connect_timeout:g} s")
        except requests.exceptions.ReadTimeout:
            return Fetched(url, error=f"no answer within {settings.read_timeout:g} s")
        except requests.exceptions.ChunkedEncodingError:
            return Fetched(url, error=_CLOSED)
        except requests.exceptions.TooManyRedirects:
            return Fetched(url, error=f"more than {settings.max_redirects} redirects")
        except requests.exceptions.SSLError as exc:
            return Fetched(url, error=f"TLS error: {_reason(exc)}")
        except requests.exceptions.ConnectionError as exc:
            return Fetched(url, error=f"cannot connect: {_reason(exc)}")
        except requests.exceptions.RequestException as exc:
            return Fetched(url, error=f"request failed: {_reason(exc)}")


def _read(response: requests.Response, settings: IngestConfig, deadline: float) -> Fetched:
    final = response.url
    status = response.status_code
    if status == 304:
        return Fetched(final, status=status)
    if status != 200:
        reason = f"HTTP {status} {response.reason or ''}".strip()
        return Fetched(
            final, status=status, error=reason, retry_after=_retry_after(response, status)
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
            if time.monotonic() > deadline:
                error = f"download took over {settings.total_timeout:g} s"
                return Fetched(final, status=status, error=error)
            chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError:
        return Fetched(final, status=status, error=f"no answer within {settings.read_timeout:g} s")
    except urllib3.exceptions.ProtocolError:
        return Fetched(final, status=status, error=_CLOSED)
    except urllib3.exceptions.DecodeError as exc:
        return Fetched(final, status=status, error=f"could not decompress: {_reason(exc)}")
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


def _retry_after(response: requests.Response, status: int) -> int | None:
    value = response.headers.get("Retry-After", "")
    if status in (429, 503) and value.strip().isdigit():
        return int(value.strip())
    return None


def _reason(exc: BaseException) -> str:
    """The innermost reason of a requests error, without urllib3's object reprs."""
    while exc.args and isinstance(exc.args[0], BaseException):
        exc = exc.args[0]
    reason = getattr(exc, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else exc)
    # "HTTPConnection(host='h', port=80): Failed to ..." -> "Failed to ..."
    return _CONNECTION_PREFIX.sub("", text)
