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
