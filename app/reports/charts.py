"""Charts as server-drawn SVG (bar, line, pie): axes, labels, legend; nothing loaded from anywhere.

The same markup goes inline into the HTML page and into the PDF (WeasyPrint draws inline
SVG). Every label is escaped. The drawing is laid out in absolute coordinates with the
SVG's own direction fixed to ltr, so text anchors mean the same in every browser whatever
the page direction; for right-to-left languages the layout is mirrored (value axis on
the right, categories and legend running from the right), and numbers are drawn in
their own text elements so the bidi algorithm never reorders them into a label.
"""
import math
from decimal import Decimal

from markupsafe import Markup

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999933", "#332288")
OTHER_COLOUR = "#BBBBBB"
WIDTH, HEIGHT, PIE_WIDTH, PIE_HEIGHT = 760, 340, 620, 300
MAX_CATEGORIES = 120
PIE_SLICES = 8  # more become "Other"
FONT = "Noto Sans, Noto Sans Arabic, Noto Sans CJK SC, Arial, sans-serif"


def _number(value):
    if value is None or value == "":
        return 0.0
    return float(Decimal(str(value)))


def _text_width(text, size):
    """Rough width of `text` in px: wide (CJK) characters count double."""
    return sum(size * (1.0 if ord(ch) > 0x2E80 else 0.58) for ch in str(text))


def _shorten(text, limit):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_ticks(top, count=5, integer=False):
    """Round tick values from 0 to at least `top` (1, 2, 2.5 or 5 times a power of ten apart)."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= raw and (not integer or step == int(step)):
            break
    if integer:
        step = max(1, int(step))
    n = int(math.ceil(top / step - 1e-9))
    return [round(i * step, 10) for i in range(n + 1)]


class _Svg:
    def __init__(self, width, height, title, rtl):
        self.width, self.height, self.rtl = width, height, rtl
        self.parts = []
        self.title = title

    def x(self, x):
        """Mirror horizontal positions for right-to-left pages."""
        return self.width - x if self.rtl else x

    def anchor(self, anchor):
        if not self.rtl or anchor == "middle":
            return anchor
        return "end" if anchor == "start" else "start"

    def add(self, markup):
        self.parts.append(markup)

    def text(self, x, y, text, *, anchor="start", size=11, cls="", rotate=None, fill="#333", full=None):
        transform = f' transform="rotate({rotate} {self.x(x):.1f} {y:.1f})"' if rotate else ""
        tooltip = Markup("<title>%s</title>") % full if full and full != text else ""
        self.add(Markup(
            '<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d" fill="%s"%s%s>%s%s</text>'
        ) % (self.x(x), y, self.anchor(anchor), size, fill, Markup(f' class="{cls}"') if cls else "",
             Markup(transform), tooltip, text))

    def rect(self, x, y, w, h, fill, tooltip=None):
        left = self.x(x + w) if self.rtl else x
        inner = Markup("<title>%s</title>") % tooltip if tooltip else ""
        self.add(Markup('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">%s</rect>')
                 % (left, y, max(w, 0), max(h, 0), fill, inner))

    def line(self, x1, y1, x2, y2, stroke="#999", width=1, dash=None):
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(Markup('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%s"%s/>')
                 % (self.x(x1), y1, self.x(x2), y2, stroke, width, Markup(extra)))

    def render(self):
        head = Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="cd-report-chart" viewBox="0 0 %d %d" width="%d" height="%d" '
            'role="img" aria-label="%s" direction="ltr" style="direction:ltr" font-family="%s">'
            '<title>%s</title>'
        ) % (self.width, self.height, self.width, self.height, self.title, FONT, self.title)
        return head + Markup("").join(self.parts) + Markup("</svg>")


def _legend(svg, entries, y, x_start):
    """Swatches and labels in a row from x_start (wrapping); returns the y under the legend."""
    x = x_start
    for label, colour in entries:
        label = _shorten(label, 28)
        width = 14 + 6 + _text_width(label, 11) + 18
        if x + width > svg.width - 10 and x > x_start:
            x, y = x_start, y + 18
        svg.rect(x, y - 10, 12, 12, colour)
        svg.text(x + 18, y, label)
        x += width
    return y + 14


def render_chart(chart, report, rows, *, title, format_value, rtl=False):
    """SVG markup for `chart` over `rows`; None when there is nothing to draw."""
    if not rows:
        return None
    x_column = report.column(chart.x)
    y_columns = [report.column(key) for key in chart.y]
    rows = rows[:MAX_CATEGORIES]
    categories = [format_value(x_column, row.get(chart.x)) or "—" for row in rows]
    series = [[_number(row.get(c.key)) for row in rows] for c in y_columns]
    if chart.type == "pie":
        return _pie(title, categories, series[0], y_columns[0], format_value, rtl)
    return _axes_chart(chart.type, title, categories, series, y_columns, format_value, rtl)


def _axes_chart(kind, title, categories, series, y_columns, format_value, rtl):
    svg = _Svg(WIDTH, HEIGHT, title, rtl)
    integer = all(c.type == "int" for c in y_columns)
    top = max([v for s in series for v in s] + [0])
    ticks = nice_ticks(top, integer=integer)
    tick_labels = [format_value(y_columns[0], int(t) if integer else t) for t in ticks]

    legend_bottom = 8
    if len(series) > 1:
        legend_bottom = _legend(svg, [(c.label, PALETTE[i % len(PALETTE)]) for i, c in enumerate(y_columns)], 18, 10)
    left = 16 + max(_text_width(t, 11) for t in tick_labels)
    right = WIDTH - 16
    n = len(categories)
    slot = (right - left) / n
    longest = max(_text_width(c, 11) for c in categories)
    rotate = longest > slot * 0.9
    label_room = min(90, longest * 0.72 + 14) if rotate else 22
    top_y, bottom_y = legend_bottom + 8, HEIGHT - label_room - 6
    scale = (bottom_y - top_y) / (ticks[-1] or 1)

    for tick, label in zip(ticks, tick_labels):
        y = bottom_y - tick * scale
        svg.line(left, y, right, y, stroke="#e3e3e3")
        svg.text(left - 6, y + 4, label, anchor="end", size=11, fill="#555")
    svg.line(left, bottom_y, right, bottom_y, stroke="#777")
    svg.line(left, top_y, left, bottom_y, stroke="#777")

    every = max(1, math.ceil(n / max(1, int((right - left) / (16 if rotate else max(longest + 8, 1))))))
    for i, label in enumerate(categories):
        if i % every:
            continue
        cx = left + slot * (i + 0.5)
        short = _shorten(label, 16)
        if rotate:
            svg.text(cx + 4, bottom_y + 12, short, anchor="end", rotate=-45 if not rtl else 45, full=label)
        else:
            svg.text(cx, bottom_y + 16, short, anchor="middle", full=label)

    if kind == "bar":
        group = slot * 0.8
        width = group / len(series)
        for s, values in enumerate(series):
            colour = PALETTE[s % len(PALETTE)]
            for i, value in enumerate(values):
                height = max(value, 0) * scale
                x = left + slot * i + slot * 0.1 + width * s
                tip = f"{categories[i]}: {format_value(y_columns[s], _as_type(y_columns[s], value))}"
                svg.rect(x, bottom_y - height, width - (1 if len(series) > 1 else 0), height, colour, tooltip=tip)
    else:
        for s, values in enumerate(series):
            colour = PALETTE[s % len(PALETTE)]
            points = [(left + slot * (i + 0.5), bottom_y - max(v, 0) * scale) for i, v in enumerate(values)]
            path = " ".join(f"{svg.x(x):.1f},{y:.1f}" for x, y in points)
            svg.add(Markup('<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"/>') % (path, colour))
            for (x, y), value, category in zip(points, values, categories):
                tip = f"{category}: {format_value(y_columns[s], _as_type(y_columns[s], value))}"
                svg.add(Markup('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s</title></circle>')
                        % (svg.x(x), y, colour, tip))
    return svg.render()


def _as_type(column, value):
    return int(value) if column.type == "int" else value


def _pie(title, categories, values, column, format_value, rtl):
    pairs = [(c, v) for c, v in zip(categories, values) if v > 0]
    if not pairs:
        return None
    pairs.sort(key=lambda p: -p[1])
    if len(pairs) > PIE_SLICES:
        from flask_babel import gettext

        rest = sum(v for _, v in pairs[PIE_SLICES - 1:])
        pairs = pairs[: PIE_SLICES - 1] + [(gettext("Other"), rest)]
    total = sum(v for _, v in pairs)
    svg = _Svg(PIE_WIDTH, PIE_HEIGHT, title, rtl)
    cx, cy, r = 150, PIE_HEIGHT / 2, PIE_HEIGHT / 2 - 20
    angle = -math.pi / 2
    for i, (label, value) in enumerate(pairs):
        colour = OTHER_COLOUR if i == PIE_SLICES - 1 and len(pairs) == PIE_SLICES else PALETTE[i % len(PALETTE)]
        share = value / total
        tip = f"{label}: {format_value(column, _as_type(column, value))}"
        if share >= 0.9999:
            svg.add(Markup('<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"><title>%s</title></circle>')
                    % (svg.x(cx), cy, r, colour, tip))
        else:
            end = angle + share * 2 * math.pi
            x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x2, y2 = cx + r * math.cos(end), cy + r * math.sin(end)
            large = 1 if share > 0.5 else 0
            sweep = 0 if rtl else 1  # mirrored: counter-clockwise from twelve o'clock
            svg.add(Markup('<path d="M %.1f %.1f L %.1f %.1f A %.1f %.1f 0 %d %d %.1f %.1f Z" fill="%s" stroke="#fff" '
                           'stroke-width="1"><title>%s</title></path>')
                    % (svg.x(cx), cy, svg.x(x1), y1, r, r, large, sweep, svg.x(x2), y2, colour, tip))
            angle = end
        y = 40 + i * 26
        svg.rect(330, y - 11, 14, 14, colour)
        svg.text(352, y + 1, _shorten(label, 30), size=12, full=label)
        svg.text(PIE_WIDTH - 20, y + 1, format_value(_SHARE, share), anchor="end", size=12, fill="#555")
    return svg.render()


class _Share:
    """A slice's share of the whole, formatted like a percent column."""

    type, format, numeric, key = "percent", "#,##0.0%", True, "_share"


_SHARE = _Share()
