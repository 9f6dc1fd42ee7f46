"""A feed server on 127.0.0.1 for ingestion tests and the benchmark.

Each path serves a body, status and headers the test controls. It answers conditional
GETs like a real server (304 when ETag or Last-Modified match), can redirect, stall
(never answer until released) or trickle, and records every request it gets.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Every wait in the server is bounded, so a forgotten stall cannot hang a test run.
MAX_STALL_SECONDS = 10.0


class _QuietServer(ThreadingHTTPServer):
    """A client that closes with an answer unread (a fetch that stopped at an error status
    or its time limit) resets the connection: what a test wants, not a traceback printed
    into the output of the command under test."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    redirect_to: str | None = None  # a path on this server, or a full URL
    stall: bool = False  # accept the request, never answer (until the server stops)
    trickle: float = 0.0  # seconds between single bytes of the body
    trickle_headers: float = 0.0  # seconds between single bytes of the status line and headers


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    status: int


class FeedServer:
    """Threaded HTTP server on an ephemeral port; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

            def do_GET(self) -> None:
                server._serve(self)

        self.httpd = _QuietServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, body: bytes | str = b"", **options: object) -> str:
        """Serve body at path (replacing what was there); returns the full URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self.routes[path] = Route(data, **options)  # type: ignore[arg-type]
        return self.url(path)

    def requests_to(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self._lock:
            route = self.routes.get(path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        status = 404 if route is None else route.status
        if route is not None and route.stall:
            self._record(path, headers, 0)
            self._release.wait(MAX_STALL_SECONDS)
            return
        if route is None:
            self._record(path, headers, 404)
            self._send(handler, 404, b"not found", {"Content-Type": "text/plain"})
            return
        if route.redirect_to is not None:
            target = route.redirect_to
            location = target if "://" in target else self.url(target)
            self._record(path, headers, route.status)
            self._send(handler, route.status, b"", {"Location": location})
            return
        validators = {}
        if route.etag:
            validators["ETag"] = route.etag
        if route.last_modified:
            validators["Last-Modified"] = route.last_modified
        etag_match = route.etag is not None and headers.get("if-none-match") == route.etag
        date_match = (
            route.last_modified is not None
            and headers.get("if-modified-since") == route.last_modified
        )
        if status == 200 and (etag_match or (date_match and "if-none-match" not in headers)):
            self._record(path, headers, 304)
            self._send(handler, 304, b"", validators)
            return
        self._record(path, headers, status)
        out = {"Content-Type": route.content_type, **validators, **route.headers}
        if route.trickle_headers:
            self._trickle_head(handler, status, route.body, out, route.trickle_headers)
            return
        self._send(handler, status, route.body, out, trickle=route.trickle)

    def _record(self, path: str, headers: dict[str, str], status: int) -> None:
        with self._lock:
            self.hits.append(Hit(path, headers, status))

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str],
        trickle: float = 0.0,
    ) -> None:
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            if "Content-Length" not in headers and status != 304:
                handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if not trickle:
                handler.wfile.write(body)
                return
            for i in range(len(body)):
                if self._release.wait(trickle):
                    return
                handler.wfile.write(body[i : i + 1])
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout, size cap): what the test wanted

    def _trickle_head(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str],
        pause: float,
    ) -> None:
        """The status line and headers a byte at a time: each read gets something, the
        whole answer never arrives in any useful time."""
        lines = [f"HTTP/1.1 {status} OK", *(f"{k}: {v}" for k, v in headers.items())]
        lines += [f"X-Padding-{i}: {'x' * 20}" for i in range(50)]
        head = ("\r\n".join(lines) + f"\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        try:
            for i in range(len(head)):
                if self._release.wait(pause):
                    return
                handler.wfile.write(head[i : i + 1])
                handler.wfile.flush()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what the test wanted

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@contextmanager
def feed_server(host: str = "127.0.0.1") -> Iterator[FeedServer]:
    server = FeedServer(host).start()
    try:
        yield server
    finally:
        server.stop()


def rss(items: list[str], title: str = "Partner news") -> str:
    """An RSS 2.0 document around item XML snippets."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://partner.example/</link>"
        "<description>News of a partner</description>" + "".join(items) + "</channel></rss>"
    )


def item(
    title: str | None = "A title",
    *,
    guid: str | None = None,
    link: str | None = None,
    description: str | None = None,
    date: str | None = "Mon, 02 Nov 2026 10:00:00 +0000",
    permalink: bool = False,
) -> str:
    """One RSS <item>; None leaves an element out. Values are XML text (escape yourself)."""
    parts = []
    if title is not None:
        parts.append(f"<title>{title}</title>")
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="{str(permalink).lower()}">{guid}</guid>')
    if description is not None:
        parts.append(f"<description>{description}</description>")
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"
