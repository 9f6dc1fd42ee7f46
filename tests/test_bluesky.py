"""The Bluesky channel against a real local AT Protocol network (npm's @atproto/dev-env).

Nothing in the atproto SDK is patched: a 429 and a lost answer come from an HTTP proxy
the client is sent through, a crash from SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commsbot.channels.base import Outcome, Rendered
from commsbot.channels.bluesky import BlueskySettings, fit_image, record_key
from commsbot.cli import cli
from commsbot.clock import utcnow
from commsbot.config import Config, load_config
from commsbot.posting import pipeline
from commsbot.posting.engagement import collect_engagement
from commsbot.service.jobs import JobContext
from commsbot.store import Store
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q
from tests.support.base import channel_config
from tests.support.bluesky import (
    PASSWORD_ENV,
    Account,
    ForwardProxy,
    Network,
    bluesky_config,
    our_account,
)
from tests.support.mastodon import PNG

# The same items and runs as the Mastodon tests, so both channels are held to one standard.
from tests.test_mastodon import (
    Setup,
    add_practice,
    coloured,
    fixed,
    publish,
    reference,
    with_stores,
)

TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


@pytest.fixture
def account(bsky_network: Network, monkeypatch: pytest.MonkeyPatch) -> Account:
    return Account(bsky_network, our_account(bsky_network, monkeypatch))


@pytest.fixture
def setup(tmp_path: Path, bsky_network: Network, account: Account) -> Iterator[Setup]:

    def config(extra: str = "", *, outbox: bool = False) -> Config:
        return load_config(
            bluesky_config(tmp_path, bsky_network, account.handle, extra, outbox=outbox)
        )

    yield from with_stores(config)


def facet_texts(record: Any) -> list[tuple[str, str]]:
    """Each facet as (its kind and target, the substring its UTF-8 byte slice covers)."""
    raw = record.text.encode("utf-8")
    out = []
    for facet in record.facets or []:
        feature = facet.features[0]
        target = getattr(feature, "uri", None) or getattr(feature, "tag", None) or feature.did
        kind = feature.py_type.rsplit("#", 1)[-1]
        out.append(
            (f"{kind}:{target}", raw[facet.index.byte_start : facet.index.byte_end].decode())
        )
    return out


def invoke(path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(path), *args])


# -- record keys ----------------------------------------------------------------------


def test_record_keys_are_valid_tids_derived_from_the_row_and_part() -> None:
    keys = {record_key(f"commsbot-{n:032x}", part) for n in range(2000) for part in range(3)}
    assert len(keys) == 6000
    assert all(TID.match(k) for k in keys)
    assert record_key("commsbot-abc", 0) == record_key("commsbot-abc", 0)
    assert record_key("commsbot-abc", 0) != record_key("commsbot-abc", 1)
    # The key's time is in the past: no record ever claims to come from the future.
    value = 0
    for ch in record_key("commsbot-abc", 0):
        value = value * 32 + "234567abcdefghijklmnopqrstuvwxyz".index(ch)
    assert (
        datetime(2023, 1, 1, tzinfo=UTC)
        <= datetime.fromtimestamp((value >> 10) / 1e6, UTC)
        < datetime.now(UTC)
    )


def test_settings_name_what_is_missing(tmp_path: Path) -> None:
    assert BlueskySettings(enabled=True).check() == (
        "handle: needed when the channel is enabled, e.g. network.bsky.social"
    )
    assert BlueskySettings(service="bsky.social").check() == (
        "service: 'bsky.social' is not an http(s) address"
    )


def test_an_image_too_large_for_a_blob_is_shrunk_keeping_its_aspect_ratio() -> None:
    import io

    from PIL import Image

    noise = Image.effect_noise((1600, 900), 120).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert out.tell() > 1_000_000
    data, width, height = fit_image(out.getvalue(), "noise.png")
    assert len(data) <= 1_000_000
    assert abs(width / height - 16 / 9) < 0.01
    assert fit_image(PNG, "dot.png")[0] == PNG


# -- posting ----------------------------------------------------------------------------


def test_the_sample_network_is_posted_once_and_reads_back_as_rendered(
    tmp_path: Path, bsky_network: Network, account: Account
) -> None:
    path = bluesky_config(tmp_path, bsky_network, account.handle, 'hashtags = ["CrossInnovation"]')
    # The packaged Bluesky templates keep the sample within 300 graphemes; this account's
    # own practice template gives the whole summary, so the long ones become threads.
    (tmp_path / "templates" / "bluesky").mkdir(parents=True)
    (tmp_path / "templates" / "bluesky" / "practice.j2").write_text(
        "{{ item.title }} ({{ city.name }})\n\n{{ item.summary }}\n", encoding="utf-8"
    )
    path.write_text(
        '[service]\ntemplates = "templates"\n'
        + path.read_text().replace('content_types = ["practice"]', "")
    )
    assert invoke(path, "init", "--sample").exit_code == 0

    result = invoke(path, "run", "--once", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (row,) = report["channels"]
    assert row["channel"] == "bluesky"
    assert row["posted"] == row["new"] > 40
    assert (row["retrying"], row["failed"], row["unknown"]) == (0, 0, 0)
    with Store(load_config(path).store.path) as store:
        posts = posts_q.list_posts(store, channel="bluesky", limit=1000)
        rows = [posts_q.get_post(store, p["id"]) for p in posts]
    assert len(rows) == row["new"]
    records = {str(r.uri): r for r in account.records()}
    parts = sum(1 + len(r["payload"].get("thread") or ()) for r in rows if r)
    assert len(records) == parts  # every part of every thread, once
    threads = 0
    for post in rows:
        assert post is not None and post["status"] == "sent"
        first = records[post["remote_id"]].value
        assert first.text == post["text"]
        assert first.langs == [post["payload"].get("language") or "en"]
        assert post["remote_url"] == (
            f"https://bsky.app/profile/{account.handle}/post/{post['remote_id'].rsplit('/', 1)[1]}"
        )
        # Facets cover exactly the link and the hashtags, at their UTF-8 byte offsets.
        link = post["payload"]["link"]
        assert (f"link:{link}", link) in facet_texts(first)
        # The card: the item's link and title.
        assert first.embed.external.uri == link
        assert first.embed.external.title == post["payload"]["title"]
        # A thread: each further part replies to the one before, under the first.
        parent = records[post["remote_id"]]
        for text in post["payload"].get("thread") or ():
            threads += 1
            child = next(
                r
                for r in records.values()
                if r.value.reply and r.value.reply.parent.uri == parent.uri
            )
            assert child.value.text == text
            assert child.value.reply.root.uri == post["remote_id"]
            assert child.value.embed is None  # the link is in the first part only
            parent = child
    assert threads > 0
    tagged = 0
    for record in records.values():
        covered = facet_texts(record.value)
        assert all(kind.endswith(":" + text.lstrip("#")) for kind, text in covered)
        # Bluesky's rule: "#1" (digits only) is not a tag.
        for tag in re.findall(r"(?<!\w)#(\w*[^\W\d]\w*)", record.value.text):
            assert (f"tag:{tag}", f"#{tag}") in covered
            tagged += tag == "CrossInnovation"
    assert tagged >= len(rows)

    again = invoke(path, "run", "--once", "--json")

    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["channels"][0]["posted"] == 0
    assert len(account.records()) == parts


def test_polish_lithuanian_czech_and_emoji_before_a_link_still_link_it(
    account: Account, setup: Setup
) -> None:
    config, store = setup('hashtags = ["CrossInnovation"]')
    summaries = {
        "pl": (
            "Zażółć gęślą jaźń — małe firmy kupują usługi projektantów. 🎨",
            "https://ci.example/pl?x=ą",
        ),
        "lt": ("Ąžuolų gatvėje dizaineriai ir ūkininkai kuria kartu. 🚀", "https://ci.example/lt"),
        "cs": ("Příliš žluťoučký kůň úpěl ďábelské ódy. 👩‍🎨", "https://ci.example/cs"),
    }
    for lang, (summary, url) in summaries.items():
        add_practice(store, lang, title=f"Titul {lang} ✨", summary=summary, url=url, language=lang)

    publish(store, config)

    records = account.records()
    assert [r.value.langs for r in records] == [["pl"], ["lt"], ["cs"]]
    for record, (summary, url) in zip(records, summaries.values(), strict=True):
        assert summary in record.value.text
        facets = facet_texts(record.value)
        assert ("tag:CrossInnovation", "#CrossInnovation") in facets
        assert (f"link:{url}", url) in facets


def test_a_mention_of_a_handle_on_the_network_becomes_a_mention_facet(
    bsky_network: Network, account: Account, setup: Setup
) -> None:
    partner, _ = bsky_network.account("partner")
    did = str(bsky_network.client(partner)._session.did)
    config, store = setup()
    add_practice(store, "thanks", summary=f"Thanks to @{partner} for hosting 🎉")

    publish(store, config)

    (record,) = account.records()
    assert (f"mention:{did}", f"@{partner}") in facet_texts(record.value)


def test_an_item_without_a_link_carries_its_image_with_alt_text_and_aspect_ratio(
    tmp_path: Path, account: Account, setup: Setup
) -> None:
    (tmp_path / "dot.png").write_bytes(PNG)
    config, store = setup(f'image_folder = "{tmp_path}"')
    add_practice(store, "pic", url=None, image="dot.png", summary="A workshop in the old mill.")

    publish(store, config)

    (record,) = account.records()
    (image,) = record.value.embed.images
    assert image.alt == "A workshop in the old mill."
    assert (image.aspect_ratio.width, image.aspect_ratio.height) == (1, 1)
    assert image.image.mime_type == "image/png"


def test_up_to_four_images_each_with_alt_text_and_aspect_ratio_a_large_one_shrunk(
    tmp_path: Path, account: Account, setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    import io

    from PIL import Image

    sizes = {"wide.png": (40, 20), "tall.png": (10, 30), "dot.png": (1, 1), "sq.png": (8, 8)}
    for name, size in sizes.items():
        out = io.BytesIO()
        Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
        (tmp_path / name).write_bytes(out.getvalue())
    noise = Image.effect_noise((1600, 900), 120).convert("RGB")
    noise.save(tmp_path / "noise.png", "PNG")
    assert (tmp_path / "noise.png").stat().st_size > 1_000_000
    config, store = setup(f'image_folder = "{tmp_path}"')
    add_practice(
        store,
        "gallery",
        image="wide.png",
        images=["noise.png", "tall.png", "dot.png", "sq.png"],
        summary="Four rooms of the old mill.",
    )

    publish(store, config)

    (post,) = posts_q.list_posts(store, channel="bluesky")
    assert post["status"] == "sent", post["last_error"]
    (record,) = account.records()
    shown = record.value.embed.images
    ratios = [(i.aspect_ratio.width, i.aspect_ratio.height) for i in shown]
    assert len(ratios) == 4
    assert ratios[0] == (40, 20) and ratios[2:] == [(10, 30), (1, 1)]
    assert abs(ratios[1][0] / ratios[1][1] - 16 / 9) < 0.01  # shrunk, its shape kept
    assert shown[1].image.mime_type == "image/jpeg" and shown[1].image.size <= 1_000_000
    assert {i.alt for i in shown} == {"Four rooms of the old mill."}
    # The images show instead of a card; the link stays a link in the text.
    assert "link:https://ci.example/gallery" in [kind for kind, _ in facet_texts(record.value)]
    # The fifth is left out, and the log says which.
    assert "sq.png left out" in caplog.text


def test_a_practices_images_are_kept_with_the_store_and_posted_after_their_files_went(
    tmp_path: Path, account: Account, setup: Setup
) -> None:
    desk = tmp_path / "desk"
    desk.mkdir()
    made = {
        name: coloured(colour)
        for name, colour in (("hall.png", "red"), ("stage.png", "green"), ("yard.png", "blue"))
    }
    for name, data in made.items():
        (desk / name).write_bytes(data)
    config, store = setup()
    add_practice(
        store,
        "mill",
        url=None,
        image=str(desk / "hall.png"),
        images=[str(desk / "stage.png"), str(desk / "yard.png")],
        summary="Three rooms of the old mill.",
    )
    shutil.rmtree(desk)  # the officer tidies their desk before the post goes out

    publish(store, config)

    (post,) = posts_q.list_posts(store, channel="bluesky")
    assert post["status"] == "sent", post["last_error"]
    (record,) = account.records()
    shown = record.value.embed.images
    assert len(shown) == 3
    # Each blob read back from the PDS is the file as it was, in the order given.
    for image, name in zip(shown, ("hall.png", "stage.png", "yard.png"), strict=True):
        blob = account.client.com.atproto.sync.get_blob(
            {"did": account.did, "cid": image.image.cid.encode()}
        )
        assert blob == made[name]


def test_an_announcement_shows_its_images_each_with_its_own_alt_text(
    tmp_path: Path, account: Account, setup: Setup
) -> None:
    desk = tmp_path / "desk"
    desk.mkdir()
    made = {c: coloured(c) for c in ("red", "green")}
    for colour, data in made.items():
        (desk / f"{colour}.png").write_bytes(data)
    config, store = setup()
    args = [a for c in made for a in ("--image", str(desk / f"{c}.png"), "--alt", f"A {c} wall")]
    queued = invoke(
        tmp_path / "commsbot.toml", "queue", "add", "Two walls", "--link",
        "https://ci.example/walls", *args, "--now",
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output
    shutil.rmtree(desk)

    publish(store, config)

    (record,) = account.records()
    shown = record.value.embed.images  # several images show instead of the link's card
    assert [i.alt for i in shown] == ["A red wall", "A green wall"]
    blobs = [
        account.client.com.atproto.sync.get_blob({"did": account.did, "cid": i.image.cid.encode()})
        for i in shown
    ]
    assert blobs == list(made.values())


def test_the_link_card_has_the_items_image_as_thumbnail(
    tmp_path: Path, account: Account, setup: Setup
) -> None:
    (tmp_path / "dot.png").write_bytes(PNG)
    config, store = setup(f'image_folder = "{tmp_path}"')
    add_practice(store, "card", image="dot.png", summary="Vouchers for design services.")

    publish(store, config)

    (record,) = account.records()
    card = record.value.embed.external
    assert (card.uri, card.title) == ("https://ci.example/card", "Practice card")
    assert card.description == "Vouchers for design services."
    assert card.thumb.mime_type == "image/png"


def test_a_missing_image_fails_the_post_naming_the_file(account: Account, setup: Setup) -> None:
    config, store = setup()
    add_practice(store, "gone", image="nowhere.png")

    publish(store, config)

    (post,) = posts_q.list_posts(store, channel="bluesky")
    assert post["status"] == "failed"
    assert "nowhere.png" in post["last_error"]
    assert account.records() == []


# -- exactly once -----------------------------------------------------------------------


def test_a_retry_after_a_lost_answer_finds_the_record_instead_of_posting_again(
    tmp_path: Path, account: Account
) -> None:
    post = Rendered(
        post_id=7,
        channel="bluesky",
        item_type="practice",
        item_ref="x",
        text="Zażółć 🎨 https://ci.example/x",
        idempotency_key="commsbot-retry",
        thread=("and a second part",),
    )

    async def go() -> tuple[Any, Any, Any, Any]:
        channel = account.channel(tmp_path)
        await channel.open()
        try:
            first = await channel.send(post)
            # The same row again, as if the first answer had been lost: with the attempt
            # known, and without it (a store restored from a backup).
            retried = await channel.send(replace(post, previous_attempt_at=datetime.now(UTC)))
            blind = await channel.send(post)
            recovered = await channel.recover([post])
            return first, retried, blind, recovered
        finally:
            await channel.close()

    first, retried, blind, recovered = asyncio.run(go())

    assert first.outcome == Outcome.SENT
    assert (retried.outcome, retried.remote_id) == (Outcome.SENT, first.remote_id)
    assert (blind.outcome, blind.remote_id) == (Outcome.SENT, first.remote_id)
    assert [(d.outcome, d.remote_id) for d in recovered] == [(Outcome.SENT, first.remote_id)]
    assert len(account.records()) == 2
    assert first.remote_id.rsplit("/", 1)[1] == record_key("commsbot-retry", 0)


def test_a_record_key_holding_another_text_is_never_taken_for_the_post(
    tmp_path: Path, account: Account
) -> None:
    post = Rendered(7, "bluesky", "practice", "x", "The first text", "commsbot-other")

    async def go() -> Any:
        channel = account.channel(tmp_path)
        await channel.open()
        try:
            await channel.send(post)
            return await channel.send(replace(post, text="A different text"))
        finally:
            await channel.close()

    outcome = asyncio.run(go())

    assert outcome.outcome == Outcome.FAILED
    assert "holds another text" in (outcome.error or "")
    assert [r.value.text for r in account.records()] == ["The first text"]


def test_a_429_pauses_this_account_until_its_reset_and_the_others_keep_posting(
    account: Account, setup: Setup, forward_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store = setup(outbox=True)
    add_practice(store, "a")
    add_practice(store, "b")
    reset = int(time.time()) + 120
    forward_proxy.rules["com.atproto.repo.createRecord"] = ("429", reset)
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    monkeypatch.setenv("NO_PROXY", "")
    start = utcnow()

    summary = publish(store, config, fixed(start))

    assert forward_proxy.seen.get("com.atproto.repo.createRecord") == 1
    assert summary.outcomes["outbox"]["sent"] == 2
    state = engagement_q.channel_state(store, "bluesky")
    assert state is not None
    paused = datetime.fromisoformat(state["paused_until"])
    assert start + timedelta(seconds=115) <= paused <= start + timedelta(seconds=122)
    first, second = posts_q.list_posts(store, channel="bluesky")
    assert (first["status"], first["attempts"]) == ("queued", 0)
    assert first["last_error"].startswith("rate limit reached; account paused for ")
    assert (second["status"], second["attempts"]) == ("queued", 0)

    later = publish(store, config, fixed(start + timedelta(seconds=30)))
    assert later.problems == [f"bluesky is paused until {state['paused_until']}"]
    assert account.records() == []

    forward_proxy.rules.clear()
    publish(store, config, fixed(paused + timedelta(seconds=1)))
    assert len(account.records()) == 2


def test_write_points_nearly_used_pause_the_account_before_the_pds_says_429(
    account: Account, setup: Setup, forward_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store = setup(outbox=True)
    for slug in ("a", "b", "c"):
        add_practice(store, slug)
    reset = int(time.time()) + 600
    # After the first record the PDS says 2 points are left: a record costs 3.
    forward_proxy.rules["com.atproto.repo.createRecord"] = ("points", (2, reset))
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    monkeypatch.setenv("NO_PROXY", "")
    start = utcnow()

    summary = publish(store, config, fixed(start))

    assert summary.outcomes["outbox"]["sent"] == 3
    assert forward_proxy.seen.get("com.atproto.repo.createRecord") == 1
    assert len(account.records()) == 1
    state = engagement_q.channel_state(store, "bluesky")
    assert state is not None
    paused = datetime.fromisoformat(state["paused_until"])
    assert start + timedelta(seconds=590) <= paused <= start + timedelta(seconds=602)
    statuses = [
        (p["status"], p["last_error"]) for p in posts_q.list_posts(store, channel="bluesky")
    ]
    assert statuses[0] == ("sent", None)
    assert statuses[1][0] == "queued"
    assert statuses[1][1].startswith("write points nearly used (2 left)")


# -- the session ------------------------------------------------------------------------


def test_the_session_is_kept_and_resumed_without_the_password(
    tmp_path: Path,
    account: Account,
    setup: Setup,
    forward_proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, store = setup()
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    monkeypatch.setenv("NO_PROXY", "")
    add_practice(store, "one")
    publish(store, config)
    session = tmp_path / f"bluesky-{account.handle}.session"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert os.environ[PASSWORD_ENV] not in session.read_text()

    monkeypatch.delenv(PASSWORD_ENV)  # a run that can only resume
    add_practice(store, "two")
    publish(store, config)

    assert forward_proxy.seen.get("com.atproto.server.createSession") == 1
    assert len(account.records()) == 2


def test_a_session_that_cannot_be_kept_does_not_hold_the_post_back(
    tmp_path: Path, account: Account, setup: Setup
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    config, store = setup('session_folder = "not-a-folder"')
    add_practice(store, "one")

    publish(store, config)

    (post,) = posts_q.list_posts(store, channel="bluesky")
    assert post["status"] == "sent"
    assert len(account.records()) == 1


def test_channels_test_prints_the_handle_did_pds_and_limits(
    tmp_path: Path, bsky_network: Network, account: Account
) -> None:
    path = bluesky_config(tmp_path, bsky_network, account.handle)

    result = invoke(path, "channels", "test", "bluesky")

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"account  @{account.handle}\n"
        f"did      {account.did}\n"
        f"pds      {bsky_network.pds}\n"
        "limit    300 graphemes, links and hashtags as facets\n"
        "images   up to 4 a post, 1000000 bytes each, with alt text\n"
        "posting  long posts as a thread; writes: 5000 points an hour, 35000 a day, 3 per post\n"
        "bluesky: OK\n"
    )
    assert os.environ[PASSWORD_ENV] not in result.output


def test_channels_test_names_a_refused_app_password(
    tmp_path: Path, bsky_network: Network, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong-password")
    path = bluesky_config(tmp_path, bsky_network, account.handle)

    result = invoke(path, "channels", "test", "bluesky")

    assert result.exit_code != 0
    assert f"refused {account.handle} with the app password in {PASSWORD_ENV}" in result.output
    assert "wrong-password" not in result.output
    assert "Traceback" not in result.output


# -- engagement (the AppView) ------------------------------------------------------------


def test_engagement_counts_a_partners_like_repost_reply_and_quote(
    tmp_path: Path, bsky_appview: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = our_account(bsky_appview, monkeypatch)
    partner_handle, _ = bsky_appview.account("partner")
    partner = bsky_appview.client(partner_handle)
    config = load_config(bluesky_config(tmp_path, bsky_appview, handle))
    with Store(config.store.path) as store:
        reference(store)
        add_practice(store, "liked", summary="Partners will like this.")
        add_practice(store, "quiet")
        start = utcnow()
        publish(store, config, fixed(start))
        liked, quiet = posts_q.list_posts(store, channel="bluesky")
        bsky_appview.process_all()
        ref = partner.get_posts([liked["remote_id"]]).posts[0]
        from atproto import models

        strong = models.ComAtprotoRepoStrongRef.Main(uri=ref.uri, cid=ref.cid)
        partner.like(ref.uri, ref.cid)
        partner.repost(ref.uri, ref.cid)
        partner.send_post(
            "Great idea!", reply_to=models.AppBskyFeedPost.ReplyRef(root=strong, parent=strong)
        )
        partner.send_post("Look at this", embed=models.AppBskyEmbedRecord.Main(record=strong))
        bsky_appview.process_all()

        async def collect(moment: datetime) -> dict[str, Any]:
            channels = await pipeline.open_channels(config, [])
            try:
                return await collect_engagement(JobContext(store, config, fixed(moment), channels))
            finally:
                await pipeline.close_channels(channels)

        # The same decaying schedule as Mastodon: first one interval (an hour) after the
        # send, then hourly in the first day.
        assert asyncio.run(collect(start + timedelta(minutes=5))) == {"bluesky": 0}
        assert asyncio.run(collect(start + timedelta(minutes=65))) == {"bluesky": 2}
        counts = [engagement_q.latest(store, p["id"]) or {} for p in (liked, quiet)]
        assert [
            (c.get("favourites"), c.get("boosts"), c.get("replies"), c.get("quotes"))
            for c in counts
        ] == [
            (1, 1, 1, 1),
            (0, 0, 0, 0),
        ]
        assert asyncio.run(collect(start + timedelta(minutes=90))) == {"bluesky": 0}
        assert asyncio.run(collect(start + timedelta(minutes=130))) == {"bluesky": 2}

    # The audience: the profile's followers count.
    partner.follow(str(ref.author.did))
    bsky_appview.process_all()

    async def audience() -> int | None:
        channels = await pipeline.open_channels(config, [])
        try:
            return await channels["bluesky"].audience_size()
        finally:
            await pipeline.close_channels(channels)

    assert asyncio.run(audience()) == 1


def test_two_bluesky_accounts_each_post_what_their_filters_take_once(
    tmp_path: Path, bsky_network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    network_handle, password = bsky_network.account("network")
    tallinn_handle, tallinn_password = bsky_network.account("tallinn")
    monkeypatch.setenv(PASSWORD_ENV, password)
    monkeypatch.setenv("COMMSBOT_TEST_TALLINN_PASSWORD", tallinn_password)
    sections = f"""
[channels.network-bluesky]
kind = "bluesky"
enabled = true
service = "{bsky_network.pds}"
handle = "{network_handle}"
app_password_env = "{PASSWORD_ENV}"

[channels.tallinn-bluesky]
kind = "bluesky"
enabled = true
service = "{bsky_network.pds}"
handle = "{tallinn_handle}"
app_password_env = "COMMSBOT_TEST_TALLINN_PASSWORD"
cities = ["tallinn"]
"""
    path = channel_config(tmp_path, sections)
    config = load_config(path)
    with Store(config.store.path) as store:
        reference(store)
        add_practice(store, "vilnius-hub")
        add_practice(store, "tallinn-hub", city="tallinn")

        publish(store, config)
        publish(store, config)

        sent = {
            name: sorted(p["item_ref"] for p in posts_q.list_posts(store, channel=name))
            for name in ("network-bluesky", "tallinn-bluesky")
        }
    assert sent == {
        "network-bluesky": ["tallinn-hub", "vilnius-hub"],
        "tallinn-bluesky": ["tallinn-hub"],
    }
    network = Account(bsky_network, network_handle)
    tallinn = Account(bsky_network, tallinn_handle)
    assert len(network.records()) == 2
    assert [r.value.text.splitlines()[0] for r in tallinn.records()] == [
        "Practice tallinn-hub (Tallinn, Brokerage)"
    ]


def test_langs_is_the_language_of_the_text_posted(
    account: Account, setup: Setup, tmp_path: Path
) -> None:
    """An account posting in Polish (#19): a practice's Polish translation and an
    announcement's go out with ``langs = ["pl"]``, as Mastodon's ``language``."""
    from commsbot.content.translations import translate
    from commsbot.content.types import TYPES

    config, store = setup('languages = ["pl"]\nmissing_translation = "skip"')
    add_practice(store, "depot", title="Tram depot studios", summary="Studios in a depot.")
    translate(
        store,
        TYPES["practice"],
        "depot",
        "pl",
        {"title": "Studia w zajezdni", "summary": "Pracownie w dawnej zajezdni."},
        datetime.now(UTC),
    )
    queued = invoke(
        tmp_path / "commsbot.toml",
        "queue",
        "add",
        "The conference opens",
        "--translation",
        "pl=Konferencja się zaczyna",
        "--now",
    )
    assert queued.exit_code == 0, queued.output

    publish(store, config)

    records = {r.value.text.split("\n")[0]: r.value for r in account.records()}
    assert records["Konferencja się zaczyna"].langs == ["pl"]
    [practice] = [v for text, v in records.items() if text.startswith("Studia w zajezdni")]
    assert practice.langs == ["pl"]
    assert "Tram depot" not in practice.text
