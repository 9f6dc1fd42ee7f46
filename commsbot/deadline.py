"""A total time for blocking network calls that the peer cannot extend.

Per-request timeouts bound each read, not the whole: a server sending its headers a
byte every 2 s, or a body a byte at a time, keeps a call alive for as long as it likes.
A ``Deadline`` ends that: a watchdog timer shuts every socket opened or used under it
when its time is up, so a blocked read returns at once, whatever the peer is doing
(headers, body, a TLS handshake), and a new connection under it is refused. Host names
are resolved within the time left; a resolver that hangs is left behind in a daemon
thread.

Used by feed fetches (``feeds.guard`` adds the address policy) and by the channels whose
clients block in worker threads (Mastodon.py over requests, smtplib): the call runs as
``within(seconds, fn, ...)`` in its thread, and the connections it makes or reuses are
watched by the deadline that is current in that thread. A stopping service calls
``abort_all()``, which ends every call in flight, so no worker thread outlives the stop.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:  # urllib3 and requests are imported when a call starts, not at load
    import requests
    from urllib3._base_connection import BaseHTTPConnection
    from urllib3.connection import HTTPConnection
    from urllib3.connectionpool import HTTPConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Why a host may not be reached at an address (a message), or None if it may.
Refusal = Callable[[str, Address], str | None]

P = ParamSpec("P")
T = TypeVar("T")


class Refused(Exception):
    """A connection the address policy does not allow; the message says which and why."""


class DeadlinePassed(TimeoutError):
    """The call's total time was up before this connection could be made or used (a
    TimeoutError, so a client's own handling of timeouts takes it)."""


@dataclass(eq=False)  # each one its own: kept in a set of those in flight
class Deadline:
    """A total time for one call; when it passes, every socket watched under it is shut."""

    seconds: float
    expired: bool = False
    _at: float = 0.0
    # Duplicates of the watched sockets' descriptors: shutting one shuts the connection
    # even once TLS has taken the original socket object over (and detached it).
    _handles: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _timer: threading.Timer | None = None

    def __enter__(self) -> Deadline:
        self._at = time.monotonic() + self.seconds
        self._timer = threading.Timer(self.seconds, self.expire)
        self._timer.daemon = True
        self._timer.start()
        with _LIVE_LOCK:
            _LIVE.add(self)
        _current_stack().append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with _LIVE_LOCK:
            _LIVE.discard(self)
        stack = _current_stack()
        if stack and stack[-1] is self:
            stack.pop()
        with self._lock:
            for handle in self._handles:
                handle.close()
            self._handles.clear()

    def remaining(self) -> float:
        return 0.0 if self.expired else max(0.0, self._at - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` when the time is up; at once (DeadlinePassed) if it already is."""
        with self._lock:
            if self.expired:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                raise DeadlinePassed
            if sock.fileno() < 0:
                return  # closed: nothing left to interrupt
            self._handles.append(socket.fromfd(sock.fileno(), sock.family, sock.type))

    def expire(self) -> None:
        """End the call now: a blocked read returns at once, a new connection is refused."""
        with self._lock:
            self.expired = True
            for handle in self._handles:
                # Not connected yet, or already closed by the peer: nothing to interrupt.
                with contextlib.suppress(OSError):
                    handle.shutdown(socket.SHUT_RDWR)


_THREAD = threading.local()
# The deadlines of calls in flight, so that a stopping service can end them at once.
_LIVE: set[Deadline] = set()
_LIVE_LOCK = threading.Lock()


def _current_stack() -> list[Deadline]:
    stack: list[Deadline] | None = getattr(_THREAD, "stack", None)
    if stack is None:
        stack = _THREAD.stack = []
    return stack


def current() -> Deadline | None:
    """The deadline of the call this thread is making, if any."""
    stack = _current_stack()
    return stack[-1] if stack else None


def within(seconds: float, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` under a deadline of ``seconds``: its connections are shut
    when the time is up (its client then raises its own network error)."""
    with Deadline(seconds):
        return fn(*args, **kwargs)


def abort_all() -> int:
    """End every call in flight (the service is stopping); returns how many there were."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for deadline in live:
        deadline.expire()
    return len(live)


def resolve(host: str, port: int, wait: float) -> list[tuple[Any, ...]]:
    """getaddrinfo within ``wait`` seconds; a resolver that hangs is abandoned, not awaited."""
    result: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            result.append(exc)
        done.set()

    threading.Thread(target=run, name=f"resolve {host}", daemon=True).start()
    if not done.wait(wait):
        raise TimeoutError(f"no address for {host} within {wait:.3g} s")
    if isinstance(result[0], OSError):
        raise result[0]
    return list(result[0])


def open_socket(
    host: str,
    port: int,
    timeout: float | None,
    deadline: Deadline | None,
    *,
    refusal: Refusal | None = None,
    options: Any = (),
) -> socket.socket:
    """A connected socket to ``host`` at an address ``refusal`` allows, watched by
    ``deadline`` (when given) and made within its time and ``timeout``.

    Raises TimeoutError, socket.gaierror or OSError as ``socket.create_connection``
    does, DeadlinePassed when the time is already up, Refused when no address is allowed.
    """
    host = host.strip("[]")

    def wait() -> float | None:
        if deadline is None:
            return timeout
        left = deadline.remaining()
        if left <= 0:
            raise DeadlinePassed
        return min(left, timeout) if timeout else left

    first = wait()
    found = (
        resolve(host, port, first)
        if first is not None
        else socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    )
    refusals = []
    last: OSError | None = None
    for family, kind, proto, _, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = refusal(host, address) if refusal else None
        if reason:
            refusals.append(reason)
            continue
        sock = socket.socket(family, kind, proto)
        try:
            if deadline is not None:
                deadline.watch(sock)
            for option in options or ():
                sock.setsockopt(*option)
            sock.settimeout(wait())
            sock.connect(sockaddr)
        except DeadlinePassed:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.settimeout(timeout)
        return sock
    if last is not None:
        raise last
    raise Refused(refusals[0] if refusals else f"{host} has no address")


def bounded_pools(
    deadline: Deadline | None = None, refusal: Refusal | None = None
) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 connection pool classes whose connections are watched by ``deadline``, or
    when None by the deadline current in the calling thread (a pooled connection is
    watched again by each call that reuses it)."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    def connect(conn: HTTPConnection) -> socket.socket:
        limit = conn.timeout if isinstance(conn.timeout, int | float) else None
        try:
            return open_socket(
                conn.host,
                conn.port or 80,
                limit,
                deadline or current(),
                refusal=refusal,
                options=conn.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"no connection to {conn.host}: {exc}") from exc
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc

    class Plain(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return connect(self)

    class Secure(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return connect(self)

    def reuse(conn: BaseHTTPConnection) -> BaseHTTPConnection:
        watcher = deadline or current()
        sock = getattr(conn, "sock", None)
        if watcher is not None and sock is not None:
            watcher.watch(sock)
        return conn

    class PlainPool(HTTPConnectionPool):
        ConnectionCls = Plain

        def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
            return reuse(super()._get_conn(timeout))

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = Secure

        def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
            return reuse(super()._get_conn(timeout))

    return {"http": PlainPool, "https": SecurePool}


def bounded_session(
    deadline: Deadline | None = None, refusal: Refusal | None = None
) -> requests.Session:
    """A requests session whose every connection goes through ``bounded_pools``."""
    import requests

    session = requests.Session()
    for adapter in session.adapters.values():
        adapter.poolmanager.pool_classes_by_scheme = bounded_pools(deadline, refusal)  # type: ignore[attr-defined]
    return session
