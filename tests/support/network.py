"""The loopback guard: a test may reach 127.0.0.0/8 and ::1, nothing else.

An autouse fixture wraps ``socket.connect`` and ``connect_ex`` for the length of each test:
a connection to any other address is refused before a packet leaves (so nothing outside
is ever reached) and fails the test at teardown, even when the code under test catches
the refusal as an ordinary network error. Subprocesses (the service run as a process)
are not covered: they see the same config, which names only loopback servers.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # any other name would be resolved and reached
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The addresses outside loopback a test tried to reach (must stay empty)."""
    reached: list[str] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
            reached.append(f"{address[0]}:{address[1]}")
            raise OSError(errno.ENETUNREACH, f"test network guard: {address[0]} is not loopback")

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield reached
    assert not reached, f"the test tried to reach addresses outside loopback: {reached}"
