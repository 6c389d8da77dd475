"""The SVG chart renderer: bar, line and pie; labels escaped; right-to-left mirrored."""
import re
import xml.etree.ElementTree as ET

import pytest

from app.reports import Chart, Column, Report
from app.reports.charts import nice_ticks, render_chart
from app.reports.formatting import localized

SVG = "{http://www.w3.org/2000/svg}"


def _report(chart):
    return Report(title="t", description="d", query=lambda conn, p: [], chart=chart, roles=["FrontDesk"], columns=[
        Column("label", "Label"), Column("a", "Series <A>", "int"), Column("b", "Series B", "int")])


ROWS = [{"label": "<script>alert(1)</script>", "a": 5, "b": 2}, {"label": "Ünïcode & co", "a": 12, "b": 0},
        {"label": "العربية", "a": 0, "b": 7}]


def _draw(kind, y=("a", "b"), rows=ROWS, rtl=False):
    chart = Chart(kind, x="label", y=list(y))
    svg = render_chart(chart, _report(chart), rows, title="Title & <more>", format_value=localized, rtl=rtl)
    return str(svg), ET.fromstring(str(svg))  # well-formed XML, or this raises


@pytest.mark.parametrize("kind,y", [("bar", ("a", "b")), ("line", ("a", "b")), ("pie", ("a",))])
def test_every_chart_type_is_well_formed_svg_with_escaped_labels(kind, y):
    text, root = _draw(kind, y)
    assert root.tag == SVG + "svg" and root.get("role") == "img"
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "Title &amp; &lt;more&gt;" in text
    assert root.get("direction") == "ltr"  # anchors mean the same whatever the page direction


def test_bar_chart_has_one_bar_per_value_axes_and_a_legend():
    text, root = _draw("bar")
    bars = [r for r in root.iter(SVG + "rect") if r.find(SVG + "title") is not None]
    assert len(bars) == 6
    legend = [t.text for t in root.iter(SVG + "text")]
    assert "Series <A>" in legend and "Series B" in legend
    assert {"0", "5", "10", "15"} <= set(legend)  # value axis ticks


def test_line_chart_draws_a_polyline_per_series():
    _, root = _draw("line")
    assert len(list(root.iter(SVG + "polyline"))) == 2
    assert len(list(root.iter(SVG + "circle"))) == 6


def test_pie_chart_shares_and_skips_zero_slices():
    text, root = _draw("pie", ("b",))
    slices = list(root.iter(SVG + "path"))
    assert len(slices) == 2  # the zero value has no slice
    assert "77.8%" in text and "22.2%" in text


def test_rtl_mirrors_the_layout():
    _, ltr = _draw("bar")
    _, rtl = _draw("bar", rtl=True)

    def first_bar_x(root):
        return float(next(r for r in root.iter(SVG + "rect") if r.find(SVG + "title") is not None).get("x"))

    assert first_bar_x(ltr) < 380 < first_bar_x(rtl)
    anchors = {t.get("text-anchor") for t in rtl.iter(SVG + "text") if re.fullmatch(r"\d+", t.text or "")}
    assert anchors == {"start"}  # value-axis numbers sit left of the axis on the right


def test_nothing_to_draw_gives_no_chart():
    chart = Chart("pie", x="label", y=["b"])
    assert render_chart(chart, _report(chart), [], title="t", format_value=localized) is None
    assert render_chart(chart, _report(chart), [{"label": "x", "b": 0}], title="t", format_value=localized) is None


def test_nice_ticks():
    assert nice_ticks(12, integer=True) == [0, 5, 10, 15]
    assert nice_ticks(0.37) == [0, 0.1, 0.2, 0.3, 0.4]
    assert nice_ticks(3, integer=True) == [0, 1, 2, 3]
    assert nice_ticks(0) == [0, 1]
