"""The Mastodon channel's failure mapping, one table (#15 item 9), and its total time (#13).

Each row makes mastodon_mock (or a misbehaving proxy in front of it, or a closed port)
answer a status post in one way, and asserts the Outcome the channel gives: what dispatch
and record then do with the post follows from that alone (``commsbot.delivery``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from commsbot.channels.base import Delivery, Outcome, Rendered
from commsbot.channels.mastodon import MastodonChannel, MastodonSettings
from commsbot.deadline import abort_all
from tests.support.mastodon import MisbehavingProxy, MockMastodon

TOKEN_ENV = "COMMSBOT_TEST_MASTODON_FAILURES_TOKEN"
STATUSES = "/api/v1/statuses"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockMastodon]:
    mock = MockMastodon(tmp_path_factory.mktemp("mastodon-failures")).start()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def mock(server: MockMastodon, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockMastodon]:
    _, token = server.new_account()
    monkeypatch.setenv(TOKEN_ENV, token)
    yield server
    server.clear_faults()


def post() -> Rendered:
    key = uuid.uuid4().hex
    return Rendered(1, "mastodon", "practice", key, f"Designers meet makers ({key[:8]}).", key)


def send(base_url: str, rendered: Rendered, **settings: Any) -> tuple[Delivery, float]:
    """One send through a fresh channel on ``base_url``: its Delivery and how long it took."""
    cfg = MastodonSettings(
        enabled=True, api_base_url=base_url, access_token_env=TOKEN_ENV, **settings
    )
    channel = MastodonChannel(cfg)

    async def go() -> Delivery:
        try:
            return await channel.send(rendered)
        finally:
            await channel.close()

    started = time.monotonic()
    delivery = asyncio.run(go())
    return delivery, time.monotonic() - started


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Case:
    name: str
    outcome: Outcome
    says: str  # in the Delivery's error
    fault: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    retry_after: tuple[float, float] | None = None  # the range the wait must fall in


def status(code: int, error: str = "") -> dict[str, Any]:
    return {"type": "status", "status": code, "body": {"error": error or f"said {code}"}}


CASES = [
    Case(
        "401", Outcome.CHANNEL_DOWN, "refused the token", status(401, "The access token is invalid")
    ),
    Case(
        "403",
        Outcome.CHANNEL_DOWN,
        "refused the token",
        status(403, "This action is outside the authorized scopes"),
    ),
    # Not about this post: every post would fail for good, so the channel stops instead.
    Case("404", Outcome.CHANNEL_DOWN, "has no such endpoint", status(404, "Not Found")),
    Case("410", Outcome.CHANNEL_DOWN, "gone", status(410, "Gone")),
    Case(
        "422",
        Outcome.FAILED,
        "Validation failed: Text is too long",
        status(422, "Validation failed: Text is too long"),
    ),
    Case("400", Outcome.FAILED, "rejected by the server (400", status(400, "bad")),
    Case(
        "429 with the rate-limit headers",
        Outcome.RETRY_AFTER,
        "rate limit reached",
        {"type": "ratelimit"},  # X-RateLimit-Reset 300 s ahead, Retry-After 300
        retry_after=(250.0, 301.0),
    ),
    Case(
        "429 without headers",
        Outcome.RETRY_AFTER,
        "rate limit reached",
        status(429),
        retry_after=(60.0, 60.0),
    ),
    Case("500", Outcome.RETRY_LATER, "server error 500", status(500)),
    Case("502", Outcome.RETRY_LATER, "server error 502", status(502)),
    Case("503", Outcome.RETRY_LATER, "server error 503", status(503)),
    Case(
        "no answer within request_timeout",
        Outcome.RETRY_LATER,
        "no answer: ",
        {"type": "timeout", "delay_ms": 30_000},
        settings={"request_timeout": 1.0},
    ),
    # A 200 whose body is not JSON: the status may well exist, and the retry carries the
    # same Idempotency-Key, so it gets that status back rather than a second one.
    Case("garbled JSON", Outcome.RETRY_LATER, "could not be read", {"type": "malformed"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_answer_to_a_status_post_has_its_outcome(mock: MockMastodon, case: Case) -> None:
    assert case.fault is not None
    mock.fault(STATUSES, case.fault)
    delivery, _ = send(mock.base_url, post(), **case.settings)
    assert delivery.outcome is case.outcome, delivery.error
    assert case.says in (delivery.error or "")
    if case.retry_after is None:
        assert delivery.retry_after is None
    else:
        low, high = case.retry_after
        assert delivery.retry_after is not None and low <= delivery.retry_after <= high


def test_a_refused_connection_is_retried_later(mock: MockMastodon) -> None:
    delivery, _ = send(f"http://127.0.0.1:{closed_port()}", post())
    assert delivery.outcome is Outcome.RETRY_LATER
    assert "cannot reach" in (delivery.error or "")


# -- a total time the server cannot extend (#13) ----------------------------------------

MISBEHAVIOURS = ["silent", "slow-headers", "slow-body"]


@pytest.fixture
def proxy(mock: MockMastodon) -> Iterator[Callable[[str], MisbehavingProxy]]:
    started: list[MisbehavingProxy] = []

    def make(mode: str) -> MisbehavingProxy:
        # A byte every 2 s: each read gets something, so no read timeout ever fires.
        started.append(
            MisbehavingProxy(mock.port, lambda m, p: (m, p) == ("POST", STATUSES), mode, 2.0)
        )
        return started[-1].start()

    yield make
    for running in started:
        running.stop()


@pytest.mark.parametrize("mode", MISBEHAVIOURS)
def test_a_send_ends_at_the_total_time_whatever_the_server_does(
    mock: MockMastodon, proxy: Callable[[str], MisbehavingProxy], mode: str
) -> None:
    bad = proxy(mode)
    delivery, took = send(bad.base_url, post(), request_timeout=30.0, total_timeout=3.0)

    assert delivery.outcome is Outcome.RETRY_LATER
    assert delivery.error == ("no complete answer within 3 s (see channels.mastodon.total_timeout)")
    # Only the total time can have ended it: request_timeout (30 s) never fired.
    assert took < 25, f"took {took:.1f} s"


def test_a_send_cut_off_at_the_total_time_is_published_once(
    mock: MockMastodon, proxy: Callable[[str], MisbehavingProxy]
) -> None:
    """The server made the status before trickling its answer: the retry, with the same
    key, gets that status back, and the account has one."""
    bad = proxy("slow-headers")
    rendered = post()
    first, _ = send(bad.base_url, rendered, total_timeout=3.0)
    assert first.outcome is Outcome.RETRY_LATER
    again, _ = send(mock.base_url, rendered)
    assert again.outcome is Outcome.SENT
    client = mock.client(token_of())
    mine = client.account_statuses(client.me().id)
    assert [str(s.id) for s in mine] == [again.remote_id]


def token_of() -> str:
    import os

    return os.environ[TOKEN_ENV]


def test_a_stopping_service_ends_a_send_in_flight(
    mock: MockMastodon, proxy: Callable[[str], MisbehavingProxy]
) -> None:
    """abort_all, as the service calls it at a stop: a send whose own total time is
    ten minutes away ends at once."""
    bad = proxy("silent")
    ended: list[int] = []

    def abort_when_stuck() -> None:
        if bad.picked.wait(60):
            time.sleep(0.2)
            ended.append(abort_all())

    aborter = threading.Thread(target=abort_when_stuck)
    aborter.start()
    delivery, took = send(bad.base_url, post(), request_timeout=600.0, total_timeout=600.0)
    aborter.join(timeout=60)

    assert ended and ended[0] >= 1
    assert delivery.outcome is Outcome.RETRY_LATER
    assert "total_timeout" in (delivery.error or "")
    assert took < 30, f"took {took:.1f} s"
