"""The 二次医療圏 map: areas shaded by the share of obligated facilities with all requirements met.

The shapes are the municipal boundaries (国土数値情報 行政区域 N03, see
``data/boundaries/README.md``) dissolved into 二次医療圏 by ``areas.csv``.  The files are the
region folder's ``boundaries/*.geojson`` when it has them, else the bundled ones
(:data:`matching.boundaries.BUNDLED`); a region they do not cover gets no map (``None``).
Every drawing carries the 国土数値情報 credit (:data:`CREDIT_BOUNDARIES`).

>>> shapes = area_shapes(region)
>>> svg = area_map_svg(shapes, {"0301": 80.0}, "全要件充足率")
>>> svg.startswith("<svg") and "国土数値情報" in svg
True
"""

from __future__ import annotations

import math
from functools import lru_cache
from html import escape
from pathlib import Path

import pandas as pd
from shapely.geometry import MultiPolygon, Polygon
from shapely.ops import unary_union

from matching.boundaries import BUNDLED, MunicipalBoundaries
from matching.reports.context import CREDIT_BOUNDARIES

#: Colours for the share classes (light → dark blue: a higher share is darker), and "no data".
CLASSES = ((0, 50, "#f1eef6"), (50, 70, "#bdc9e1"), (70, 85, "#74a9cf"), (85, 95, "#2b8cbe"),
           (95, 100.01, "#045a8d"))
NO_DATA = "#dddddd"


def boundary_files(region) -> list[Path]:
    own = sorted((Path(region.source) / "boundaries").glob("*.geojson")) if region.source is not None else []
    return own or [p for p in BUNDLED if p.is_file()]


@lru_cache(maxsize=4)
def _boundaries(files: tuple[Path, ...]) -> MunicipalBoundaries:
    return MunicipalBoundaries.from_geojson(*files)


def area_shapes(region, tolerance: float = 0.004) -> dict[str, tuple[str, object]] | None:
    """``{secondary_area_code: (name, geometry)}`` for the areas the boundary files cover, or
    ``None`` when they cover none of the region's municipalities."""
    files = tuple(boundary_files(region))
    if not files:
        return None
    b = _boundaries(files)
    areas = region.areas
    out = {}
    for code, group in areas.groupby("secondary_area_code", sort=True):
        polys = [b.polygons[m] for m in group.index if m in b.polygons]
        if polys:
            out[code] = (str(group["secondary_area_name"].iloc[0]),
                         unary_union(polys).simplify(tolerance, preserve_topology=True))
    return out or None


def share_color(value: float | None) -> str:
    if value is None or pd.isna(value):
        return NO_DATA
    for lo, hi, color in CLASSES:
        if lo <= value < hi:
            return color
    return CLASSES[-1][2]


def _polygons(geom):
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for part in getattr(geom, "geoms", []) for g in _polygons(part)]


def area_map_svg(shapes: dict, values: dict[str, float | None], title: str, width: int = 520) -> str:
    """An inline SVG map: one path per 二次医療圏, shaded by ``values`` (percent), labelled, with
    a legend and the 国土数値情報 credit."""
    geoms = [g for _, g in shapes.values()]
    minx, miny, maxx, maxy = unary_union(geoms).bounds
    kx = math.cos(math.radians((miny + maxy) / 2))  # east-west degrees are shorter
    map_w = width - 150
    scale = map_w / ((maxx - minx) * kx)
    map_h = (maxy - miny) * scale
    top = 30
    height = int(top + map_h + 40)

    def pt(x, y):
        return f"{(x - minx) * kx * scale:.1f},{top + (maxy - y) * scale:.1f}"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    labels = []
    for code, (name, geom) in shapes.items():
        v = values.get(code)
        d = " ".join("M" + " L".join(pt(x, y) for x, y in ring.coords) + " Z"
                     for poly in _polygons(geom) for ring in [poly.exterior, *poly.interiors])
        shown = "データなし" if v is None or pd.isna(v) else f"{v:.1f}%"
        out.append(f'<path d="{d}" fill="{share_color(v)}" stroke="#555" stroke-width="0.8" '
                   f'fill-rule="evenodd"><title>{escape(name)}：{shown}</title></path>')
        c = geom.representative_point()
        x, y = pt(c.x, c.y).split(",")
        dark = v is not None and not pd.isna(v) and v >= 85
        labels.append(f'<text x="{x}" y="{y}" font-size="11" text-anchor="middle" '
                      f'fill="{"#fff" if dark else "#111"}">{escape(name)} {escape(shown)}</text>')
    out += labels
    lx = map_w + 16
    out.append(f'<text x="{lx}" y="{top + 10}" font-size="11" font-weight="bold">全要件充足率</text>')
    for k, (lo, hi, color) in enumerate(CLASSES):
        y = top + 20 + 18 * k
        label = f"{lo:g}–{min(hi, 100):g}%" if hi <= 100 else f"{lo:g}%以上"
        out.append(f'<rect x="{lx}" y="{y}" width="14" height="12" fill="{color}" stroke="#555" stroke-width="0.5"/>')
        out.append(f'<text x="{lx + 20}" y="{y + 10}" font-size="11">{label}</text>')
    y = top + 20 + 18 * len(CLASSES)
    out.append(f'<rect x="{lx}" y="{y}" width="14" height="12" fill="{NO_DATA}" stroke="#555" stroke-width="0.5"/>')
    out.append(f'<text x="{lx + 20}" y="{y + 10}" font-size="11">対象なし</text>')
    out.append(f'<text x="0" y="{height - 8}" font-size="10" fill="#444">{escape(CREDIT_BOUNDARIES)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def area_map_figure(shapes: dict, values: dict[str, float | None], title: str):
    """The same map as a matplotlib figure (for PNG files, the workbook and the notebooks)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.patches import Polygon as MplPolygon

    from matching.scenarios.plots import japanese_font

    with japanese_font():
        fig = Figure(figsize=(7.5, 7))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        _draw(ax, fig, shapes, values, title, MplPolygon, Patch)
    return fig


def _draw(ax, fig, shapes, values, title, MplPolygon, Patch) -> None:
    geoms = [g for _, g in shapes.values()]
    minx, miny, maxx, maxy = unary_union(geoms).bounds
    kx = math.cos(math.radians((miny + maxy) / 2))
    for code, (name, geom) in shapes.items():
        v = values.get(code)
        for poly in _polygons(geom):
            ax.add_patch(MplPolygon([((x - minx) * kx, y) for x, y in poly.exterior.coords],
                                    closed=True, facecolor=share_color(v), edgecolor="#555", linewidth=0.7))
        c = geom.representative_point()
        shown = "データなし" if v is None or pd.isna(v) else f"{v:.1f}%"
        dark = v is not None and not pd.isna(v) and v >= 85
        ax.text((c.x - minx) * kx, c.y, f"{name}\n{shown}", ha="center", va="center", fontsize=8,
                color="#fff" if dark else "#111")
    ax.set_xlim(0, (maxx - minx) * kx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    handles = [Patch(facecolor=c, edgecolor="#555", label=f"{lo:g}–{min(hi, 100):g}%") for lo, hi, c in CLASSES]
    handles.append(Patch(facecolor=NO_DATA, edgecolor="#555", label="対象なし"))
    ax.legend(handles=handles, title="義務施設の全要件充足率", loc="lower left", fontsize=8, title_fontsize=8)
    fig.text(0.01, 0.01, CREDIT_BOUNDARIES, fontsize=7, color="#444")
