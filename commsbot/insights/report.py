"""The coordinator's HTML report: one self-contained file, charts as inline SVG.

Reads the store through ``insights.figures``, aggregates with ``insights.stats``,
lays charts out with ``commsbot.charts`` and renders ``templates/report/report.html.j2``.
The page makes no requests: no scripts, no fonts, no images, CSS inline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from commsbot import __version__
from commsbot.insights import charts, figures
from commsbot.insights import movement as mv
from commsbot.insights import stats as st
from commsbot.render import Renderer
from commsbot.store import Store

TEMPLATE = "report/report.html.j2"


# The bar of posts without a theme (or city) says what they are: "(none)" read as the
# biggest theme of all.
NO_THEME = "no theme: events, newsletters and announcements"
NO_CITY = "no city: newsletters and announcements"


def report_context(
    store: Store,
    period: st.Period,
    now: datetime,
    top: int,
    hashtags: Sequence[str] = (),
    digest_channels: Sequence[str] = (),
    movement_accounts: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything the report template shows, computed once."""
    summary = figures.summary(store, period)
    subscribers = figures.subscriber_history(store)
    commands, bot_total = figures.bot_usage(store, period)
    sub_groups, sub_total = st.subscriber_summary(subscribers, period, digest_channels)
    growth = st.subscriber_growth(subscribers, period, digest_channels)

    weekly = summary.cross("week", "channel")
    themes = summary.groups("theme")
    cities = summary.groups("city")
    heat = summary.cross("city", "theme", skip_none=True)
    movement = mv.load(store, period, top, accounts=movement_accounts)
    return {
        "period": period,
        "generated": now.astimezone(period.zone).strftime("%Y-%m-%d %H:%M %Z"),
        "version": __version__,
        "total": summary.total(),
        # A quotes column only where a platform that counts them (Bluesky) posted.
        "quotes": st.shows_quotes(summary.cells),
        "weekly": weekly,
        "weekly_chart": charts.stacked_columns(
            [label for _, label in weekly.rows],
            {
                label: [row[i].engagement for row in weekly.cells]
                for i, (_, label) in enumerate(weekly.columns)
            },
        ),
        # Several accounts make one platform: both views, one table each.
        "accounts": summary.groups("channel"),
        "platforms": summary.groups("platform"),
        "themes": themes,
        "themes_chart": charts.bar_chart(
            [(g.label if g.key else NO_THEME, g.engagement) for g in themes]
        ),
        "cities": cities,
        "cities_chart": charts.bar_chart(
            [(g.label if g.key else NO_CITY, g.engagement) for g in cities]
        ),
        "heat": heat,
        "heat_chart": charts.heat_map(
            [label for _, label in heat.rows],
            [label for _, label in heat.columns],
            [[(g.engagement, g.posts) for g in row] for row in heat.cells],
        ),
        "top": figures.top_posts(store, period, top),
        "subscribers": sub_groups,
        "subscribers_total": sub_total,
        "growth": growth,
        "has_subscribers": bool(subscribers),
        "growth_chart": charts.line_chart(growth.weeks, growth.active),
        "commands": commands,
        "bot_total": bot_total,
        "bot_chart": charts.bar_chart([(c.command, c.queries) for c in commands]),
        **movement_context(movement, hashtags),
    }


def movement_context(movement: mv.MovementFigures, hashtags: Sequence[str]) -> dict[str, Any]:
    """The movement section: its figures and charts."""
    weeks = movement.weeks
    audience = movement.audience
    return {
        "movement": movement,
        "hashtags": [f"#{tag}" for tag in hashtags],
        "voices_chart": charts.stacked_columns(
            [w.week for w in weeks],
            {
                "new voices": [w.new_voices for w in weeks],
                "returning voices": [w.voices - w.new_voices for w in weeks],
            },
        ),
        "languages_chart": charts.bar_chart([(x.language, x.statuses) for x in movement.languages]),
        "audience_chart": charts.line_chart(
            audience.weeks, {s.label: s.values for s in audience.series}
        ),
    }


def render_report(
    store: Store,
    period: st.Period,
    now: datetime,
    *,
    top: int = 10,
    templates: Path | None,
    hashtags: Sequence[str] = (),
    digest_channels: Sequence[str] = (),
    movement_accounts: Sequence[str] = (),
    language: str = "en",
) -> str:
    """The report as one HTML document in ``language`` (labels, dates, numbers);
    ``hashtags`` are the campaign's (``[movement]``), ``digest_channels`` the accounts whose
    subscribers are shown even when there are none, ``movement_accounts`` the Mastodon
    and Bluesky accounts tracking the movement, each on a line."""
    context = report_context(store, period, now, top, hashtags, digest_channels, movement_accounts)
    renderer = Renderer(templates, language)
    if renderer.language != "en":  # English keeps the report's established time stamp
        context["generated"] = renderer.words.datetime(now, period.zone, "long")
    renderer.env.filters["thousands"] = renderer.words.number
    return renderer.render_text(TEMPLATE, context, "the engagement report") + "\n"
