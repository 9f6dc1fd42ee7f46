"""Real servers for the Mastodon tests and benchmark: ``mastodon_mock`` in a subprocess
on a free loopback port, a proxy that loses a response in transit, and a file server.

Every server here is stopped by its ``stop()`` (the fixtures call it); every wait is
bounded.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Self

import requests

from tests.support.base import channel_config

# The account commsbot posts as, and a partner who reacts to its posts.
MOCK_CONFIG = """
domain = "127.0.0.1"
url_scheme = "http"

[seed]
accounts = [
    {username = "commsbot", display_name = "Cross-Innovation"},
    {username = "partner", display_name = "A partner city"},
]
"""


# Other accounts, for the movement tests and benchmark: they post with and without the
# campaign hashtag and mention the account commsbot posts as.
OTHERS = ("alice", "bob", "carol", "dave")
MOVEMENT_MOCK_CONFIG = """
domain = "127.0.0.1"
url_scheme = "http"

[seed]
accounts = [
    {username = "alice", display_name = "Alice of Vilnius"},
    {username = "bob", display_name = "Bob"},
    {username = "carol", display_name = "Carol"},
    {username = "dave", display_name = "Dave"},
]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MockMastodon:
    """``mastodon_mock serve`` as a subprocess, with its mock-only helpers.

    ``counting=True`` runs it through ``tests/support/mastodon_counting.py``, whose length
    check counts as Mastodon does (graphemes, 23 per URL) rather than ``len()``.
    """

    def __init__(self, folder: Path, config: str = MOCK_CONFIG, *, counting: bool = False) -> None:
        self.folder = folder
        self.config = config
        self.module = "tests.support.mastodon_counting" if counting else "mastodon_mock"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "mastodon_mock.log"

    def start(self, timeout: float = 60.0) -> MockMastodon:
        config = self.folder / "mastodon_mock.toml"
        config.write_text(self.config, encoding="utf-8")
        command = [sys.executable, "-m", self.module, "serve", "--config", str(config)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        # From the project's folder, so that the wrapper under tests/ can be imported.
        root = Path(__file__).resolve().parents[2]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mastodon_mock exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}/api/v1/instance", timeout=1).ok:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mastodon_mock did not start within {timeout} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = requests.post(f"{self.base_url}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def login(self, username: str) -> str:
        """A fresh token for a seeded account."""
        return str(self._post("/api/v1/_mock/login", {"username": username})["access_token"])

    def new_account(self) -> tuple[str, str]:
        """A new local account with an empty timeline: (username, token)."""
        data = self._post("/api/v1/_mock/dev_user", {})
        return str(data["username"]), str(data["access_token"])

    def fault(
        self,
        path: str,
        effect: dict[str, Any],
        *,
        methods: tuple[str, ...] = ("POST",),
        count: int | None = 1,
    ) -> None:
        """Inject a fault on requests to ``path`` (fnmatch pattern) for ``count`` requests."""
        rule: dict[str, Any] = {"match": {"methods": list(methods), "path": path}}
        rule["effect"] = effect
        if count is not None:
            rule["count"] = count
        self._post("/api/v1/_mock/faults", rule)

    def clear_faults(self) -> None:
        requests.delete(f"{self.base_url}/api/v1/_mock/faults", timeout=10).raise_for_status()

    def client(self, token: str, base_url: str | None = None) -> Any:
        from mastodon import Mastodon

        return Mastodon(
            access_token=token, api_base_url=base_url or self.base_url, ratelimit_method="throw"
        )


class LoopbackServer:
    """An HTTP server in a thread on a free loopback port."""

    def __init__(self, handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class LossyProxy(LoopbackServer):
    """Forwards HTTP to an upstream server; the answer to the first ``hold_count``
    requests matching ``hold`` is kept back for ``hold_seconds`` after the upstream
    has answered: the request was processed, the client never hears so (a timeout).
    Every request forwarded is listed in ``seen`` as (method, path with query)."""

    def __init__(
        self,
        upstream_port: int,
        hold: Callable[[str, str], bool],
        *,
        hold_seconds: float = 3.0,
        hold_count: int = 1,
    ) -> None:
        self.seen: list[tuple[str, str]] = []
        self.upstream_port = upstream_port
        self.hold = hold
        self.hold_seconds = hold_seconds
        self.holds_left = hold_count
        self.release = threading.Event()
        self.lock = threading.Lock()
        super().__init__(self._handler())

    def stop(self) -> None:
        self.release.set()  # a held answer is let go at once
        super().stop()

    def _take_hold(self, method: str, path: str) -> bool:
        with self.lock:
            if self.holds_left > 0 and self.hold(method, path):
                self.holds_left -= 1
                return True
            return False

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        def forward(handler: http.server.BaseHTTPRequestHandler) -> None:
            with self.lock:
                self.seen.append((handler.command, handler.path))
            answer = relay(handler, self.upstream_port, read_body(handler))
            if self._take_hold(handler.command, handler.path.split("?")[0]):
                self.release.wait(self.hold_seconds)
            reply(handler, *answer)

        return quiet_handler(forward)


class MisbehavingProxy(LoopbackServer):
    """Forwards HTTP to an upstream server, and answers the requests ``matches`` picks
    as a bad peer would, by ``mode``:

    - ``"silent"``: reads the request, never forwards it, never answers;
    - ``"slow-headers"``: forwards it, then sends the answer's status line and headers a
      byte every ``pause`` seconds (each read gets something: no read timeout fires);
    - ``"slow-body"``: forwards it, sends the headers at once and the body a byte at a time.

    ``seen`` lists every request as (method, path); ``picked`` is set once one matched.
    Everything held is let go when the proxy stops, and nothing waits past ``MAX_HOLD``.
    """

    MAX_HOLD = 120.0

    def __init__(
        self, upstream_port: int, matches: Callable[[str, str], bool], mode: str, pause: float
    ) -> None:
        assert mode in ("silent", "slow-headers", "slow-body"), mode
        self.upstream_port = upstream_port
        self.matches = matches
        self.mode = mode
        self.pause = pause
        self.seen: list[tuple[str, str]] = []
        self.picked = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        super().__init__(self._handler())

    def stop(self) -> None:
        self.release.set()
        super().stop()

    def _trickle(self, handler: http.server.BaseHTTPRequestHandler, data: bytes) -> None:
        for i in range(len(data)):
            if self.release.wait(self.pause):
                return
            handler.wfile.write(data[i : i + 1])
            handler.wfile.flush()

    def _misbehave(self, handler: http.server.BaseHTTPRequestHandler, body: bytes | None) -> None:
        self.picked.set()
        if self.mode == "silent":
            self.release.wait(self.MAX_HOLD)
            handler.close_connection = True
            return
        status, headers, data = relay(handler, self.upstream_port, body)
        lines = [f"HTTP/1.1 {status} Answer", *(f"{k}: {v}" for k, v in headers.items())]
        head = ("\r\n".join(lines) + f"\r\nContent-Length: {len(data)}\r\n\r\n").encode()
        try:
            if self.mode == "slow-headers":
                self._trickle(handler, head)
                handler.wfile.write(data)
            else:
                handler.wfile.write(head)
                handler.wfile.flush()
                self._trickle(handler, data)
        except OSError:
            pass  # the client gave up: what the test wanted
        handler.close_connection = True

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        def forward(handler: http.server.BaseHTTPRequestHandler) -> None:
            path = handler.path.split("?")[0]
            with self.lock:
                self.seen.append((handler.command, path))
            body = read_body(handler)
            if self.matches(handler.command, path):
                self._misbehave(handler, body)
            else:
                reply(handler, *relay(handler, self.upstream_port, body))

        return quiet_handler(forward)


def quiet_handler(
    handle: Callable[[http.server.BaseHTTPRequestHandler], None],
) -> type[http.server.BaseHTTPRequestHandler]:
    """A keep-alive request handler class that logs nothing and answers every method
    (GET, POST, PUT, PATCH, DELETE) with ``handle(handler)``: a proxy's own logic."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _handle(self) -> None:
            handle(self)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    return Handler


def read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes | None:
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else None


def relay(
    handler: http.server.BaseHTTPRequestHandler, upstream_port: int, body: bytes | None
) -> tuple[int, dict[str, str], bytes]:
    """Send a proxy's request on to the server on ``upstream_port``: its status, the
    headers worth passing back, and its body."""
    headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
    upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
    try:
        upstream.request(handler.command, handler.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
    finally:
        upstream.close()
    # The proxy writes its own framing, Date and Server: two Date headers confuse clients.
    skip = ("transfer-encoding", "connection", "content-length", "date", "server")
    return answer.status, {k: v for k, v in answer.getheaders() if k.lower() not in skip}, data


def reply(
    handler: http.server.BaseHTTPRequestHandler, status: int, headers: dict[str, str], data: bytes
) -> None:
    """Answer a proxy's client; one that is gone (it timed out, was killed) is let go."""
    try:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:
        handler.close_connection = True


class FileServer(LoopbackServer):
    """Serves a folder over HTTP on loopback (an item's image given as a URL)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(partial(QuietFiles, directory=str(folder)))


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63fccfc0500f000485018084a98c210000000049454e44ae426082"
)


def mastodon_account(name: str, base_url: str, token_env: str) -> str:
    """The ``[channels.NAME]`` section of an enabled Mastodon account on a test server."""
    return (
        f'[channels.{name}]\nkind = "mastodon"\nenabled = true\n'
        f'api_base_url = "{base_url}"\naccess_token_env = "{token_env}"'
    )


def mastodon_config(
    folder: Path, base_url: str, token_env: str, extra: str = "", *, outbox: bool = False
) -> Path:
    """A commsbot config with the Mastodon channel enabled (and the outbox if asked)."""
    section = (
        f'[channels.mastodon]\nenabled = true\napi_base_url = "{base_url}"\n'
        f'access_token_env = "{token_env}"'
    )
    return channel_config(folder, section, extra, outbox=outbox)
