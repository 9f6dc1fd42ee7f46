"""Each chat's fair share of the bot (#13): a burst, then a rate; one warning, then silence."""

from __future__ import annotations

from commsbot.bot.fair_share import FairShare, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_warning_then_silence_until_the_bucket_refills() -> None:
    clock = Clock()
    share = FairShare(3, 6.0, clock=clock)  # a token every 10 s
    verdicts = [share.take(1) for _ in range(6)]
    assert verdicts == [Verdict.ANSWER] * 3 + [Verdict.WARN] + [Verdict.SILENT] * 2
    assert share.wait_seconds(1) == 10
    assert share.take(2) is Verdict.ANSWER  # another chat is not held back
    clock.now += 10
    assert [share.take(1) for _ in range(3)] == [Verdict.ANSWER, Verdict.WARN, Verdict.SILENT]
    clock.now += 3600  # a quiet hour refills the burst, never more
    assert [share.take(1) for _ in range(4)] == [Verdict.ANSWER] * 3 + [Verdict.WARN]


def test_the_buckets_kept_are_bounded() -> None:
    clock = Clock()
    share = FairShare(2, 60.0, clock=clock, max_chats=100)
    for chat in range(1000):
        share.take(chat)
        clock.now += 0.01
    assert len(share._buckets) <= 100
    flooder = 5000
    for _ in range(3):
        share.take(flooder)
    assert share.take(flooder) is Verdict.SILENT  # a flooder's bucket is not the one forgotten
