"""SVG charts: text alternatives, escaping, scale; no inline styles (the CSP forbids them)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from unionevents.reports import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def test_bar_chart_is_an_image_with_title_and_description():
    svg = parse(charts.bar_chart("c1", "Unique participants", "The most: <A&B> with 5", ["<A&B>", "C"], [5, 0]))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c1-title c1-desc"
    assert svg.find(f"{SVG}title").text == "Unique participants"
    assert svg.find(f"{SVG}desc").text == "The most: <A&B> with 5"
    bars = svg.findall(f"{SVG}rect")
    assert len(bars) == 2 and int(bars[0].get("width")) > int(bars[1].get("width")) == 0
    assert bars[0].find(f"{SVG}title").text == "<A&B>: 5"
    assert "style" not in str(charts.bar_chart("c", "t", "d", ["x"], [1]))


def test_line_chart_has_a_marker_per_point_and_a_legend():
    svg = parse(charts.line_chart("c2", "Trend", "Per month", ["2025-01", "2025-02", "2025-03"],
                                  [("Registrations", [10, 20, 5]), ("Attended", [5, 0, 3])]))
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text == "Trend"
    assert len(svg.findall(f"{SVG}polyline")) == 2
    assert len(svg.findall(f"{SVG}circle")) == 3 + 1  # three points and the legend marker
    assert [t.text for t in svg.findall(f"{SVG}text") if t.get("class") == "legend"] == ["Registrations", "Attended"]


def test_empty_and_single_point_charts_render():
    assert parse(charts.bar_chart("e", "t", "d", [], [])).get("role") == "img"
    assert parse(charts.line_chart("e", "t", "d", ["2025-01"], [("a", [0])])).get("role") == "img"


# --------------------------------------------------------------------------- readable at 360 and 1280 px

PHONE_BOX_PX = 328    # a 360 px phone less the page's padding
DESKTOP_BOX_PX = 480  # the chart's column at 1280 px (2 of 5 columns, at most 40rem)


def _texts(svg):
    return [t for t in svg.iter() if t.tag.endswith("text")]


def test_chart_text_renders_at_least_12_px_on_a_phone_and_a_desktop():
    for px in (PHONE_BOX_PX, DESKTOP_BOX_PX):
        assert charts.FONT * px / charts.WIDTH >= 12, px


def test_twelve_month_labels_neither_overlap_nor_leave_the_drawing():
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    svg = parse(charts.line_chart("m", "Trend", "Per month", months,
                                  [("报名人次", list(range(12))), ("已确认名额", [3] * 12), ("已签到", [1] * 12)]))
    width = float(svg.get("viewBox").split()[2])
    labels = [t for t in _texts(svg) if t.get("class") == "axis-label" and t.text in months]
    assert labels and labels[0].text == "2026-01"
    spans = []
    for t in labels:
        x, w = float(t.get("x")), len(t.text) * charts.CHAR_W
        start = {"start": x, "end": x - w}.get(t.get("text-anchor"), x - w / 2)
        spans.append((start, start + w))
        assert 0 <= start and start + w <= width, (t.text, start, w)  # nothing clipped ("2026-1")
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # no two labels overlap
    legends = [t for t in _texts(svg) if t.get("class") == "legend"]
    assert len({t.get("y") for t in legends}) == 3  # one legend row per series: none runs off the side
