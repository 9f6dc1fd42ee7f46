"""The figures ``stats`` and the report read from the store, once for both.

``insights.stats`` aggregates and stays pure; this is where its inputs come from.
"""

from __future__ import annotations

from typing import Any

from commsbot.content.places import Places
from commsbot.insights import stats as st
from commsbot.store import Store
from commsbot.store import stats as stats_q


def reference(store: Store) -> Places:
    """The known cities and themes, so groups with no posts show too."""
    return Places.load(store)


def sent_posts(store: Store, period: st.Period) -> list[st.PostFigures]:
    """The posts sent in the period, each with its latest engagement."""
    return st.post_figures(stats_q.sent_posts(store, period.since, period.until))


def subscriber_history(store: Store) -> list[dict[str, Any]]:
    """Every subscriber's channel, frequency, and when they came and went."""
    return stats_q.subscriber_history(store)


def bot_usage(store: Store, period: st.Period) -> tuple[list[st.CommandUse], st.CommandUse]:
    """The bot's commands used in the period, and their total."""
    return st.bot_usage(stats_q.bot_queries(store, period.since, period.until))
