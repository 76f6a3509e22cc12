"""Charts: every kind draws, empty figures say so, hostile labels stay inert, Chinese
labels are drawn with real glyphs."""

import re
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest

from bulwark.analytics import charts
from bulwark.analytics.figure_table import Figure

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def share(chart: str, rows: tuple[tuple[object, ...], ...] | None = None) -> Figure:
    rows = rows if rows is not None else (("Intrusion", 50), ("Malware", 30), ("Phishing", 20))
    return Figure("incidents_by_category", "Incidents", ("category", "count"), rows, chart=chart)


def monthly() -> Figure:
    months = tuple(f"2025-{m:02d}" for m in range(1, 13))
    return Figure(
        "monthly",
        "Incidents by month",
        ("series", *months),
        (("Intrusion", *range(12)), ("Malware", None, None, *range(10))),
        chart="line",
    )


def parsed(svg: str) -> ElementTree.Element:
    root = ElementTree.fromstring(svg)  # well-formed XML or this raises
    assert root.tag == f"{SVG}svg"
    return root


def shapes(svg: str) -> int:
    """Drawn shapes (not glyph definitions)."""
    root = parsed(svg)
    return len([p for p in root.iter(f"{SVG}path") if "id" not in p.attrib])


def glyphs(svg: str) -> set[str]:
    return set(re.findall(r'<path id="([A-Za-z][\w-]*-[0-9a-f]+)"', svg))


@pytest.mark.parametrize("kind", ["bar", "barh", "pie"])
def test_each_share_chart_kind_renders_svg_and_png(kind: str) -> None:
    svg = charts.render_svg(share(kind), "en")
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "DOCTYPE" not in svg  # inlined into HTML
    assert 'aria-label="Incidents"' in svg
    empty_svg = charts.render_svg(share(kind, rows=(("Intrusion", 0),)), "en")
    # The bars or slices are there: many more shapes than the "no data" chart has.
    assert shapes(svg) > shapes(empty_svg) + 2
    png = charts.render_png(share(kind), "en")
    assert png.startswith(PNG_MAGIC) and len(png) > 5_000


def test_line_chart_draws_one_series_per_row_with_a_legend() -> None:
    svg = charts.render_svg(monthly(), "en")
    root = parsed(svg)
    ids = {g.get("id", "") for g in root.iter(f"{SVG}g")}
    assert sum(1 for i in ids if "-line2d" in i) >= 2
    assert any("-legend" in i for i in ids)
    assert charts.render_png(monthly(), "en").startswith(PNG_MAGIC)


def test_value_labels_on_bars() -> None:
    with_values = charts.render_svg(share("bar", rows=(("A", 12345),)), "en")
    # The comment matplotlib writes for each text it draws as paths.
    assert "<!-- 12,345 -->" in with_values


@pytest.mark.parametrize("rows", [(), (("Intrusion", 0), ("Malware", None))])
def test_empty_figure_says_no_data(rows: tuple[tuple[object, ...], ...]) -> None:
    for kind in ("bar", "barh", "pie"):
        svg = charts.render_svg(share(kind, rows=rows), "en")
        assert "No data for this period" in svg
        assert charts.render_png(share(kind, rows=rows), "en").startswith(PNG_MAGIC)
    line = Figure("m", "Monthly", ("series", "2025-01"), (("A", 0),), chart="line")
    assert "No data for this period" in charts.render_svg(line, "en")


def test_table_only_figure_has_no_chart() -> None:
    table = Figure("t", "Timeliness", ("authority", "incidents"), (("A", 3),), chart="none")
    assert charts.render_svg(table) == ""
    assert charts.render_png(table) == b""


@pytest.mark.parametrize("kind", ["bar", "barh", "pie", "line"])
def test_hostile_labels_are_inert(kind: str) -> None:
    hostile = (
        ("</svg><script>alert(1)</script>", 5),
        ("--><script>alert(2)</script><!--", 4),
        ("$x^2$", 3),
        ("$\\undefinedmacro$", 3),
        ("x" * 10_000, 2),
        ('" onload="alert(3)', 1),
    )
    if kind == "line":
        fig = Figure("h", "<b>title</b>", ("series", "2025-01", "2025-02"),
                     tuple((text, n, n + 1) for text, n in hostile), chart="line")  # fmt: skip
    else:
        fig = Figure("h", "<b>title</b>", ("category", "count"), hostile, chart=kind)
    svg = charts.render_svg(fig, "en")
    root = parsed(svg)  # the label did not break the XML
    assert "<script" not in svg.lower()
    assert "<b>" not in svg
    assert root.get("aria-label") == "<b>title</b>"  # escaped in the attribute, read back
    assert "onload=" not in "".join(f"{k}=" for e in root.iter() for k in e.attrib)
    assert len(svg) < 400_000  # the 10 000-character label was truncated
    # mathtext was not parsed: the dollar signs are drawn as text
    assert "$x^2$" in svg


def test_long_labels_are_truncated_with_an_ellipsis() -> None:
    assert charts.label("a" * 100) == "a" * (charts.MAX_LABEL - 1) + "…"
    assert charts.label("Phishing") == "Phishing"
    assert charts.label("two\nlines\t here") == "two lines here"


def test_chinese_labels_are_drawn_with_cjk_glyphs() -> None:
    assert charts.cjk_family() is not None, "no CJK font installed (fonts-wqy-microhei)"
    label = "資安事件通報"
    base = charts.render_svg(share("barh", rows=(("", 5), ("b", 3))), "zh-hant")
    chinese = charts.render_svg(share("barh", rows=((label, 5), ("b", 3))), "zh-hant")
    new = glyphs(chinese) - glyphs(base)
    # One distinct outline per distinct character: a missing font would give one box.
    assert len(new) >= len(set(label))
    assert shapes(chinese) >= shapes(base)


def test_missing_cjk_font_warns_once_and_still_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    warned: list[str] = []
    monkeypatch.setattr(charts.log, "warning", lambda msg, *args: warned.append(msg % args))
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font TC",))
    charts.cjk_family.cache_clear()
    try:
        svg1 = charts.render_svg(share("bar", rows=(("資安", 5),)), "zh-hant")
        svg2 = charts.render_svg(share("pie", rows=(("資安", 5),)), "zh-hant")
        assert svg1.startswith("<svg") and svg2.startswith("<svg")
        assert len(warned) == 1 and "no CJK font" in warned[0]
    finally:
        charts.cjk_family.cache_clear()


def test_forecast_chart_draws_history_point_and_both_bands() -> None:
    forecast = SimpleNamespace(
        method="ets", method_label="Exponential smoothing",
        point=[12.0, 13.0, 14.0], lower80=[10.0, 10.5, 11.0], upper80=[14.0, 15.5, 17.0],
        lower95=[8.0, 8.5, 9.0], upper95=[16.0, 17.5, 19.0],
    )  # fmt: skip
    history = [f"2025-{m:02d}" for m in range(1, 13)]
    svg = charts.chart_forecast(history, list(range(12)), forecast, "Incidents", lang="en")
    root = parsed(svg)
    ids = [g.get("id", "") for g in root.iter(f"{SVG}g")]
    assert sum(1 for i in ids if "PolyCollection" in i) == 2
    assert sum(1 for i in ids if "-line2d" in i) >= 2
    assert "2026-03" in svg  # the future months continue the history's labels
    assert "Exponential smoothing" in svg and "80 % interval" in svg and "95 % interval" in svg
    png = charts.chart_forecast(history, list(range(12)), forecast, "Incidents", fmt="png")
    assert png.startswith(PNG_MAGIC)


def test_charts_on_one_page_have_distinct_ids_that_resolve() -> None:
    first = charts.render_svg(share("bar"), "en", id_prefix="figure1")
    second = charts.render_svg(share("bar"), "en", id_prefix="figure2")
    for svg in (first, second):
        ids = re.findall(r'\bid="([^"]+)"', svg)
        assert len(ids) == len(set(ids))
        refs = re.findall(r'href="#([^"]+)"', svg) + re.findall(r"url\(#([^)]+)\)", svg)
        assert refs and set(refs) <= set(ids)  # every glyph and clip path is found
    assert not set(re.findall(r'\bid="([^"]+)"', first)) & set(
        re.findall(r'\bid="([^"]+)"', second)
    )


def test_same_figure_gives_the_same_svg() -> None:
    assert charts.render_svg(share("bar"), "en") == charts.render_svg(share("bar"), "en")
