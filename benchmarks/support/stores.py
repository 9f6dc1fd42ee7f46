"""The busy store's practices, built the same way for every benchmark that needs them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commsbot.content.items import load_sample
from commsbot.store import Store
from commsbot.store import content as content_q


def sample_with_practices(
    store: Store, count: int, when: datetime, **fields: Any
) -> list[dict[str, Any]]:
    """The sample network plus ``count`` practices spread over its cities and themes
    (``fields`` added to each); returns their ``id`` and ``slug``, in order."""
    load_sample(store, when)
    cities = [c["slug"] for c in content_q.cities(store)]
    themes = [t["slug"] for t in content_q.themes(store)]
    content_q.insert_items(
        store,
        "practice",
        [
            {
                "slug": f"bench-{i}",
                "title": f"Practice {i} in Plzeň & Vilnius",
                "city": cities[i % len(cities)],
                "theme": themes[i % len(themes)],
                **fields,
            }
            for i in range(count)
        ],
        when,
    )
    return store.rows("SELECT id, slug FROM practices WHERE slug LIKE 'bench-%' ORDER BY id")
