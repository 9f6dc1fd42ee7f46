"""Bluesky's exactly once under SIGKILL (#18): ``commsbot run --once`` killed again and
again between ``createRecord`` and the store write, then started once more.

The client goes through a proxy that passes each life's first ``createRecord`` on to the
PDS and holds its answer back: the record exists, the process never hears of it, and is
killed then. Every next life must find what the killed one made (``getRecord`` under the
row's record key) and post the rest. At the end every item is on the PDS exactly once
(read back from it), every row is ``sent`` with that record's URI, and nothing is
``unknown``: Bluesky never needs the officer to look.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from commsbot.config import load_config
from commsbot.store import Store
from commsbot.store import posts as posts_q
from tests.support.bluesky import Account, ForwardProxy, Network, bluesky_config, our_account
from tests.support.reliability import FORM, report
from tests.test_mastodon import add_practice, reference

CREATE = "com.atproto.repo.createRecord"
# Seconds a life may take to reach its createRecord, and the last life to post the rest.
LIFE_SECONDS = 120
# More items than kills: each life is killed at its first post, the last posts the rest.
ITEMS = FORM.kills * 2


def run_once(path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "commsbot", "--config", str(path), "run", "--once", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def statuses(path: Path) -> Counter[str]:
    with Store(load_config(path).store.path) as store:
        return Counter(p["status"] for p in posts_q.list_posts(store, channel="bluesky"))


@pytest.mark.timeout(LIFE_SECONDS * (FORM.kills + 2))
def test_killed_between_create_record_and_the_store_write_no_duplicate_no_loss_no_unknown(
    tmp_path: Path,
    bsky_network: Network,
    forward_proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handle = our_account(bsky_network, monkeypatch, "crash")
    account = Account(bsky_network, handle)
    path = bluesky_config(tmp_path, bsky_network, handle)
    with Store(load_config(path).store.path) as store:
        reference(store)
        for n in range(ITEMS):
            add_practice(store, f"p{n:03d}", summary=f"Practice number {n} 🎨 in Kraków")
    env = {**os.environ, "HTTP_PROXY": forward_proxy.url, "NO_PROXY": ""}
    forward_proxy.rules[CREATE] = ("hold", None)
    rng = random.Random(FORM.seed)
    left_sending = 0
    made_unheard = 0
    for kill in range(FORM.kills):
        forward_proxy.held.clear()
        before = len(account.records())
        proc = run_once(path, env)
        try:
            assert forward_proxy.held.wait(timeout=LIFE_SECONDS), f"life {kill}: no createRecord"
            # Anywhere in the window between the PDS making the record and the store write.
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        made_unheard += len(account.records()) - before
        left_sending += statuses(path)["sending"]

    forward_proxy.rules.clear()
    last = run_once(path, {k: v for k, v in env.items() if k != "HTTP_PROXY"})
    _, err = last.communicate(timeout=LIFE_SECONDS)
    assert last.returncode == 0, err
    assert "Traceback" not in err, err

    with Store(load_config(path).store.path) as store:
        rows = posts_q.list_posts(store, channel="bluesky")
    records = account.records()
    texts = Counter(str(r.value.text) for r in records)
    duplicates = sum(n - 1 for n in texts.values())
    done = Counter(r["status"] for r in rows)
    lost = ITEMS - done["sent"]
    figures: dict[str, Any] = {
        "items": ITEMS,
        "kills survived (SIGKILL after createRecord)": FORM.kills,
        "records the PDS made that a killed life never heard of": made_unheard,
        "posts left 'sending' by the kills": left_sending,
        "records (duplicates, lost, unknown)": (
            f"{len(records)} ({duplicates}, {lost}, {done['unknown']})"
        ),
    }
    report("crash test: Bluesky, SIGKILL between createRecord and the store", figures)
    assert made_unheard == FORM.kills  # each kill left a record the store did not know
    assert left_sending >= FORM.kills
    assert (duplicates, lost, done["unknown"]) == (0, 0, 0), figures
    assert dict(done) == {"sent": ITEMS}
    assert len(records) == ITEMS
    assert {r["remote_id"] for r in rows} == {str(r.uri) for r in records}
