"""Bar and line charts as server-rendered SVG: no JavaScript, no library, printable.

Each chart is ``role="img"`` with a ``<title>`` and a ``<desc>`` that says what it shows and its
largest values in words; the page puts the same numbers in a table beside it.  Colours come from
classes (static/css/reports.css), never inline styles (the CSP forbids them), and series also
differ by dash pattern and marker shape so they read in grey print and for colour-blind readers.
"""
from __future__ import annotations

from typing import Sequence

from markupsafe import Markup, escape

#: Charts scale with the page (``width: 100%`` of their box, at most 40rem).  The drawing is this
#: many units wide and its text FONT units high, so on a 360 px phone (a box of ~328 px) text renders
#: at 15 × 328 / 380 ≈ 13 px, and on a 1280 px screen larger: never below 12 px (issue 20).
WIDTH = 380
FONT = 15
#: A rough width of one character of FONT-unit text (CJK glyphs are about one em, digits half).
CHAR_W = FONT * 0.62
BAR_HEIGHT = 20
BAR_GAP = 10
LABEL_HEIGHT = FONT + 4
PAD = 8


def _num(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return f"{int(value):,}"


def _frame(chart_id: str, title: str, desc: str, width: int, height: int, body: list[str],
           css_class: str) -> Markup:
    return Markup(
        f'<svg id="{escape(chart_id)}" class="chart {css_class}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>")


def bar_chart(chart_id: str, title: str, desc: str, labels: Sequence[str], values: Sequence[float],
              unit: str = "") -> Markup:
    """Horizontal bars, one per label (names of any length stay readable at 360 px): the label
    above its bar, the value at the bar's end."""
    top = max([v for v in values if v is not None] + [0])
    row = LABEL_HEIGHT + BAR_HEIGHT + BAR_GAP
    height = PAD * 2 + max(len(labels), 1) * row
    usable = WIDTH - 2 * PAD - 70  # room for the value text
    body = []
    for index, (label, value) in enumerate(zip(labels, values)):
        y = PAD + index * row
        length = 0 if not top or not value else max(2, round(usable * value / top))
        body.append(f'<text class="chart-label" x="{PAD}" y="{y + LABEL_HEIGHT - 4}">{escape(label)}</text>')
        body.append(f'<rect class="bar" x="{PAD}" y="{y + LABEL_HEIGHT}" width="{length}" '
                    f'height="{BAR_HEIGHT}"><title>{escape(label)}: {escape(_num(value or 0))}'
                    f'{escape(unit)}</title></rect>')
        body.append(f'<text class="chart-value" x="{PAD + length + 6}" y="{y + LABEL_HEIGHT + BAR_HEIGHT - 6}">'
                    f'{escape(_num(value or 0))}{escape(unit)}</text>')
    if not labels:
        body.append(f'<text class="chart-empty" x="{PAD}" y="{PAD + 20}">–</text>')
    return _frame(chart_id, title, desc, WIDTH, height, body, "bar-chart")


MARKERS = ("circle", "square", "diamond")


def _marker(kind: str, x: float, y: float, css: str, tip: str) -> str:
    tip = f"<title>{escape(tip)}</title>"
    if kind == "square":
        return f'<rect class="{css}" x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8">{tip}</rect>'
    if kind == "diamond":
        return (f'<polygon class="{css}" points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} '
                f'{x - 5:.1f},{y:.1f}">{tip}</polygon>')
    return f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="4">{tip}</circle>'


def line_chart(chart_id: str, title: str, desc: str, x_labels: Sequence[str],
               series: Sequence[tuple[str, Sequence[float]]]) -> Markup:
    """Lines over months (up to three series), with a value axis, a legend (one row per series) and
    a marker per point.  Month labels are thinned so they never overlap, and the first and last are
    anchored inside the drawing so none is clipped."""
    shown = list(series[:3])
    legend_rows = max(len(shown), 1)
    top = max([v for _name, values in shown for v in values if v is not None] + [0]) or 1
    step = _nice_step(top)
    top = step * -(-top // step)
    left = PAD + round(len(_num(top)) * CHAR_W) + 6
    height, right, top_pad = 240 + legend_rows * (FONT + 8), 12, 12
    bottom = 30 + legend_rows * (FONT + 8)
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    n = max(len(x_labels), 1)

    def x_at(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y_at(v: float) -> float:
        return top_pad + plot_h - plot_h * (v or 0) / top

    body = []
    tick = 0
    while tick <= top:
        y = y_at(tick)
        body.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}"/>')
        body.append(f'<text class="axis-label" x="{left - 6}" y="{y + 5:.1f}" text-anchor="end">{_num(tick)}</text>')
        tick += step
    widest = max((len(label) for label in x_labels), default=1) * CHAR_W + 8
    # Shown labels are at least 1.5 label-widths apart (the end ones may be anchored inwards).
    every = max(1, -(-int(1.5 * widest * max(len(x_labels) - 1, 0)) // int(plot_w)))
    for i, label in enumerate(x_labels):
        if i % every == 0:
            x = x_at(i)
            anchor = "middle"
            if x - widest / 2 < PAD:
                anchor, x = "start", max(x - 4, PAD)
            elif x + widest / 2 > WIDTH - PAD:
                anchor, x = "end", min(x + 4, WIDTH - PAD)
            body.append(f'<text class="axis-label" x="{x:.1f}" y="{top_pad + plot_h + FONT + 6}" '
                        f'text-anchor="{anchor}">{escape(label)}</text>')
    body.append(f'<line class="axis" x1="{left}" y1="{top_pad + plot_h}" x2="{WIDTH - right}" '
                f'y2="{top_pad + plot_h}"/>')
    for index, (name, values) in enumerate(shown):
        css = f"series-{index}"
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(values))
        body.append(f'<polyline class="line {css}" points="{points}"/>')
        for i, v in enumerate(values):
            label = x_labels[i] if i < len(x_labels) else ""
            body.append(_marker(MARKERS[index], x_at(i), y_at(v), f"marker {css}", f"{name} {label}: {_num(v or 0)}"))
        lx = PAD
        ly = top_pad + plot_h + FONT + 22 + index * (FONT + 8)
        body.append(f'<line class="line {css}" x1="{lx}" y1="{ly}" x2="{lx + 28}" y2="{ly}"/>')
        body.append(_marker(MARKERS[index], lx + 14, ly, f"marker {css}", name))
        body.append(f'<text class="legend" x="{lx + 34}" y="{ly + 5}">{escape(name)}</text>')
    return _frame(chart_id, title, desc, WIDTH, height, body, "line-chart")


def _nice_step(top: float) -> int:
    """A round tick step giving about four to five grid lines."""
    raw = max(top / 4, 1)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return int(factor * magnitude)
    return int(10 * magnitude)  # pragma: no cover
