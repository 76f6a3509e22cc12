"""Server-side charts of a `Figure`: SVG to inline in a page or the annual report, PNG for
e-mail. Drawn with matplotlib's object API (no pyplot, no global figure registry), with
text turned into paths so a chart looks the same on every machine and in every PDF.

Labels come from outside (organisation names, feed names, foreign CERTs): they are
truncated, their `$` escaped so mathtext never parses them, and the SVG is written by
matplotlib's XML writer, which escapes what it keeps (text survives only as comments)."""

import contextlib
import functools
import html
import io
import logging
import math
import re
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure as Canvas

from bulwark.analytics.figure_table import Figure

log = logging.getLogger(__name__)

# Traditional Chinese first: the zh-Hant report and many organisation names need them.
CJK_FAMILIES = (
    "Noto Sans CJK TC",
    "Noto Sans TC",
    "Source Han Sans TC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "AR PL UMing TW",
    "AR PL UKai TW",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
)
BASE_FAMILY = "DejaVu Sans"
# Okabe-Ito, distinguishable with the common colour-vision deficiencies, then greys.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#CC79A7",
    "#F0E442",
    "#000000",
    "#7F7F7F",
    "#B3B3B3",
)
MAX_LABEL = 32
WIDTH_IN = 6.4
_LOCK = threading.Lock()  # rcParams are process-global: one chart at a time.


@functools.cache
def cjk_family() -> str | None:
    """The first installed CJK family, or None (with one warning per process)."""
    for attempt in range(2):
        installed = {font.name for font in font_manager.fontManager.ttflist}
        for name in CJK_FAMILIES:
            if name in installed:
                return name
        if attempt == 0:
            _add_system_cjk_fonts()
    log.warning(
        "no CJK font found (looked for %s): Chinese labels in charts will show as boxes; "
        "install fonts-noto-cjk or fonts-wqy-microhei",
        ", ".join(CJK_FAMILIES),
    )
    return None


def _add_system_cjk_fonts() -> None:
    """matplotlib lists the system's fonts once and caches the list (~/.cache/matplotlib):
    a CJK font installed after that is invisible to it until the cache is deleted. Look
    for the known CJK font files on the system and add them to this process's list."""
    for path in font_manager.findSystemFonts():
        name = path.lower().rsplit("/", 1)[-1]
        if name.startswith(("wqy-", "notosanscjk", "notoserifcjk", "droidsansfallback")):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError) as exc:
                log.warning("CJK font %s could not be read: %s", path, exc)


def font_families() -> list[str]:
    """DejaVu Sans for Latin text, the CJK family as matplotlib's per-glyph fallback."""
    cjk = cjk_family()
    return [BASE_FAMILY, cjk] if cjk else [BASE_FAMILY]


def _rc() -> Any:  # matplotlib types the keys as a Literal of every rcParam name
    return {
        "font.family": font_families(),
        "font.size": 9,
        "svg.fonttype": "path",
        "svg.hashsalt": "bulwark",  # stable ids: the same chart gives the same SVG
        "text.usetex": False,
        "text.parse_math": False,  # a `$x$` in a label is text, never mathtext
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def label(text: Any, limit: int = MAX_LABEL) -> str:
    """A label fit to draw: one line, at most `limit` characters (mathtext is off in _rc)."""
    value = " ".join(str(text if text is not None else "").split())
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _format(value: float) -> str:
    if math.isnan(value):
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def is_empty(fig: Figure) -> bool:
    """Nothing to draw: no rows, or every number zero or missing."""
    if len(fig.columns) < 2 or not fig.rows:
        return True
    cells = (row[1:] if fig.chart == "line" else row[1:2] for row in fig.rows)
    return not any((n := _number(v)) and not math.isnan(n) for values in cells for v in values)


# --------------------------------------------------------------------------- drawing


def _draw(fig: Figure, *, title: bool) -> Canvas:
    if fig.chart == "barh":
        height = min(1.6 + 0.26 * len(fig.rows), 6.0)
    elif fig.chart == "pie":
        height = 4.0
    else:
        height = 3.8
    canvas = Canvas(figsize=(WIDTH_IN, height), layout="constrained")
    if title and fig.title:
        canvas.suptitle(label(fig.title, 90), fontsize=11)
    if is_empty(fig):
        _draw_empty(canvas)
    elif fig.chart == "bar":
        _draw_bar(canvas, fig)
    elif fig.chart == "barh":
        _draw_barh(canvas, fig)
    elif fig.chart == "pie":
        _draw_pie(canvas, fig)
    else:
        _draw_line(canvas, fig)
    return canvas


def _draw_empty(canvas: Canvas) -> None:
    ax = canvas.add_subplot()
    ax.set_axis_off()
    ax.text(
        0.5, 0.5, _("No data for this period"), ha="center", va="center",
        fontsize=12, color="#555555", transform=ax.transAxes,
    )  # fmt: skip


def _first_series(fig: Figure) -> tuple[list[str], list[float]]:
    labels = [label(row[0]) for row in fig.rows]
    values = [_number(row[1]) for row in fig.rows]
    return labels, [0.0 if math.isnan(v) else v for v in values]


def _value_labels(ax: Any, bars: Any, values: list[float]) -> None:
    ax.bar_label(bars, labels=[_format(v) for v in values], padding=2, fontsize=8)


def _draw_bar(canvas: Canvas, fig: Figure) -> None:
    labels, values = _first_series(fig)
    ax = canvas.add_subplot()
    bars = ax.bar(range(len(values)), values, color=PALETTE[0], width=0.7)
    _value_labels(ax, bars, values)
    rotate = len(labels) > 5 or max(len(s) for s in labels) > 10
    ax.set_xticks(
        range(len(labels)), labels, rotation=35 if rotate else 0, ha="right" if rotate else "center"
    )
    ax.set_ylabel(label(fig.columns[1]))
    ax.margins(y=0.12)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _draw_barh(canvas: Canvas, fig: Figure) -> None:
    labels, values = _first_series(fig)
    ax = canvas.add_subplot()
    bars = ax.barh(range(len(values)), values, color=PALETTE[0], height=0.7)
    _value_labels(ax, bars, values)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()  # the first row (the largest, as figures sort them) on top
    ax.set_xlabel(label(fig.columns[1]))
    ax.margins(x=0.12)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _draw_pie(canvas: Canvas, fig: Figure) -> None:
    labels, values = _first_series(fig)
    shown = [
        (lab, v, PALETTE[i % len(PALETTE)])
        for i, (lab, v) in enumerate(zip(labels, values, strict=True))
        if v > 0
    ]
    total = sum(v for _lab, v, _c in shown)
    ax = canvas.add_subplot()
    wedges, _texts, _pcts = ax.pie(
        [v for _lab, v, _c in shown],
        colors=[c for _lab, _v, c in shown],
        autopct=lambda pct: f"{pct:.0f}%" if pct >= 4 else "",
        pctdistance=0.78,
        startangle=90,
        counterclock=False,
        wedgeprops={"linewidth": 1, "edgecolor": "white"},
        textprops={"fontsize": 8, "color": "white"},
    )
    ax.set_aspect("equal")
    # Slice labels go to a legend: on the pie itself, small slices' labels collide.
    legend = [f"{lab} ({_format(v)}, {100 * v / total:.1f}%)" for lab, v, _c in shown]
    canvas.legend(wedges, legend, loc="outside right center", frameon=False, fontsize=8)


def _draw_line(canvas: Canvas, fig: Figure) -> None:
    ax = canvas.add_subplot()
    months = [label(c, 12) for c in fig.columns[1:]]
    x = range(len(months))
    for i, row in enumerate(fig.rows[: len(PALETTE)]):
        values = [_number(v) for v in row[1:]]
        ax.plot(
            x,
            values,
            marker="o",
            markersize=3,
            linewidth=1.6,
            color=PALETTE[i],
            label=label(row[0]),
        )
    _month_ticks(ax, months)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if len(fig.rows) > 1:
        canvas.legend(loc="outside right upper", frameon=False, fontsize=8)


def _month_ticks(ax: Any, names: Sequence[str]) -> None:
    step = max(1, math.ceil(len(names) / 24))
    positions = list(range(0, len(names), step))
    ax.set_xticks(positions, [names[i] for i in positions], rotation=45, ha="right")


# --------------------------------------------------------------------------- output


_ID = re.compile(r'\bid="([^"]+)"')
_ID_REF = re.compile(r'\b((?:xlink:)?href)="#([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")
_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"\s*<style[^>]*>.*?</style>\s*", re.S)
_DECLARATION = re.compile(r"^\s*([a-z-]+)\s*:\s*(.*?)\s*$")


def _presentation(match: re.Match[str]) -> str:
    """`style="fill: #fff; stroke-width: 0.8"` as SVG presentation attributes
    (`fill="#fff" stroke-width="0.8"`): the pages' Content-Security-Policy refuses inline
    styles, not attributes. They rank below a style sheet's rules, like matplotlib's
    inline styles rank above its one `*{}` rule, which the root element now carries."""
    parts = []
    for declaration in html.unescape(match.group(1)).split(";"):
        found = _DECLARATION.match(declaration)
        if found:
            parts.append(f' {found.group(1)}="{html.escape(found.group(2), quote=True)}"')
    return "".join(parts)


def without_inline_styles(svg: str) -> str:
    """matplotlib's SVG without `style` attributes or the `<style>` element (CSP)."""
    svg = _STYLE_ELEMENT.sub("", svg, count=1)
    svg = _STYLE_ATTR.sub(_presentation, svg)
    return svg.replace("<svg", '<svg stroke-linejoin="round" stroke-linecap="butt"', 1)


def _svg(canvas: Canvas, description: str, id_prefix: str) -> str:
    out = io.StringIO()
    canvas.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    text = text[text.index("<svg") :]  # no XML declaration or DOCTYPE inside HTML
    text = without_inline_styles(text)
    # Several charts share one HTML page: their ids (glyphs, clip paths) must not collide.
    p = _UNSAFE_ID.sub("-", id_prefix)
    text = _ID.sub(lambda m: f'id="{p}-{m.group(1)}"', text)
    text = _ID_REF.sub(lambda m: f'{m.group(1)}="#{p}-{m.group(2)}"', text)
    text = _URL_REF.sub(lambda m: f"url(#{p}-{m.group(1)})", text)
    aria = f'<svg role="img" aria-label="{html.escape(description, quote=True)}"'
    return aria + text[len("<svg") :]


def _png(canvas: Canvas, dpi: int) -> bytes:
    out = io.BytesIO()
    # Light compression: zlib's default level took a third of the time of a 200 dpi chart.
    canvas.savefig(
        out, format="png", dpi=dpi, metadata={"Software": None}, pil_kwargs={"compress_level": 1}
    )
    return out.getvalue()


@contextlib.contextmanager
def _drawing(lang: str | None) -> Iterator[None]:
    """One chart at a time, with our fonts and the report's language. A glyph no font has
    (a hostile or exotic label) draws as a box; matplotlib's warning for it is dropped."""
    with (
        _LOCK,
        rc_context(_rc()),
        translation.override(lang or translation.get_language()),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        yield


def _rendered(
    fig: Figure, lang: str | None, *, title: bool, svg: bool, dpi: int = 150, id_prefix: str = ""
) -> Any:
    with _drawing(lang):
        canvas = _draw(fig, title=title)
        return _svg(canvas, str(fig.title), id_prefix or fig.key) if svg else _png(canvas, dpi)


def render_svg(
    fig: Figure, lang: str | None = None, *, title: bool = True, id_prefix: str = ""
) -> str:
    """An `<svg>` element for the figure's chart; "" for a table-only figure (chart "none").
    Its element ids start with `id_prefix` (default: the figure's key), so give each chart
    on one page its own."""
    if fig.chart == "none":
        return ""
    return str(_rendered(fig, lang, title=title, svg=True, id_prefix=id_prefix))


def render_png(
    fig: Figure, lang: str | None = None, *, title: bool = True, dpi: int = 150
) -> bytes:
    """PNG bytes of the figure's chart; b"" for a table-only figure (chart "none")."""
    if fig.chart == "none":
        return b""
    return bytes(_rendered(fig, lang, title=title, svg=False, dpi=dpi))


# --------------------------------------------------------------------------- forecast

_MONTH = re.compile(r"\A(\d{4})-(\d{2})\Z")


def _future_labels(history: Sequence[str], n: int) -> list[str]:
    """The next `n` labels: months continue a YYYY-MM history, anything else counts +1..+n."""
    if history and (m := _MONTH.match(str(history[-1]))):
        index = int(m.group(1)) * 12 + int(m.group(2)) - 1
        return [f"{(index + k) // 12}-{(index + k) % 12 + 1:02d}" for k in range(1, n + 1)]
    return [f"+{k}" for k in range(1, n + 1)]


def chart_forecast(
    history_labels: Sequence[str],
    history_values: Sequence[float | None],
    forecast: Any,
    title: str = "",
    *,
    lang: str | None = None,
    fmt: str = "svg",
) -> Any:
    """History as a line, then the forecast's point line with its 80 % and 95 % bands.

    `forecast` is a `bulwark.analytics.forecast.Forecast` (point, lower80, upper80, lower95,
    upper95, method_label); a `labels` attribute, if present, names the future steps.
    Returns an `<svg>` string, or PNG bytes with fmt="png"."""
    point = [_number(v) for v in (getattr(forecast, "point", None) or [])]
    future = list(getattr(forecast, "labels", None) or _future_labels(history_labels, len(point)))
    with _drawing(lang):
        canvas = Canvas(figsize=(WIDTH_IN, 3.8), layout="constrained")
        if title:
            canvas.suptitle(label(title, 90), fontsize=11)
        history = [_number(v) for v in history_values]
        if not history and not point:
            _draw_empty(canvas)
        else:
            ax = canvas.add_subplot()
            n = len(history)
            ahead = range(n, n + len(point))
            ax.plot(
                range(n), history, marker="o", markersize=3, color=PALETTE[0], label=_("observed")
            )
            for band, alpha in (("95", 0.15), ("80", 0.3)):
                low = [_number(v) for v in getattr(forecast, f"lower{band}", None) or []]
                high = [_number(v) for v in getattr(forecast, f"upper{band}", None) or []]
                if len(low) == len(high) == len(point) and point:
                    ax.fill_between(
                        ahead, low, high, color=PALETTE[1], alpha=alpha, linewidth=0,
                        label=_("%(level)s %% interval") % {"level": band},
                    )  # fmt: skip
            if point:
                # Joined to the last observation so the two lines read as one series.
                xs = [n - 1, *ahead] if n else list(ahead)
                ys = [history[-1], *point] if n else point
                method = label(getattr(forecast, "method_label", "") or _("forecast"), 40)
                ax.plot(
                    xs, ys, linestyle="--", marker="o", markersize=3, color=PALETTE[3], label=method
                )
            _month_ticks(ax, [label(s, 12) for s in [*history_labels, *future]])
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend(loc="upper left", frameon=False, fontsize=8)
        if fmt == "png":
            return _png(canvas, 150)
        return _svg(canvas, title or _("Forecast"), "forecast")
