"""The console's reads of the outbox (``store.queue_views``) against the rule they keep."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from commsbot.store import Store, iso
from commsbot.store import posts as posts_q
from commsbot.store import queue_views as qv
from tests.support.base import NOW


def test_by_status_is_the_first_of_all_those_states_soonest_first(tmp_path: Path) -> None:
    rng = random.Random(17)
    with Store(tmp_path / "commsbot.db") as store:
        posts_q.insert_posts(
            store,
            [
                {
                    "item_type": "news",
                    "item_id": n,
                    "item_ref": f"news-{n}",
                    "channel": "outbox",
                    "status": rng.choice(("failed", "unknown", "queued")),
                    "text": f"Post {n}",
                    # Few distinct times, so that ties are broken by id.
                    "not_before": iso(NOW + timedelta(hours=rng.randrange(12))),
                }
                for n in range(300)
            ],
            NOW,
        )
        every = store.rows("SELECT id, status, not_before FROM posts")
        for statuses in (("failed", "unknown"), ("unknown",), ("queued", "failed", "unknown")):
            expected = sorted(
                (p for p in every if p["status"] in statuses),
                key=lambda p: (p["not_before"], p["id"]),
            )
            for limit in (1, 20, 500):
                found = qv.by_status(store, statuses, limit)
                assert [p["id"] for p in found] == [p["id"] for p in expected[:limit]]
