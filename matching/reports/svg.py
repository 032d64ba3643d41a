"""Small inline SVG charts for the HTML report (text is drawn by the browser, so Japanese
labels need no font on the machine that writes the report).

>>> svg = bar_chart([("0–10分", 3), ("10–20分", 5)], title="移動時間")
>>> svg.startswith("<svg") and "10–20分" in svg
True
"""

from __future__ import annotations

from html import escape


def _text(x, y, s, size=12, anchor="start", weight="normal", fill="#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(str(s))}</text>')


def stacked_bars(rows: list[tuple[str, list[int]]], series: list[tuple[str, str]], title: str,
                 width: int = 760) -> str:
    """Horizontal stacked bars: one bar per row, one segment per series (label, colour)."""
    label_w, bar_h, gap, top = 250, 18, 8, 34
    legend_h = 22 * ((len(series) + 2) // 3)
    height = top + len(rows) * (bar_h + gap) + legend_h + 16
    total_max = max([sum(v) for _, v in rows] + [1])
    scale = (width - label_w - 60) / total_max
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           _text(0, 18, title, 14, weight="bold")]
    y = top
    for label, values in rows:
        out.append(_text(label_w - 8, y + bar_h - 4, label, 12, "end"))
        x = label_w
        for (name, color), v in zip(series, values, strict=True):
            if v:
                w = v * scale
                out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}">'
                           f'<title>{escape(label)}：{escape(name)} {v}</title></rect>')
                if w > 22:
                    out.append(_text(x + w / 2, y + bar_h - 4, v, 11, "middle", fill="#fff"))
                x += w
        out.append(_text(x + 6, y + bar_h - 4, sum(values), 11))
        y += bar_h + gap
    y += 6
    for k, (name, color) in enumerate(series):
        lx, ly = (k % 3) * (width / 3), y + 22 * (k // 3)
        out.append(f'<rect x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{color}"/>')
        out.append(_text(lx + 18, ly + 11, name, 11))
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(items: list[tuple[str, float]], title: str, color: str = "#1f5fa8", unit: str = "",
              width: int = 560, height: int = 260) -> str:
    """Vertical bars with their values on top."""
    top, bottom, left = 34, 46, 10
    n = max(len(items), 1)
    slot = (width - left * 2) / n
    vmax = max([v for _, v in items] + [1])
    scale = (height - top - bottom) / vmax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           _text(0, 18, title, 14, weight="bold")]
    base = height - bottom
    for k, (label, v) in enumerate(items):
        h = v * scale
        x = left + k * slot + slot * 0.15
        out.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                   f'fill="{color}"><title>{escape(label)}：{v:g}{escape(unit)}</title></rect>')
        out.append(_text(x + slot * 0.35, base - h - 4, f"{v:g}", 11, "middle"))
        out.append(_text(x + slot * 0.35, base + 16, label, 11, "middle"))
    out.append(f'<line x1="{left}" y1="{base}" x2="{width - left}" y2="{base}" stroke="#888"/>')
    out.append("</svg>")
    return "\n".join(out)


def grouped_bars(groups: list[str], series: list[tuple[str, str, list[float]]], title: str,
                 width: int = 760, height: int = 300) -> str:
    """Vertical grouped bars: one group per label, one bar per series (label, colour, values)."""
    top, bottom, left = 34, 70, 10
    n = max(len(groups), 1)
    slot = (width - left * 2) / n
    vmax = max([v for _, _, vs in series for v in vs] + [1])
    scale = (height - top - bottom) / vmax
    bw = slot * 0.8 / max(len(series), 1)
    base = height - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           _text(0, 18, title, 14, weight="bold")]
    for k, g in enumerate(groups):
        x0 = left + k * slot + slot * 0.1
        for s, (name, color, values) in enumerate(series):
            v = values[k]
            h = v * scale
            x = x0 + s * bw
            out.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bw * 0.92:.1f}" height="{h:.1f}" '
                       f'fill="{color}"><title>{escape(g)}：{escape(name)} {v:g}</title></rect>')
            out.append(_text(x + bw / 2, base - h - 4, f"{v:g}", 10, "middle"))
        out.append(_text(x0 + slot * 0.4, base + 16, g, 11, "middle"))
    out.append(f'<line x1="{left}" y1="{base}" x2="{width - left}" y2="{base}" stroke="#888"/>')
    for s, (name, color, _) in enumerate(series):
        lx = left + s * 220
        out.append(f'<rect x="{lx}" y="{height - 24}" width="12" height="12" fill="{color}"/>')
        out.append(_text(lx + 18, height - 13, name, 11))
    out.append("</svg>")
    return "\n".join(out)
