"""What a feed request may reach, and for how long: the SSRF policy and a hard deadline.

Every connection a feed fetch opens, the first and each redirect's, goes through
``guarded_pools``: the host name is resolved here (within the time left), every address
it resolves to is checked against the policy, and the socket connects to the address
that was checked, so a name that resolves differently a moment later (DNS rebinding)
cannot slip past. Addresses that are not globally routable (loopback, private,
link-local such as a cloud metadata address, carrier-grade NAT, multicast, reserved)
are refused unless the operator allows the host in ``[ingest] allow_private_hosts``.

The deadline is ``commsbot.deadline``'s, one the peer cannot extend: a watchdog shuts
every socket of the fetch when the total time is up, whether the peer is trickling
headers, a body or a TLS handshake.

Hand-written over urllib3's connection classes rather than taken from a library: the
one package for requests (advocate) was last released in 2020 for urllib3 1.x.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from commsbot.deadline import Address, Deadline, bounded_pools

if TYPE_CHECKING:  # urllib3 is imported when a fetch starts: config loading checks entries
    from urllib3.connectionpool import HTTPConnectionPool

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


@dataclass(frozen=True)
class Guard:
    """One fetch's policy and deadline, shared by all of its connections."""

    policy: AddressPolicy
    deadline: Deadline


def guarded_pools(guard: Guard) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pool classes whose connections all go through ``guard``."""
    return bounded_pools(guard.deadline, guard.policy.refusal)
