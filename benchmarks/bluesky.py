"""Posting to Bluesky: commsbot against a bare atproto loop, on the same local PDS.

Starts the local AT Protocol network (tests/bluesky, PDS + PLC on loopback), then posts
500 records per round in the order bare, commsbot, commsbot, bare (so the PDS's growing
repositories weigh on both alike), each side with its own fresh account. commsbot's time
is what ``run --once`` does to post: open the channel (the session), render 500
practices into the outbox, claim, send and record each. The bare loop posts the same
texts as the same records (facets detected by the SDK, ``langs``, the link card) with
the SDK's ``send_post``. The PDS is the floor: the target is a ratio of at most 1.05.

    .venv/bin/python benchmarks/bluesky.py [--posts 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from benchmarks.mastodon import SUMMARY, add_round, commsbot_round  # noqa: E402
from commsbot.config import load_config  # noqa: E402
from commsbot.store import Store  # noqa: E402
from commsbot.store import content as content_q  # noqa: E402
from commsbot.store import posts as posts_q  # noqa: E402
from tests.support import bluesky as bluesky_support  # noqa: E402
from tests.support.base import channel_config  # noqa: E402

PASSWORD_ENV = "COMMSBOT_BENCH_BLUESKY_PASSWORD"
WARM_UP = 50


def write_config(folder: Path, pds: str, handle: str) -> Path:
    section = (
        f'[channels.bluesky]\nenabled = true\nservice = "{pds}"\nhandle = "{handle}"\n'
        f'app_password_env = "{PASSWORD_ENV}"'
    )
    return channel_config(folder, section)


async def bare_round(network: bluesky_support.Network, rows: list[dict[str, str]]) -> float:
    from atproto import AsyncClient, models

    handle, password = network.account("bare")
    client = AsyncClient(network.pds)
    started = time.perf_counter()
    await client.login(handle, password, fetch_bsky_profile=False)
    did = client._session.did
    for row in rows:
        card = models.AppBskyEmbedExternal.Main(
            external=models.AppBskyEmbedExternal.External(
                uri=row["link"], title=row["title"], description=SUMMARY
            )
        )
        await client.send_post(
            row["text"],
            profile_identify=did,
            facets=await client.detect_facets(row["text"]),
            langs=["pl"],
            embed=card,
        )
    elapsed = time.perf_counter() - started
    await client.request.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=500, help="records per round")
    posts = parser.parse_args().posts
    missing = bluesky_support._missing(appview=False)
    if missing:
        print(f"skipped: {missing}")
        return
    logging.disable(logging.WARNING)
    times: dict[str, list[float]] = {"bare": [], "commsbot": []}
    # The client's own CPU time, apart from waiting for the PDS.
    cpus = {"bare": 0.0, "commsbot": 0.0}
    with tempfile.TemporaryDirectory() as folder, bluesky_support.running() as network:
        base = Path(folder)
        sample = json.loads((ROOT / "commsbot/content/sample/network.json").read_text("utf-8"))
        with Store(base / "commsbot.db") as store:
            content_q.insert_reference(
                store, sample["cities"], sample["themes"], sample["institutions"]
            )
            rows = [
                {
                    "text": f"Practice {n} of round 0 (Warsaw, Brokerage)\n\n{SUMMARY}"
                    f"\n\n#Brokerage #Design #Games\n\nhttps://ci.example/r0/{n}",
                    "link": f"https://ci.example/r0/{n}",
                    "title": f"Practice {n} of round 0",
                }
                for n in range(posts)
            ]
            # Not measured: the PDS's first records are slower (its code warming up).
            asyncio.run(bare_round(network, rows[:WARM_UP]))
            for round_no, side in enumerate(("bare", "commsbot", "commsbot", "bare")):
                if side == "commsbot":
                    # A fresh account, as the bare side has: one repository does not
                    # grow on one side only.
                    handle, password = network.account("comms")
                    os.environ[PASSWORD_ENV] = password
                    config = load_config(write_config(base, network.pds, handle))
                    add_round(store, round_no, posts)
                    cpu = time.process_time()
                    times[side].append(asyncio.run(commsbot_round(store, config)))
                    cpus[side] += time.process_time() - cpu
                    sent = posts_q.list_posts(store, status="sent", limit=10 * posts)
                    rows = [{"text": r["text"], **_card(store, r["id"])} for r in sent[-posts:]]
                else:
                    # The same texts commsbot renders (its first round, before that).
                    cpu = time.process_time()
                    times[side].append(asyncio.run(bare_round(network, rows)))
                    cpus[side] += time.process_time() - cpu
    bare, ours = sum(times["bare"]), sum(times["commsbot"])
    total = 2 * posts
    print(f"local PDS (@atproto/dev-env), {posts} posts per round: bare, commsbot, commsbot, bare")
    for side, label in (("bare", "bare atproto send_post loop"), ("commsbot", "commsbot")):
        rounds = ", ".join(f"{t:.2f} s" for t in times[side])
        print(f"{label:28} {rounds}  ({total / sum(times[side]):.1f} posts/s)")
    print(f"client CPU time: bare {cpus['bare']:.2f} s, commsbot {cpus['commsbot']:.2f} s")
    verdict = "met" if ours / bare <= 1.05 else "MISSED"
    print(f"ratio commsbot / bare: {ours / bare:.3f} (target <= 1.05: {verdict})")


def _card(store: Store, post_id: int) -> dict[str, str]:
    post = posts_q.get_post(store, post_id)
    assert post is not None
    return {"link": post["payload"]["link"], "title": post["payload"]["title"]}


if __name__ == "__main__":
    main()
