"""The outbox's log line: joined by hand for speed, byte for byte what json.dumps writes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from commsbot.channels.base import Outcome, Rendered
from commsbot.channels.outbox import OutboxChannel, OutboxSettings, log_line


def dumped(post: Rendered, name: str, stamp: str, image: str | None) -> str:
    """The line as the outbox wrote it before: json.dumps of its fields."""
    line: dict[str, Any] = {
        "post_id": post.post_id,
        "type": post.item_type,
        "item": post.item_ref,
        "text": post.text,
        "thread": list(post.thread),
        "link": post.link,
        **({"image": image, "image_alt": post.image_alt} if image else {}),
        "idempotency_key": post.idempotency_key,
        "written_at": stamp,
        "file": name,
    }
    return json.dumps(line, ensure_ascii=False) + "\n"


# Any text, control characters, quotes, backslashes and astral characters included.
texts = st.text(max_size=40)


@given(
    post_id=st.integers(min_value=1, max_value=10**12),
    item_type=texts,
    item_ref=texts,
    text=texts,
    thread=st.lists(texts, max_size=3).map(tuple),
    link=st.none() | texts,
    image=st.none() | texts,
    image_alt=st.none() | texts,
    key=texts,
    stamp=texts,
    name=texts,
)
def test_log_line_is_what_json_dumps_writes(
    post_id: int,
    item_type: str,
    item_ref: str,
    text: str,
    thread: tuple[str, ...],
    link: str | None,
    image: str | None,
    image_alt: str | None,
    key: str,
    stamp: str,
    name: str,
) -> None:
    post = Rendered(
        post_id,
        "outbox",
        item_type,
        item_ref,
        text,
        key,
        link=link,
        image_alt=image_alt,
        thread=thread,
    )
    assert log_line(post, name, stamp, image) == dumped(post, name, stamp, image)


def test_a_sent_post_with_a_thread_and_an_image_logs_the_line_json_dumps_writes(
    tmp_path: Path,
) -> None:
    channel = OutboxChannel(OutboxSettings(path=tmp_path))
    post = Rendered(
        7,
        "outbox",
        "practice",
        "co-lab",
        'Part "one" \\ of Plzeň 🎨\n\ttabbed',
        "commsbot-key",
        link="https://example.org/co-lab",
        image="https://example.org/co-lab.png",
        image_alt="A <co>lab\x00 photo",
        thread=("Part two", "Part three\n"),
    )

    async def send() -> None:
        delivery = await channel.send(post)
        assert delivery.outcome is Outcome.SENT
        await channel.close()

    asyncio.run(send())
    name = "000007-practice-co-lab.txt"
    [line] = (tmp_path / "outbox.jsonl").read_text("utf-8").splitlines(keepends=True)
    stamp = json.loads(line)["written_at"]
    assert line == dumped(post, name, stamp, post.image)
    assert (tmp_path / name).read_text("utf-8") == (
        'Part "one" \\ of Plzeň 🎨\n\ttabbed\n\nPart two\n\nPart three\n\n'
    )
