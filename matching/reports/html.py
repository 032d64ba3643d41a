"""A self-contained HTML report: an interactive map, charts and tables, in Japanese.

Self-contained means one file that works offline: Leaflet 1.9.4 (BSD-2-Clause,
``matching/vendor/leaflet/LICENSE``) is inlined from ``matching/vendor/leaflet/``, the data is embedded as
JSON, and the charts are inline SVG.  Nothing is fetched at run time unless the
reader switches on the OpenStreetMap background (off by default); without it the
map is points and lines on a plain background:

* facilities — circles coloured by status (before or after the proposals, a switch);
* institutions — circles sized by spare capacity after the proposals (largest = unlimited);
* proposals — lines from facility to institution.

>>> write_html("out/report.html", region, result)          # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import pandas as pd

from matching.optimise.run import MatchResult
from matching.region import Region
from matching.reports.context import CREDIT_BOUNDARIES, ReportContext
from matching.reports.svg import bar_chart, grouped_bars, stacked_bars
from matching.reports.tables import (
    affecting,
    area_shares,
    area_summary,
    comparison_table,
    coverage_by_area,
    criticality_table,
    omitted_note,
    proposals_table,
    status_by_type,
    status_colors,
    status_with_subtotals,
    summary_numbers,
    unmatched_table,
    unreported_table,
)
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER, STATUS_ORDER, InstitutionKind, roles_ja

#: The one vendored copy of Leaflet, shared with the web page (served at ``/static/vendor``).
STATIC = Path(__file__).resolve().parents[1] / "vendor" / "leaflet"
TILES = {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
         "attribution": "&copy; OpenStreetMap contributors"}


def write_html(path: str | Path, region: Region, result: MatchResult, runs=None, criticality=None,
               title: str | None = None, created=None, data_as_of=None,
               context: ReportContext | None = None) -> Path:
    """Write the report; ``runs`` (scenario runs) and ``criticality`` add their sections."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(region, result, runs, criticality, title, created=created,
                                data_as_of=data_as_of, context=context), encoding="utf-8")
    return path


def render_html(region: Region, result: MatchResult, runs=None, criticality=None,
                title: str | None = None, created=None, data_as_of=None,
                context: ReportContext | None = None) -> str:
    """The report as one HTML string."""
    ctx = context or ReportContext.build(region, result.params, title=title, created=created,
                                         data_as_of=data_as_of)
    title = ctx.title
    leaflet_js = (STATIC / "leaflet.js").read_text(encoding="utf-8")
    leaflet_css = (STATIC / "leaflet.css").read_text(encoding="utf-8")
    data = map_data(region, result)
    sections = [
        _section("cover", "この資料について", _context_html(ctx)),
        _section("summary", "概要", _summary_html(region, result)),
        _section("areas", "二次医療圏ごとの状況", _areas_html(region, result)),
        _section("map-section", "地図", _MAP_HTML),
        _section("charts", "グラフ", _charts_html(region, result, runs)),
        _section("status", "施設種別ごとの状況", _status_html(region, result)),
        _section("proposals", f"提案（{len(result.proposals)}件）", _df_html(proposals_table(region, result))),
        _section("unmatched", "提案後も満たされない要件（年次報告のある施設）",
                 _df_html(unmatched_table(region, result))),
        _section("unreported", "年次報告のない施設（集計していない：未充足には数えない）",
                 _df_html(unreported_table(region, result))),
    ]
    if runs:
        from matching.scenarios.apply import change_log_ja
        from matching.scenarios.compare import compare

        comp = compare(runs)
        labels = dict(zip(comp.summary["scenario"], comp.summary["label"], strict=True))
        desc = "".join(f"<li><b>{escape(r.scenario.title)}</b>：{escape(r.scenario.description or '')}</li>"
                       for r in runs)
        changes = []
        for r in runs:
            log = change_log_ja(r.log) if r.log is not None else pd.DataFrame()
            changes.append(f"<h4>{escape(r.scenario.title)}</h4>" + _df_html(log, empty="変更なし"))
        per_scenario = "".join(
            f"<h4>{escape(r.scenario.title)}（提案後）</h4>"
            + _df_html(status_with_subtotals(r.result.status_after, r.region.areas)) for r in runs)
        sections.append(_section("scenarios", "シナリオ比較",
                                 f"<ul>{desc}</ul>" + _df_html(comparison_table(comp.summary))
                                 + "<h3>二次医療圏ごとの義務施設の全要件充足数（提案後）</h3>"
                                 + _df_html(coverage_by_area(comp.coverage, labels, region.areas))
                                 + "<h3>各シナリオが実際に変えた内容</h3>" + "".join(changes)
                                 + "<h3>シナリオごとの二次医療圏×種別の状況</h3>" + per_scenario))
    if criticality is not None:
        shown = affecting(criticality)
        note = f'<p class="note">{escape(omitted_note(len(criticality), len(shown)))}省略しています。</p>'
        sections.append(_section("criticality", "重要な医療機関（受入れを止めると全要件充足を失う施設がある機関・上位20）",
                                 note + _df_html(criticality_table(shown.head(20), region.areas))))
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<!-- Leaflet 1.9.4 (https://leafletjs.com), BSD-2-Clause, inlined so the report works offline -->
<style>
{leaflet_css}
</style>
<style>
{_CSS}
</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p class="dates">作成日 {escape(ctx.lines()[2][1])}　データの時点 {escape(ctx.lines()[3][1])}　義務化の期限 {escape(ctx.deadline_text)}</p>
<p class="note">提案は候補です。協定は施設と医療機関が話し合って結びます（人が決め、ツールは提案する）。
状況区分は厚生労働省の調査（別紙1）の区分に「協力医療機関を定めていない」を加えたものです。</p>
</header>
{"".join(sections)}
<script>
{leaflet_js}
</script>
<script type="application/json" id="report-data">{payload}</script>
<script>
{_JS}
</script>
</body>
</html>
"""


def map_data(region: Region, result: MatchResult) -> dict:
    """What the map draws, as plain JSON-able data."""
    from matching.scenarios.usage import institution_usage

    fac = region.facility_area()
    before, after = result.status_before, result.status_after
    res = region.residents()
    facilities = [{
        "id": f, "name": fac.at[f, "name"], "type": FACILITY_TYPES[fac.at[f, "facility_type"]].name_ja,
        "muni": fac.at[f, "municipality_name"], "lat": float(fac.at[f, "lat"]), "lon": float(fac.at[f, "lon"]),
        "residents": int(res[f]), "sb": before.at[f, "status"], "sa": after.at[f, "status"],
        "missing": roles_ja(after.at[f, "missing_roles"]) if after.at[f, "missing_roles"] else "",
    } for f in fac.index]
    usage = institution_usage(region, result)
    inst = region.institutions
    institutions = []
    for i in inst.index:
        u = usage.loc[i]
        institutions.append({
            "id": i, "name": inst.at[i, "name"], "kind": InstitutionKind(inst.at[i, "kind"]).label_ja,
            "lat": float(inst.at[i, "lat"]), "lon": float(inst.at[i, "lon"]),
            "roles": roles_ja(region.offered_roles(i)),  # "なし" when it offers none around the clock
            "accepting": None if pd.isna(inst.at[i, "accepting"]) else bool(inst.at[i, "accepting"]),
            "capacity": None if pd.isna(u["capacity_facilities"]) else int(u["capacity_facilities"]),
            "spare": None if pd.isna(u["spare_facilities"]) else int(u["spare_facilities"]),
            "used": int(u["used_facilities"]), "eligible": bool(u["eligible"]), "full": bool(u["full"]),
        })
    p = result.proposals
    proposals = [{"f": f, "i": i, "roles": roles_ja({r for r in ROLE_ORDER if r.value in str(roles).split(";")}),
                  "min": float(m), "km": float(k), "ext": bool(e)}
                 for f, i, roles, m, k, e in zip(p["facility_id"], p["institution_id"], p["roles"],
                                                 p["travel_minutes"], p["distance_km"], p["extends_existing"],
                                                 strict=True)]
    return {
        "facilities": facilities, "institutions": institutions, "proposals": proposals,
        "colors": status_colors(),
        "statusLabels": {s.value: s.label_ja for s in STATUS_ORDER},
        "statusShort": {s.value: s.short_ja for s in STATUS_ORDER},
        "tiles": TILES,
    }


# -- sections --------------------------------------------------------------------

def _section(anchor: str, heading: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{escape(heading)}</h2>\n{body}\n</section>\n'


def _summary_html(region: Region, result: MatchResult) -> str:
    items = "".join(f"<div class=\"kpi\"><div class=\"v\">{escape(str(v))}</div>"
                    f"<div class=\"k\">{escape(k)}</div></div>" for k, v in summary_numbers(region, result))
    return f'<div class="kpis">{items}</div>'


def _context_html(ctx: ReportContext) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in ctx.lines()[1:])
    return f'<table class="meta">{rows}</table>'


def _areas_html(region: Region, result: MatchResult) -> str:
    from matching.reports.areamap import area_map_svg, area_shapes

    out = []
    shapes = area_shapes(region)
    if shapes:
        maps = [area_map_svg(shapes, area_shares(region, result, when), f"義務施設の全要件充足率（{label}）")
                for when, label in (("before", "現状"), ("after", "提案後"))]
        out.append('<div class="maps">' + "".join(f'<figure class="chart">{m}</figure>' for m in maps) + "</div>")
        out.append(f'<p class="note">{escape(CREDIT_BOUNDARIES)}。率は年次報告のある義務施設に占める割合。</p>')
    out.append(_df_html(area_summary(region, result)))
    out.append("<h3>二次医療圏×種別（現状）</h3>" + _df_html(status_with_subtotals(result.status_before, region.areas)))
    out.append("<h3>二次医療圏×種別（提案後）</h3>" + _df_html(status_with_subtotals(result.status_after, region.areas)))
    return "\n".join(out)


def _status_html(region: Region, result: MatchResult) -> str:
    return ("<h3>現状</h3>" + _df_html(status_by_type(result.status_before, region.areas))
            + "<h3>提案がすべて合意された場合</h3>" + _df_html(status_by_type(result.status_after, region.areas)))


def _charts_html(region: Region, result: MatchResult, runs) -> str:
    colors = status_colors()
    series = [(s.short_ja, colors[s.value]) for s in STATUS_ORDER]
    charts = []
    for st, label in ((result.status_before, "現状"), (result.status_after, "提案後")):
        counts = st.groupby(["facility_type", "status"]).size()
        rows = [(t.name_ja, [int(counts.get((code, s.value), 0)) for s in STATUS_ORDER])
                for code, t in FACILITY_TYPES.items() if code in set(st["facility_type"])]
        charts.append(stacked_bars(rows, series, f"施設種別ごとの状況（{label}）"))
    from matching.scenarios.compare import TRAVEL_BINS, travel_labels

    minutes = result.proposals["travel_minutes"].astype(float)
    classes = pd.cut(minutes, list(TRAVEL_BINS) + [float("inf")], right=False, labels=travel_labels())
    counts = classes.value_counts().reindex(travel_labels(), fill_value=0)
    charts.append(bar_chart([(k, int(v)) for k, v in counts.items()], "提案の移動時間（件数）", unit="件"))
    if runs:
        from matching.scenarios.compare import compare

        s = compare(runs).summary
        charts.append(grouped_bars(list(s["label"]), [
            ("全要件充足（義務施設・提案後）", "#1f5fa8", [float(v) for v in s["obligated_all_met_after"]]),
            ("全要件充足（全施設・提案後）", "#7aa6d6", [float(v) for v in s["all_met_after"]]),
            ("新規協定数", "#d9822b", [float(v) for v in s["new_agreements"]]),
        ], "シナリオ比較"))
    return "\n".join(f'<figure class="chart">{c}</figure>' for c in charts)


def _number(v) -> str:
    if pd.isna(v):
        return ""
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.1f}"


def _df_html(df: pd.DataFrame, empty: str = "該当なし") -> str:
    """A table: shares (headers with 率 or %) as ``72.7%``, counts with thousands separators;
    subtotal rows (小計・合計) bold."""
    if df.empty:
        return f'<p class="note">{escape(empty)}</p>'
    shown = df.copy()
    for c in shown.columns:
        if "率" in str(c) or "%" in str(c):
            shown[c] = shown[c].map(lambda v: "" if v is None or pd.isna(v) or isinstance(v, str) else f"{v:.1f}%")
        elif pd.api.types.is_integer_dtype(shown[c]):
            shown[c] = shown[c].map(lambda v: f"{v:,}")
    html = shown.to_html(index=False, escape=True, na_rep="", border=0, classes="tbl",
                         float_format=_number)
    html = re.sub(r"<tr>(\s*<td>(?:[^<]*</td>\s*<td>)*?(?:小計|合計（全域）)</td>)", r'<tr class="sub">\1', html)
    return '<div class="tablewrap">' + html + "</div>"


_MAP_HTML = """<div class="mapbar">
<span>施設の色：</span>
<label><input type="radio" name="when" value="before"> 現状</label>
<label><input type="radio" name="when" value="after" checked> 提案後</label>
<span class="note">背景地図は右上の切替で表示できます（インターネット接続が必要。既定は非表示で、オフラインでも点と線で表示されます）。</span>
</div>
<div id="map"></div>"""

_CSS = """
body { font-family: "Hiragino Kaku Gothic ProN", "Yu Gothic", "Meiryo", "Noto Sans CJK JP", sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 0 16px 40px; color: #222; }
h1 { font-size: 1.5em; margin: 20px 0 6px; }
h2 { border-left: 6px solid #1f5fa8; padding-left: 8px; margin-top: 32px; }
.note { color: #555; font-size: 0.9em; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; }
.kpi { background: #f3f6fa; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.kpi .v { font-size: 1.4em; font-weight: bold; color: #1f5fa8; }
.kpi .k { font-size: 0.85em; color: #444; }
#map { height: 620px; border: 1px solid #bbb; }
.leaflet-container { background: #eef2f5; }
.mapbar { margin: 6px 0; display: flex; gap: 12px; flex-wrap: wrap; align-items: center; }
.legend { background: #fff; padding: 8px 10px; border-radius: 4px; box-shadow: 0 0 4px rgba(0,0,0,.3);
          font-size: 12px; line-height: 1.6; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 6px;
            vertical-align: middle; border: 1px solid #333; }
figure.chart { margin: 12px 0; overflow-x: auto; }
.tablewrap { max-height: 480px; overflow: auto; border: 1px solid #ddd; }
table.tbl { border-collapse: collapse; font-size: 12px; }
table.tbl th { background: #dce6f1; position: sticky; top: 0; }
table.tbl th, table.tbl td { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
table.tbl tr.sub td { font-weight: bold; background: #f2f2f2; }
table.meta th { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; white-space: nowrap; }
.dates { font-weight: bold; }
.maps { display: flex; flex-wrap: wrap; gap: 12px; }
/* Print: every row of every table (no scroll boxes), header rows repeated on each page,
   landscape A4, no interactive map (the 二次医療圏 maps and charts print instead). */
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .tablewrap { max-height: none !important; overflow: visible !important; border: none; }
  table.tbl { width: 100%; font-size: 8.5pt; }
  table.tbl th { position: static; }
  table.tbl thead { display: table-header-group; }
  table.tbl tr { break-inside: avoid; page-break-inside: avoid; }
  figure.chart { overflow: visible; break-inside: avoid; page-break-inside: avoid; }
  #map-section, .mapbar, #map { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section { break-before: auto; }
}
"""

_JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  var map = L.map("map", {preferCanvas: true, zoomSnap: 0.25});
  var tiles = L.tileLayer(D.tiles.url, {attribution: D.tiles.attribution, maxZoom: 18});
  var facLayer = L.layerGroup().addTo(map);
  var instLayer = L.layerGroup().addTo(map);
  var propLayer = L.layerGroup().addTo(map);
  var facById = {}, instById = {};
  D.facilities.forEach(function (f) { facById[f.id] = f; });
  D.institutions.forEach(function (i) { instById[i.id] = i; });

  function when() { return document.querySelector('input[name="when"]:checked').value; }
  function drawFacilities() {
    facLayer.clearLayers();
    var w = when();
    D.facilities.forEach(function (f) {
      var s = w === "before" ? f.sb : f.sa;
      L.circleMarker([f.lat, f.lon], {radius: 5, color: "#333", weight: 1, fillColor: D.colors[s], fillOpacity: 0.95})
        .bindPopup("<b>" + esc(f.name) + "</b><br>" + esc(f.type) + "（" + esc(f.muni) + "、定員" + f.residents + "）<br>" +
                   "現状：" + esc(D.statusLabels[f.sb]) + "<br>提案後：" + esc(D.statusLabels[f.sa]) +
                   (f.missing ? "<br>提案後も不足：" + esc(f.missing) : ""))
        .addTo(facLayer);
    });
  }
  function radius(i) {
    if (i.spare === null) return 10;              // unlimited
    return Math.min(10, 2.5 + 2 * Math.sqrt(Math.max(0, i.spare)));
  }
  D.institutions.forEach(function (i) {
    var color = i.kind === "病院" ? "#1565c0" : "#7b1fa2";
    var spare = i.spare === null ? "制限なし" : i.spare + "施設";
    var acc = i.accepting === null ? "未確認" : (i.accepting ? "受入可" : "受入不可");
    L.circleMarker([i.lat, i.lon], {radius: radius(i), color: color, weight: i.eligible ? 1.5 : 1,
                                    dashArray: i.eligible ? null : "2,3", fillColor: color,
                                    fillOpacity: i.eligible ? 0.25 : 0.05})
      .bindPopup("<b>" + esc(i.name) + "</b>（" + esc(i.kind) + "）<br>常時提供できる役割：" + esc(i.roles) +
                 "<br>新規受入れ：" + acc + "<br>提案後の空き枠：" + spare + "（提案で使用 " + i.used + "）")
      .addTo(instLayer);
  });
  D.proposals.forEach(function (p) {
    var f = facById[p.f], i = instById[p.i];
    if (!f || !i) return;
    L.polyline([[f.lat, f.lon], [i.lat, i.lon]], {color: p.ext ? "#2e7d32" : "#1f5fa8", weight: 2, opacity: 0.75})
      .bindTooltip(esc(f.name) + " → " + esc(i.name) + "：" + esc(p.roles) + "（約" + Math.round(p.min) + "分）")
      .addTo(propLayer);
  });
  drawFacilities();
  document.querySelectorAll('input[name="when"]').forEach(function (el) { el.addEventListener("change", drawFacilities); });

  var overlays = {"施設（状況で色分け）": facLayer, "医療機関（空き枠で大きさ）": instLayer, "提案（線）": propLayer,
                  "背景地図（OpenStreetMap・要接続）": tiles};
  L.control.layers(null, overlays, {collapsed: false}).addTo(map);
  L.control.scale({imperial: false}).addTo(map);
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "legend");
    var html = "<b>施設の状況</b><br>";
    Object.keys(D.statusShort).forEach(function (s) {
      html += '<i style="background:' + D.colors[s] + '"></i>' + esc(D.statusShort[s]) + "<br>";
    });
    html += '<b>医療機関</b><br><i style="background:#1565c0;opacity:.6"></i>病院　<i style="background:#7b1fa2;opacity:.6"></i>診療所<br>' +
            "円の大きさ＝提案後の空き枠（最大＝制限なし）<br>点線＝新規受入れの対象外<br>" +
            '<b>提案</b>：<span style="color:#1f5fa8">━</span> 新規協定　<span style="color:#2e7d32">━</span> 既存協定に追加';
    div.innerHTML = html;
    return div;
  };
  legend.addTo(map);
  var pts = D.facilities.map(function (f) { return [f.lat, f.lon]; })
    .concat(D.institutions.map(function (i) { return [i.lat, i.lon]; }));
  if (pts.length) { map.fitBounds(L.latLngBounds(pts), {padding: [12, 12]}); } else { map.setView([36.5, 138], 5); }
})();
"""
