"""Charts drawn on the server as SVG: no JavaScript, no build step, readable by a screen reader
(a title and a description that states the latest figure; the page shows the numbers as a
table beside each chart). Pure: no Django import.

The palette keeps 3:1 contrast against white for lines and bars (WCAG 1.4.11), and each series
also differs by dash pattern, so colour is never the only cue.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from html import escape

PALETTE = ["#1f5fa8", "#b0401a", "#2a7a34", "#7a3b9c", "#8a6100", "#0f6f78", "#a3245d", "#4d4d4d"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "", "6 3", "2 3", "8 3 2 3"]


def fmt_value(value: float | None, kind: str) -> str:
    """A figure as people read it: counts with separators, percents, dollars, hours, days."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "percent":
        return f"{100 * value:.1f}%"
    if kind == "money":  # cents
        dollars = value / 100
        return f"${dollars:,.0f}" if abs(dollars) >= 1000 else f"${dollars:,.2f}"
    if kind in ("hours", "days", "seconds", "ratio", "score"):
        return f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,.0f}"


def _nice_max(top: float) -> float:
    if top <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(top))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= top:
            return m * exp
    return 10 * exp


def _label(x) -> str:
    if isinstance(x, dt.date):
        return x.strftime("%b %d").replace(" 0", " ")
    return str(x)


def chart(
    x: Sequence,
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    kind: str = "count",
    style: str = "line",
    width: int = 640,
    height: int = 240,
    ident: str = "chart",
) -> str:
    """One chart: `style` "line" (one line a series) or "bar" (bars side by side a series).
    Missing values (None) leave a gap."""
    left, right, top, bottom = 64, 12, 12, 40
    if len(series) > 1:
        bottom += 20 * math.ceil(len(series) / 3)
    pw, ph = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    lo = min(0.0, min(values, default=0.0))
    hi = _nice_max(max(values, default=0.0)) if kind != "percent" else 1.0
    if kind == "percent" and values and max(values) > 1:
        hi = _nice_max(max(values))
    span = (hi - lo) or 1.0
    n = max(len(x), 1)

    def sx(i: float) -> float:
        return left + (pw * (i + 0.5) / n)

    def sy(v: float) -> float:
        return top + ph - (v - lo) / span * ph

    title_id, desc_id = f"{ident}-t", f"{ident}-d"
    latest = []
    for name, vs in series:
        last = next((v for v in reversed(vs) if v is not None), None)
        latest.append(f"{name} {fmt_value(last, kind)}")
    period = f"{_label(x[0])} to {_label(x[-1])}" if len(x) else "no data"
    desc = f"{period}. Latest: " + "; ".join(latest) if len(x) else "No data in this period."
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(desc)}</desc>',
    ]
    # grid and y labels
    for k in range(5):
        v = lo + span * k / 4
        y = sy(v)
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#d0d0d0" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#333">{escape(fmt_value(v, kind))}</text>'
        )
    # x labels: at most 8, evenly spaced
    if len(x):
        step = max(1, math.ceil(len(x) / 8))
        for i in range(0, len(x), step):
            out.append(
                f'<text x="{sx(i):.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="11" '
                f'fill="#333">{escape(_label(x[i]))}</text>'
            )
    out.append(
        f'<line x1="{left}" x2="{width - right}" y1="{sy(max(lo, 0)):.1f}" '
        f'y2="{sy(max(lo, 0)):.1f}" stroke="#555" stroke-width="1"/>'
    )
    k = len(series)
    for s, (_name, vs) in enumerate(series):
        color, dash = PALETTE[s % len(PALETTE)], DASHES[s % len(DASHES)]
        if style == "bar":
            bw = max(1.0, pw / n / max(k, 1) * 0.8)
            for i, v in enumerate(vs):
                if v is None:
                    continue
                x0 = left + pw * i / n + (pw / n - bw * k) / 2 + s * bw
                y0, y1 = sy(max(v, 0)), sy(min(v, 0))
                out.append(
                    f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{bw:.1f}" '
                    f'height="{max(y1 - y0, 0.5):.1f}" fill="{color}"/>'
                )
        else:
            path, pen = [], "M"
            for i, v in enumerate(vs):
                if v is None:
                    pen = "M"
                    continue
                path.append(f"{pen}{sx(i):.1f},{sy(v):.1f}")
                pen = "L"
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            if path:
                out.append(
                    f'<path d="{" ".join(path)}" fill="none" stroke="{color}" '
                    f'stroke-width="2"{dash_attr}/>'
                )
            if len([v for v in vs if v is not None]) == 1:  # one point: a dot
                i = next(i for i, v in enumerate(vs) if v is not None)
                out.append(f'<circle cx="{sx(i):.1f}" cy="{sy(vs[i]):.1f}" r="3" fill="{color}"/>')
    if k > 1:
        for s, (name, _) in enumerate(series):
            row, col = divmod(s, 3)
            lx, ly = left + col * (pw / 3), top + ph + 34 + row * 20
            color, dash = PALETTE[s % len(PALETTE)], DASHES[s % len(DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash and style != "bar" else ""
            out.append(
                f'<line x1="{lx:.1f}" x2="{lx + 22:.1f}" y1="{ly - 4}" y2="{ly - 4}" '
                f'stroke="{color}" stroke-width="{6 if style == "bar" else 2}"{dash_attr}/>'
                f'<text x="{lx + 28:.1f}" y="{ly}" font-size="12" fill="#222">'
                f"{escape(name)}</text>"
            )
    out.append("</svg>")
    return "".join(out)
