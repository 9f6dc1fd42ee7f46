"""The loopback guard of every test (tests/support/network.py) and the CI Hypothesis profile."""

from __future__ import annotations

import socket

import pytest
from hypothesis import settings

from tests.support.network import is_loopback


def test_an_address_outside_loopback_is_refused_and_recorded(network_guard: list[str]) -> None:
    with socket.socket() as sock, pytest.raises(OSError, match="network guard"):
        sock.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed, and refused before that
    assert network_guard == ["192.0.2.1:9"]
    network_guard.clear()  # recorded as expected here; any other test fails at teardown


def test_loopback_is_let_through(network_guard: list[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server, socket.socket() as client:
        client.connect(server.getsockname())
    assert network_guard == []


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("128.0.0.1", False),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("2001:db8::1", False),
        ("mastodon.example", False),
    ],
)
def test_loopback_means_127_0_0_0_8_and_1(host: str, allowed: bool) -> None:
    assert is_loopback(host) is allowed


def test_ci_profile_is_derandomized() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize is True
    assert ci.database is None
