"""Hostile feed servers on loopback (#13): a Retry-After of any shape is a bounded
back-off, headers trickled a byte at a time end at the total time, and no hop of a fetch
reaches a loopback, private or link-local address the operator did not allow."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commsbot.config import IngestConfig, load_config
from commsbot.deadline import abort_all
from commsbot.errors import ConfigError
from commsbot.feeds.fetch import fetch, retry_after_seconds
from commsbot.feeds.guard import AddressPolicy
from commsbot.feeds.ingest import ingest
from commsbot.store import Store, iso
from commsbot.store import feeds as feeds_q
from tests.support.base import BASE_CONFIG, NOW
from tests.support.feeds import feed_server, item, rss

LOOPBACK = IngestConfig(total_timeout=1.0, read_timeout=5.0, allow_private_hosts=("127.0.0.1",))
NOW_UTC = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


# -- Retry-After -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120),
        ("99999999999999999999", 600),
        ("9" * 5000, 600),
        ("Mon, 23 Nov 2026 12:05:00 GMT", 300),  # an HTTP date, five minutes on
        ("Fri, 31 Dec 9999 23:59:59 GMT", 600),  # far ahead: the cap
        ("Sun, 22 Nov 2026 12:00:00 GMT", None),  # in the past: the feed's own back-off
        ("-5", None),
        ("²", None),  # a digit to str.isdigit(), not to int()
        ("soon", None),
        ("", None),
        ("1e9", None),
    ],
)
def test_any_retry_after_is_bounded_seconds_or_none(value: str, seconds: int | None) -> None:
    assert retry_after_seconds(value, NOW_UTC, 600) == seconds


def test_a_huge_retry_after_backs_that_feed_off_and_the_others_are_stored(
    sample_store: Store, config_path: Path
) -> None:
    config_path.write_text(
        BASE_CONFIG
        + '[ingest]\nbackoff_seconds = 60\nbackoff_max_seconds = 3600\nallow_private_hosts = ["127.0.0.1"]\n',
        encoding="utf-8",
    )
    config = load_config(config_path)
    with feed_server() as server:
        huge = server.set("/huge", "", status=429, headers={"Retry-After": "9" * 5000})
        fine = server.set("/fine", rss([item("Fine", guid="f")]))
        for url in (huge, fine):
            feeds_q.add(sample_store, url, "news", None, None, NOW)

        report = asyncio.run(ingest(sample_store, config, clock=lambda: NOW))

    assert {o.url: o.result for o in report.outcomes} == {huge: "failed", fine: "stored"}
    row = feeds_q.get(sample_store, huge)
    assert row is not None
    assert row["next_poll_at"] == iso(NOW + timedelta(seconds=3600))  # the cap, not forever


# -- a total time the peer cannot extend ---------------------------------------------


def test_headers_trickled_a_byte_at_a_time_end_at_the_total_time() -> None:
    with feed_server() as server:
        # About 1,400 header bytes at 0.2 s each: some five minutes if nothing cut it off.
        url = server.set("/slow", rss([item("Slow")]), trickle_headers=0.2)
        started = time.monotonic()
        fetched = fetch(url, LOOPBACK)
        took = time.monotonic() - started

    assert fetched.error == "no complete answer within 1 s (see [ingest] total_timeout)"
    assert fetched.body is None
    # Each byte came within the read timeout, so only the total deadline ended it.
    assert took < 30


def test_a_body_trickled_a_byte_at_a_time_ends_at_the_total_time() -> None:
    with feed_server() as server:
        url = server.set("/slow", rss([item("Slow")]), trickle=0.2)
        fetched = fetch(url, LOOPBACK)

    assert fetched.error == "no complete answer within 1 s (see [ingest] total_timeout)"
    assert fetched.body is None


def test_a_stopping_service_ends_every_fetch_in_flight() -> None:
    settings = IngestConfig(
        total_timeout=300.0, read_timeout=60.0, allow_private_hosts=("127.0.0.1",)
    )
    with feed_server() as server:
        url = server.set("/slow", rss([item("Slow")]), trickle_headers=0.2)

        async def fetch_then_abort() -> tuple[str | None, float]:
            started = time.monotonic()
            running = asyncio.create_task(asyncio.to_thread(fetch, url, settings))
            while not running.done() and abort_all() == 0:
                await asyncio.sleep(0.05)  # until the fetch has started
            fetched = await running
            return fetched.error, time.monotonic() - started

        error, took = asyncio.run(fetch_then_abort())

    assert error == "no complete answer within 300 s (see [ingest] total_timeout)"
    assert took < 30


# -- what a fetch may reach ------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.0.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata address
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("0.0.0.0", "private"),
        ("224.0.0.1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_non_global_addresses_are_refused(address: str, kind: str) -> None:
    reason = AddressPolicy().refusal("feeds.example", ipaddress.ip_address(address))
    assert reason is not None
    assert f"a {kind} address" in reason


def test_public_addresses_and_allowed_hosts_pass() -> None:
    policy = AddressPolicy.allowing(["intranet.example", "10.8.0.0/16", "127.0.0.2"])
    assert policy.refusal("feeds.example", ipaddress.ip_address("93.184.215.14")) is None
    assert policy.refusal("Intranet.Example", ipaddress.ip_address("10.0.0.9")) is None
    assert policy.refusal("other", ipaddress.ip_address("10.8.3.4")) is None
    assert policy.refusal("other", ipaddress.ip_address("127.0.0.2")) is None
    assert policy.refusal("other", ipaddress.ip_address("127.0.0.1")) is not None


def test_loopback_is_refused_unless_allowed_and_nothing_is_sent() -> None:
    with feed_server() as server:
        url = server.set("/feed", rss([item("Internal")]))
        refused = fetch(url, IngestConfig())
        allowed = fetch(url, IngestConfig(allow_private_hosts=("127.0.0.1",)))

        assert refused.error == (
            "refused: 127.0.0.1 resolves to 127.0.0.1, a loopback address; feeds may not "
            "reach it unless [ingest] allow_private_hosts names the host"
        )
        assert allowed.error is None
        assert len(server.requests_to("/feed")) == 1  # only the allowed fetch reached it


def test_a_redirect_to_another_loopback_address_is_refused_at_that_hop() -> None:
    # The partner's feed is at 127.0.0.2 (allowed); it redirects to an internal service at
    # 127.0.0.1 on another port, which nobody allowed.
    with feed_server("127.0.0.2") as partner, feed_server() as internal:
        internal.set("/admin", rss([item("Secret")]))
        url = partner.set("/feed", status=302, redirect_to=internal.url("/admin"))

        fetched = fetch(url, IngestConfig(allow_private_hosts=("127.0.0.2",)))
        both = fetch(url, IngestConfig(allow_private_hosts=("127.0.0.2", "127.0.0.1")))

        assert fetched.error is not None and fetched.error.startswith(
            "refused: 127.0.0.1 resolves to 127.0.0.1, a loopback address"
        )
        assert fetched.body is None
        assert both.error is None and both.body is not None and b"Secret" in both.body
        assert len(internal.requests_to("/admin")) == 1  # the allowed fetch only


@pytest.mark.parametrize("entry", ["not a host", "http://x.example/", "user@host", ""])
def test_a_bad_allow_private_hosts_entry_is_named(config_path: Path, entry: str) -> None:
    config_path.write_text(
        BASE_CONFIG + f'[ingest]\nallow_private_hosts = ["ok.example", "{entry}"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert str(caught.value) == (
        f"{config_path}: ingest.allow_private_hosts[1]: {entry!r} is not a host name, "
        "an IP address or a network such as 10.0.0.0/8"
    )
