"""The one delivery code of posts and digests: each named outcome read into a row's state."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commsbot.channels.base import (
    Channel,
    ChannelSettings,
    Delivery,
    Outcome,
    Rendered,
    ThreadFailure,
    check_image_answer,
    read_image_file,
)
from commsbot.delivery import Lane, Pacer, RetryPolicy, Settled, settle, stops_channel
from commsbot.errors import ChannelError

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, backoff_seconds=60, backoff_max_seconds=600)


# (delivery, attempts including this one) -> what the row becomes. One row per case, so
# a new Outcome without a reading here fails test_every_outcome_has_a_row.
CASES: list[tuple[Delivery, int, Settled]] = [
    (Delivery.sent(1, "9", "https://x/9"), 1, Settled("sent", "sent", None, 1)),
    (
        Delivery.retry_later(1, "HTTP 502"),
        2,
        Settled("retry", "retrying", "HTTP 502", 2, NOW + timedelta(seconds=120)),
    ),
    (
        Delivery.retry_later(1, "HTTP 502"),
        3,
        Settled("failed", "failed", "gave up after 3 attempts: HTTP 502", 3),
    ),
    (
        Delivery.retry_in(1, 7.2, "flood control"),
        3,
        Settled("retry", "retrying", "flood control", 2, NOW + timedelta(seconds=8)),
    ),
    (Delivery.not_tried(1), 1, Settled("retry", "retrying", None, 0, NOW)),
    (
        Delivery.channel_down(1, "token refused"),
        1,
        Settled("retry", "retrying", "token refused", 0, NOW),
    ),
    (Delivery.failed(1, "too long"), 1, Settled("failed", "failed", "too long", 1)),
    (
        Delivery.bounced(1, "550 no such user"),
        1,
        Settled("failed", "bounced", "550 no such user", 1),
    ),
    (Delivery.unknown(1, "timed out"), 2, Settled("unknown", "unknown", "timed out", 2)),
]


@pytest.mark.parametrize(("delivery", "attempts", "expected"), CASES)
def test_each_outcome_settles_one_way(delivery: Delivery, attempts: int, expected: Settled) -> None:
    assert settle(delivery, attempts, NOW, POLICY) == expected


def test_every_outcome_has_a_row() -> None:
    assert {d.outcome for d, _, _ in CASES} == set(Outcome)


def test_only_the_channels_trouble_stops_it() -> None:
    stopping = {d.outcome for d, _, _ in CASES if stops_channel(d)}
    assert stopping == {Outcome.CHANNEL_DOWN, Outcome.RETRY_AFTER}


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [POLICY.backoff(n).total_seconds() for n in range(1, 6)] == [60, 120, 240, 480, 600]


class Raising(Channel):
    kind = "outbox"
    max_length = 500
    rate_per_second = float("inf")

    async def send(self, post: Rendered) -> Delivery:
        raise RuntimeError("a bug in the channel")


def test_a_channel_that_raises_is_unknown_never_resent() -> None:
    channel = Raising(ChannelSettings())
    post = Rendered(5, "outbox", "practice", "p", "text", "key")

    async def scenario() -> Delivery:
        lane = Lane(channel, Pacer(channel.rate()))
        await lane.ready()
        return await lane.send(post.post_id, "post", channel.send, post)

    delivery = asyncio.run(scenario())
    assert (delivery.post_id, delivery.outcome) == (5, Outcome.UNKNOWN)
    assert delivery.error == "RuntimeError: a bug in the channel"


def test_a_platforms_wait_holds_the_lanes_next_slot() -> None:
    channel = Raising(ChannelSettings())

    async def scenario() -> float:
        lane = Lane(channel, Pacer(1000.0))
        loop = asyncio.get_running_loop()

        async def wait_asked(ref: int) -> Delivery:
            return Delivery.retry_in(ref, 0.2, "flood control")

        await lane.ready()
        await lane.send(1, "post", wait_asked, 1)
        began = loop.time()
        await lane.ready()
        return loop.time() - began

    assert asyncio.run(scenario()) >= 0.19


def test_only_a_limited_or_shared_pace_makes_a_lane_wait() -> None:
    channel = Raising(ChannelSettings())
    assert not Lane(channel, Pacer(math.inf)).paced
    assert Lane(channel, Pacer(10.0)).paced
    assert Lane(channel, Pacer(math.inf, shared=Pacer(1.0))).paced


# -- each channel's failure mapping, as a table ---------------------------------------


def _network_error(cause: BaseException | None) -> Exception:
    from telegram import error as tg

    exc = tg.TimedOut("timed out")
    exc.__cause__ = cause
    return exc


def _telegram_cases() -> list[tuple[Exception, bool, Outcome]]:
    import httpx
    from telegram import error as tg

    return [
        (tg.RetryAfter(7), True, Outcome.RETRY_AFTER),
        (tg.InvalidToken(), True, Outcome.CHANNEL_DOWN),
        (tg.Forbidden("bot is not a member of the channel chat"), True, Outcome.CHANNEL_DOWN),
        (tg.Forbidden("bot was blocked by the user"), False, Outcome.BOUNCED),
        (tg.ChatMigrated(-100123), True, Outcome.FAILED),
        (tg.BadRequest("message is too long"), True, Outcome.FAILED),
        (tg.NetworkError("Bad Gateway"), True, Outcome.RETRY_LATER),
        (_network_error(httpx.ConnectError("refused")), True, Outcome.RETRY_LATER),
        (_network_error(httpx.ReadTimeout("slow")), False, Outcome.UNKNOWN),
        (tg.TelegramError("something else"), False, Outcome.FAILED),
    ]


@pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")
def test_telegram_errors_map_to_one_outcome_each() -> None:
    from commsbot.channels.telegram import delivery_for_error

    got = [
        (delivery_for_error(3, exc, to_channel=to_channel).outcome, expected)
        for exc, to_channel, expected in _telegram_cases()
    ]
    assert [g for g, _ in got] == [e for _, e in got]
    waited = delivery_for_error(3, _telegram_cases()[0][0], to_channel=True)
    assert waited.retry_after == 7.0


@pytest.mark.parametrize(
    ("step", "code", "where", "expected"),
    [
        ("MAIL", 451, {}, Outcome.RETRY_LATER),
        ("MAIL", 550, {"channel_down": True}, Outcome.CHANNEL_DOWN),
        ("RCPT", 550, {"bounced": True}, Outcome.BOUNCED),
        ("RCPT", 452, {"bounced": False}, Outcome.RETRY_LATER),
        ("DATA", 554, {}, Outcome.FAILED),
    ],
)
def test_smtp_answers_map_to_one_outcome_each(
    step: str, code: int, where: dict[str, bool], expected: Outcome
) -> None:
    from commsbot.channels.email import _rejected

    delivery = _rejected(4, step, code, "no", **where)
    assert (delivery.outcome, delivery.error) == (expected, f"SMTP {step}: {code} no")


def test_a_thread_failure_names_the_part_and_what_is_already_public() -> None:
    asked: list[int] = []

    def first_url() -> str:
        asked.append(1)
        return "https://x/1"

    single = ThreadFailure.of(0, 1, first_url)
    assert (single.where, single.public, asked) == ("", "", [])
    first = ThreadFailure.of(0, 3, first_url)
    assert (first.where, first.public, asked) == (" at part 1 of 3", "", [])
    third = ThreadFailure.of(2, 3, first_url)
    assert (third.where, third.public) == (" at part 3 of 3", "; parts 1-2 are public: https://x/1")
    assert third.overtime("channels.bluesky", 2.5) == (
        "no complete answer at part 3 of 3 within 2.5 s (see channels.bluesky.total_timeout)"
    )
    retried = third.own_error(7, ChannelError("image a.png: HTTP 503", retryable=True))
    failed = third.own_error(7, ChannelError("image a.png: HTTP 404"))
    assert (retried.outcome, retried.error) == (
        Outcome.RETRY_LATER,
        "image a.png: HTTP 503; parts 1-2 are public: https://x/1",
    )
    assert (failed.outcome, failed.error) == (
        Outcome.FAILED,
        "image a.png: HTTP 404; parts 1-2 are public: https://x/1",
    )


@pytest.mark.parametrize(("status", "retryable"), [(404, False), (429, True), (503, True)])
def test_an_image_servers_error_status_is_an_error_retried_when_it_may_pass(
    status: int, retryable: bool
) -> None:
    check_image_answer("https://x/a.png", 200)
    with pytest.raises(ChannelError) as raised:
        check_image_answer("https://x/a.png", status)
    assert (str(raised.value), raised.value.retryable) == (
        f"image https://x/a.png: HTTP {status}",
        retryable,
    )


def test_a_local_image_is_read_under_the_image_folder(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    assert read_image_file("a.png", tmp_path) == (tmp_path / "a.png", b"png")
    assert read_image_file(str(tmp_path / "a.png"), Path("/nowhere")) == (
        tmp_path / "a.png",
        b"png",
    )
    with pytest.raises(ChannelError, match=r"^image .*b\.png: No such file or directory$"):
        read_image_file("b.png", tmp_path)
