"""What a feed request may reach, and for how long: the SSRF policy and a hard deadline.

Every connection a feed fetch opens, the first and each redirect's, goes through
``Guard.connect``: the host name is resolved here (within the time left), every address
it resolves to is checked against the policy, and the socket connects to the address
that was checked, so a name that resolves differently a moment later (DNS rebinding)
cannot slip past. Addresses that are not globally routable (loopback, private,
link-local such as a cloud metadata address, carrier-grade NAT, multicast, reserved)
are refused unless the operator allows the host in ``[ingest] allow_private_hosts``.

The deadline is one the peer cannot extend: a watchdog shuts every socket of the fetch
when the total time is up, whether the peer is trickling headers, a body or a TLS
handshake. A resolver that hangs is left behind in a daemon thread.

Hand-written over urllib3's connection classes rather than taken from a library: the
one package for requests (advocate) was last released in 2020 for urllib3 1.x.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # urllib3 is imported when a fetch starts: config loading checks entries
    from urllib3.connection import HTTPConnection
    from urllib3.connectionpool import HTTPConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """A connection the policy does not allow; the message says which address and why."""


class DeadlinePassed(Exception):
    """The fetch's total time was up before this connection could be made."""


@dataclass(frozen=True)
class AddressPolicy:
    """Which non-global addresses a fetch may reach: named hosts, addresses or networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> AddressPolicy:
        """From ``[ingest] allow_private_hosts``: host names, IP addresses or CIDR networks."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def refusal(self, host: str, address: Address) -> str | None:
        """Why ``host`` may not be reached at ``address``, or None if it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if address.is_global and not address.is_multicast:
            return None
        if host.lower().rstrip(".") in self.hosts or any(address in n for n in self.networks):
            return None
        return (
            f"{host} resolves to {address}, a {_kind(address)} address; feeds may not reach "
            "it unless [ingest] allow_private_hosts names the host"
        )


def _kind(address: Address) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_multicast:
        return "multicast"
    return "non-public"


@dataclass(eq=False)  # each one its own: kept in a set of those in flight
class Deadline:
    """A total time for one fetch; when it passes, every socket opened under it is shut."""

    seconds: float
    expired: bool = False
    _at: float = 0.0
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _timer: threading.Timer | None = None

    def __enter__(self) -> Deadline:
        self._at = time.monotonic() + self.seconds
        self._timer = threading.Timer(self.seconds, self.expire)
        self._timer.daemon = True
        self._timer.start()
        with _LIVE_LOCK:
            _LIVE.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def remaining(self) -> float:
        return 0.0 if self.expired else max(0.0, self._at - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                sock.close()
                raise DeadlinePassed
            self._sockets.append(sock)

    def expire(self) -> None:
        """Stop the fetch now: a blocked read returns at once, a new connection is refused."""
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                # Not connected yet, or already closed: nothing to interrupt.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# The deadlines of fetches in flight, so that a stopping service can end them at once.
_LIVE: set[Deadline] = set()
_LIVE_LOCK = threading.Lock()


def abort_all() -> int:
    """End every fetch in flight (the service is stopping); returns how many there were."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for deadline in live:
        deadline.expire()
    return len(live)


def _resolve(host: str, port: int, wait: float) -> list[tuple[Any, ...]]:
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


@dataclass(frozen=True)
class Guard:
    """One fetch's policy and deadline, shared by all of its connections."""

    policy: AddressPolicy
    deadline: Deadline

    def connect(self, conn: HTTPConnection) -> socket.socket:
        """A socket to ``conn``'s host at an address the policy allows, within the deadline."""
        from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

        host = conn.host.strip("[]")
        left = self.deadline.remaining()
        if left <= 0:
            raise DeadlinePassed
        limit = conn.timeout if isinstance(conn.timeout, int | float) else None
        wait = min(left, limit) if limit else left
        try:
            found = _resolve(host, conn.port or 80, wait)
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, str(exc)) from exc
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        refusals = []
        last: OSError | None = None
        for family, kind, proto, _, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            reason = self.policy.refusal(host, address)
            if reason:
                refusals.append(reason)
                continue
            sock = socket.socket(family, kind, proto)
            self.deadline.watch(sock)
            try:
                for option in conn.socket_options or ():
                    sock.setsockopt(*option)
                left = self.deadline.remaining()
                sock.settimeout(min(left, limit) if limit else left)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            return sock
        if isinstance(last, TimeoutError):
            raise ConnectTimeoutError(conn, f"no connection to {host} within {limit} s") from last
        if last is not None:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {last}")
        raise Refused(refusals[0] if refusals else f"{host} has no address")


def guarded_pools(guard: Guard) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pool classes whose connections all go through ``guard``."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Plain(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return guard.connect(self)

    class Secure(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return guard.connect(self)

    class PlainPool(HTTPConnectionPool):
        ConnectionCls = Plain

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = Secure

    return {"http": PlainPool, "https": SecurePool}
