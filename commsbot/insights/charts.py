"""Chart geometry for the HTML report: numbers in, positioned shapes out.

Pure Python; the SVG markup is written by the macros in ``templates/report/charts.html.j2``.
Every chart has a fixed viewBox and scales to the width of the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Narrow on purpose: on a phone the charts are drawn near their own size, text stays legible.
WIDTH = 420
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")
EMPTY_CELL = "#eef0f3"
_LIGHT = (222, 235, 247)
_DARK = (8, 48, 107)


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_scale(peak: float, steps: int = 4) -> list[int]:
    """Axis ticks from 0 to a round maximum at or above ``peak``, in whole steps."""
    if peak <= 0:
        return [0, 1]
    raw = peak / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, math.ceil(step))
    top = step * math.ceil(peak / step)
    return list(range(0, top + 1, step))


def wrap(label: str, width: int, lines: int = 3) -> list[str]:
    """A label broken at spaces and after hyphens into lines of about ``width`` characters;
    a word longer than that keeps its own line, past ``lines`` the rest is shortened."""
    words = [w for w in label.replace("-", "- ").split(" ") if w]
    out: list[str] = []
    for word in words:
        glue = "" if not out or out[-1].endswith("-") else " "
        if out and len(out[-1]) + len(glue) + len(word) <= width:
            out[-1] += glue + word
        else:
            out.append(word)
    if len(out) > lines:
        rest = " ".join(out[lines - 1 :]).replace("- ", "-")
        out = [*out[: lines - 1], rest[: width - 1] + "…"]
    return out


@dataclass(frozen=True)
class Bar:
    """A rectangle standing for a value: a bar, or one series' part of a stacked column."""

    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    colour: str
    series: str = ""


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, each under its label, the value written after the bar."""

    width: int
    height: int
    bars: list[Bar]


def bar_chart(items: Sequence[tuple[str, int]]) -> BarChart:
    row, label_h, bar_h = 42, 19, 17
    room = WIDTH - 48
    peak = max((v for _, v in items), default=0) or 1
    bars = [
        Bar(
            label=label,
            value=value,
            x=0,
            y=i * row + label_h,
            width=round(room * value / peak, 1),
            height=bar_h,
            colour=colour(0),
        )
        for i, (label, value) in enumerate(items)
    ]
    return BarChart(WIDTH, row * len(items), bars)


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class XLabel:
    text: str
    x: float


@dataclass(frozen=True)
class Series:
    name: str
    colour: str


@dataclass(frozen=True)
class Point:
    category: str
    value: int
    x: float
    y: float


@dataclass(frozen=True)
class Line:
    series: str
    colour: str
    points: list[Point]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)


@dataclass(frozen=True)
class Plot:
    """A plot area with a value axis: stacked columns or lines over categories."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    ticks: list[Tick]
    labels: list[XLabel]
    series: list[Series]
    segments: list[Bar]
    lines: list[Line]


_LEFT, _TOP, _PLOT_H, _BOTTOM = 40, 12, 180, 26


def _frame(categories: Sequence[str], peak: float) -> tuple[list[Tick], list[XLabel], float, float]:
    """Ticks, thinned category labels, and each category's slot width and value scale."""
    ticks_at = nice_scale(peak)
    scale = _PLOT_H / ticks_at[-1]
    ticks = [Tick(v, round(_TOP + _PLOT_H - v * scale, 1)) for v in ticks_at]
    slot = (WIDTH - _LEFT - 8) / max(len(categories), 1)
    every = max(1, math.ceil(len(categories) / 5))
    last = len(categories) - 1
    # The last category is always labelled (the latest week is often the only one with
    # data); a thinned label too close to it gives way.
    shown = [i for i in range(last + 1) if i == last or (i % every == 0 and last - i >= every)]
    labels = [XLabel(categories[i], round(_LEFT + slot * (i + 0.5), 1)) for i in shown]
    return ticks, labels, slot, scale


def _plot(
    ticks: list[Tick],
    labels: list[XLabel],
    series: list[Series],
    *,
    segments: Sequence[Bar] = (),
    lines: Sequence[Line] = (),
) -> Plot:
    bottom = _TOP + _PLOT_H
    return Plot(
        WIDTH,
        bottom + _BOTTOM,
        _LEFT,
        WIDTH - 8,
        _TOP,
        bottom,
        ticks,
        labels,
        series,
        list(segments),
        list(lines),
    )


def stacked_columns(categories: Sequence[str], series: Mapping[str, Sequence[int]]) -> Plot:
    """One column per category, stacked by series (weeks x channels)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    ticks, labels, slot, scale = _frame(categories, max(totals, default=0))
    bar_w = round(min(slot * 0.7, 40), 1)
    names = [Series(name, colour(i)) for i, name in enumerate(series)]
    segments = []
    for i, category in enumerate(categories):
        base: float = _TOP + _PLOT_H
        x = round(_LEFT + slot * (i + 0.5) - bar_w / 2, 1)
        for s in names:
            value = series[s.name][i]
            if value <= 0:
                continue
            h = value * scale
            base -= h
            segments.append(
                Bar(category, value, x, round(base, 1), bar_w, round(h, 1), s.colour, s.name)
            )
    return _plot(ticks, labels, names, segments=segments)


def line_chart(categories: Sequence[str], series: Mapping[str, Sequence[int | None]]) -> Plot:
    """One line per series over categories (active subscribers per week and channel); a
    value of None (not measured yet) has no point."""
    peak = max((v for values in series.values() for v in values if v is not None), default=0)
    ticks, labels, slot, scale = _frame(categories, peak)
    names = [Series(name, colour(i)) for i, name in enumerate(series)]
    lines = [
        Line(
            s.name,
            s.colour,
            [
                Point(
                    c,
                    value,
                    round(_LEFT + slot * (i + 0.5), 1),
                    round(_TOP + _PLOT_H - value * scale, 1),
                )
                for i, (c, value) in enumerate(zip(categories, series[s.name], strict=True))
                if value is not None
            ],
        )
        for s in names
    ]
    return _plot(ticks, labels, names, lines=lines)


@dataclass(frozen=True)
class Cell:
    row: str
    column: str
    value: int
    posts: int
    x: float
    y: float
    fill: str
    dark: bool  # light text on it


@dataclass(frozen=True)
class Heading:
    lines: list[str]
    x: float
    y: float


@dataclass(frozen=True)
class HeatMap:
    width: int
    height: int
    cell_width: float
    cell_height: float
    columns: list[Heading]
    rows: list[Heading]
    cells: list[Cell]


def _shade(t: float) -> str:
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(_LIGHT, _DARK, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heat_map(
    rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[tuple[int, int]]]
) -> HeatMap:
    """Cells shaded by value; ``values[r][c]`` is (engagement, posts). Zero stays grey."""
    label_w, head_h, cell_h = 84, 52, 30
    cell_w = (WIDTH - label_w) / max(len(columns), 1)
    peak = max((v for row in values for v, _ in row), default=0) or 1
    cells = []
    for r, name in enumerate(rows):
        for c, column in enumerate(columns):
            value, posts = values[r][c]
            t = value / peak
            cells.append(
                Cell(
                    name,
                    column,
                    value,
                    posts,
                    round(label_w + c * cell_w, 1),
                    head_h + r * cell_h,
                    _shade(0.15 + 0.85 * t) if value else EMPTY_CELL,
                    t > 0.5,
                )
            )
    headings = [
        Heading(wrap(c, 10), round(label_w + (i + 0.5) * cell_w, 1), 14)
        for i, c in enumerate(columns)
    ]
    side = [Heading([r], label_w - 8, head_h + (i + 0.5) * cell_h) for i, r in enumerate(rows)]
    return HeatMap(
        WIDTH, head_h + cell_h * len(rows) + 4, round(cell_w, 1), cell_h, headings, side, cells
    )
