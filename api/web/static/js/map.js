// The map of the user's area: facilities by status (shape and colour), clustered at prefecture scale;
// institutions sized by spare capacity and marked by the roles they offer; proposal lines.  The base map
// is offline: the municipal boundaries with their names (GET /areas/boundaries); tiles are optional.
import { api } from "./api.js";
import { confirmDialog, contactLog, proposalActions, today } from "./proposals.js";
import {
  COLUMN, KIND, PROPOSAL_STATES, ROLE_LABEL, STATUS, TYPE, acceptingLabel, facilityById, institutionRoles, kindLabel,
  locationApproximate, locationLabel, marks, municipalityName, onChange, reload, slotsLabel, spare, spareLabel, store,
} from "./store.js";
import { distanceKm, el, fmt, showMessage, telHref } from "./util.js";

// Status by colour AND shape (and text in tooltips, legend and badges): a palette from Okabe & Ito's
// colour-blind-safe set that stays distinct under protanopia and deuteranopia (tests/web check it),
// with a black outline so each shape has ≥ 3:1 contrast against the map.
export const STATUS_COLOURS = {
  all_met: "#0072B2", some_met: "#F0E442", none_met: "#CC79A7", not_designated: "#D55E00", not_tracked: "#FFFFFF",
};
export const STATUS_SHAPES = {
  all_met: "circle", some_met: "triangle", none_met: "square", not_designated: "diamond", not_tracked: "ring",
};
const SHAPE_SVG = {
  circle: '<circle cx="8" cy="8" r="6.5"/>',
  triangle: '<path d="M8 1 L15 14.5 L1 14.5 Z"/>',
  square: '<rect x="2" y="2" width="12" height="12"/>',
  diamond: '<path d="M8 0.5 L15.5 8 L8 15.5 L0.5 8 Z"/>',
  ring: '<circle cx="8" cy="8" r="6.5" stroke-dasharray="3 2"/>',
};
export function statusShape(code, size = 16) {
  return `<svg class="shape" width="${size}" height="${size}" viewBox="0 0 16 16" aria-hidden="true" focusable="false">`
    + `<g fill="${STATUS_COLOURS[code]}" stroke="#000" stroke-width="1.2">${SHAPE_SVG[STATUS_SHAPES[code]]}</g></svg>`;
}
export function statusBadge(code, label) {
  const b = el("span", { class: `badge status-${code}`, dataset: { status: code } });
  b.innerHTML = statusShape(code, 12);
  b.append(` ${label}`);
  return b;
}

const OPEN = ["proposed", "contacted", "accepted"];
// The online tiles offered with ONLINE_TILES=true: 地理院タイル（淡色） first, OpenStreetMap second.
const ONLINE_TILES = [
  ["地理院タイル（淡色）", "https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png",
    '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>', 18],
  ["OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors', 19],
];
let map, layers, selected = null, fitted = false, boundaries = null, byFacility = new Map(), zooming = false;
// From this zoom facilities no longer cluster: each shows its own marker.
const UNCLUSTERED_ZOOM = 12;
const unmatchedCache = new Map();

/** A note that an answer rests on an approximate point (a municipal office), in words, not colour only. */
function locationNote(text) {
  return el("div", { class: "notice location-uncertain", role: "note" }, el("b", {}, "位置は近似（市区町村役場）"), `：${text}`);
}

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";

function japaneseControls() {
  // Leaflet's own words, in Japanese (zoom buttons, layer switch, attribution prefix).
  const z = map.zoomControl;
  z.options.zoomInTitle = "拡大"; z.options.zoomOutTitle = "縮小";
  map.removeControl(z); map.addControl(z);
}

export function initMap() {
  if (map) return;
  zooming = false;
  map = L.map("map", { preferCanvas: false, zoomSnap: 0.25, keyboard: true, maxZoom: 18, minZoom: 5 });
  map.on("zoomstart", () => { zooming = true; }).on("zoomend", () => { zooming = false; });
  japaneseControls();
  map.getContainer().setAttribute("aria-label", "地図（矢印キーで移動、＋・－で拡大縮小、Tab で施設を選択）");
  map.attributionControl.setPrefix(false);
  // Base layers: the boundaries are always drawn (offline); tiles are optional, switchable.
  const bases = { "境界のみ（オフライン）": L.layerGroup() };
  const own = meta("tile-url");
  if (own) bases["背景地図"] = L.tileLayer(own, { attribution: meta("tile-attribution"), maxZoom: 18 });
  if (meta("online-tiles")) {
    for (const [name, url, attribution, maxZoom] of ONLINE_TILES) bases[name] = L.tileLayer(url, { attribution, maxZoom });
  }
  (own ? bases["背景地図"] : bases["境界のみ（オフライン）"]).addTo(map);
  if (Object.keys(bases).length > 1) L.control.layers(bases, null, { collapsed: false, position: "topright" }).addTo(map);
  map.createPane("boundaries").style.zIndex = 250;
  map.createPane("labels").style.zIndex = 260;
  map.createPane("facilities").style.zIndex = 640;
  layers = {
    boundaries: L.layerGroup().addTo(map), areas: L.layerGroup().addTo(map),
    institutions: L.layerGroup().addTo(map), lines: L.layerGroup().addTo(map),
    selection: L.layerGroup().addTo(map),
    // Facilities cluster at prefecture scale; each status keeps its own shape when single.
    facilities: L.markerClusterGroup({ maxClusterRadius: 40, disableClusteringAtZoom: UNCLUSTERED_ZOOM, removeOutsideVisibleBounds: false,
      spiderfyOnMaxZoom: true, showCoverageOnHover: false, chunkedLoading: false, clusterPane: "facilities",
      iconCreateFunction: clusterIcon }).addTo(map),
  };
  // Clusters by keyboard: focusable (Leaflet markers), named, Enter zooms into them.
  layers.facilities.on("clusterkeypress", (e) => { if (e.originalEvent.key === "Enter" || e.originalEvent.key === " ") e.layer.zoomToBounds({ padding: [20, 20] }); });
  map.on("layeradd", (e) => {
    if (!(e.layer instanceof L.MarkerCluster)) return;
    const icon = e.layer.getElement?.();
    if (icon) icon.setAttribute("aria-label", `施設 ${e.layer.getChildCount()}件のまとまり（Enter で拡大）`);
  });
  map.setView([39.7, 141.15], 9);
  const typeSel = document.getElementById("filter-type");
  for (const t of store.vocab.facility_types) typeSel.append(el("option", { value: t.code }, t.name_ja));
  const statusSel = document.getElementById("filter-status");
  for (const s of store.vocab.statuses) statusSel.append(el("option", { value: s.code }, s.label_ja));
  for (const id of ["filter-type", "filter-status", "show-institutions", "show-proposals"]) {
    document.getElementById(id).addEventListener("change", draw);
  }
  document.getElementById("filter-municipality").addEventListener("change", () => { draw(); zoomToMunicipality(); });
  const legend = (shape, text) => { const d = el("div", {}); d.innerHTML = shape; d.append(text); return d; };
  document.getElementById("legend").replaceChildren(
    ...store.vocab.statuses.map((s) => legend(statusShape(s.code, 14), s.label_ja)),
    el("div", {}, el("span", { class: "inst-icon", style: "width:14px;height:14px" }),
      `${KIND.hospital}（大きさ＝受入枠の空き、${store.vocab.roles.map((r) => r.mark).join("")}＝担える役割）`),
    el("div", {}, el("span", { class: "inst-icon clinic", style: "width:14px;height:14px" }), `${KIND.clinic}（点線＝受入枠未設定、灰色＝満杯）`),
    el("div", {}, el("span", { style: "border-top:2px dashed #1f5fa8;width:18px" }), "提案（提案中・連絡済み）"),
    el("div", {}, el("span", { style: "border-top:3px solid #006d2c;width:18px" }), "承諾済みの提案"),
    el("div", {}, el("span", { class: "cluster-sample" }, "12"), "施設のまとまり（数＝施設数、クリックで拡大）"),
  );
  onChange(() => { draw(); if (selected) showFacility(selected, false, false, false, true); });
  fillMunicipalities();
  draw();
  loadBoundaries();
}

function clusterIcon(cluster) {
  const children = cluster.getAllChildMarkers();
  const n = children.length;
  const size = n < 10 ? 30 : n < 100 ? 36 : 42;
  const ids = children.map((m) => m.options.facilityId).join(" ");
  return L.divIcon({ className: "facility-cluster", iconSize: [size, size],
    html: `<div data-facility-ids="${ids}" aria-hidden="true"><span>${n}</span></div>` });
}

async function loadBoundaries() {
  const mine = map;
  let found;
  try {
    found = await api("/areas/boundaries");
  } catch (e) {
    found = { features: [] };
  }
  if (!map || map !== mine) return;  // signed out meanwhile
  boundaries = found;
  if (boundaries.credit) map.attributionControl.addAttribution(boundaries.credit);
  drawBoundaries();
  zoomToMunicipality();
}

function drawBoundaries() {
  layers.boundaries.clearLayers();
  if (!boundaries?.features.length) return;
  L.geoJSON(boundaries, {
    pane: "boundaries", interactive: false,
    style: (f) => ({ className: `boundary${f.properties.in_your_area ? " mine" : ""}`, color: "#5b6b7a",
      weight: f.properties.in_your_area ? 1.6 : 0.8, fillColor: f.properties.in_your_area ? "#fbfbf7" : "#e9ecef", fillOpacity: 1 }),
    onEachFeature: (f, layer) => { layer.options.municipalityCode = f.properties.municipality_code; },
  }).addTo(layers.boundaries);
  drawLabels();
}

function drawLabels() {
  layers.areas.clearLayers();
  const label = (lat, lon, code, name) => L.marker([lat, lon], { interactive: false, keyboard: false, pane: "labels",
    icon: L.divIcon({ className: "area-label", html: `<span data-municipality-code="${code}">${escapeHtml(name)}</span>`, iconSize: [90, 14], iconAnchor: [45, 7] }) })
    .addTo(layers.areas);
  if (boundaries?.features.length) {
    for (const f of boundaries.features) label(f.properties.label_lat, f.properties.label_lon, f.properties.municipality_code, f.properties.municipality_name);
    return;
  }
  // No boundary file for this region: names at the centre of their points.
  const pts = new Map();
  for (const p of [...store.facilities, ...store.institutions.values()]) {
    const a = pts.get(p.municipality_code) || pts.set(p.municipality_code, [0, 0, 0]).get(p.municipality_code);
    a[0] += p.lat; a[1] += p.lon; a[2] += 1;
  }
  for (const [code, [la, lo, n]] of pts) label(la / n, lo / n, code, municipalityName(code));
}

function zoomToMunicipality() {
  const code = document.getElementById("filter-municipality").value;
  if (!map || !code) return;
  let bounds = null;
  layers.boundaries.eachLayer((g) => g.eachLayer?.((l) => { if (l.options.municipalityCode === code) bounds = l.getBounds(); }));
  if (!bounds) {
    const pts = [...store.facilities, ...store.institutions.values()].filter((p) => p.municipality_code === code).map((p) => [p.lat, p.lon]);
    if (pts.length) bounds = L.latLngBounds(pts);
  }
  if (bounds) { map.fitBounds(bounds.pad(0.05)); document.getElementById("map").dataset.zoomedTo = code; }
}

export function resetMap() {
  if (map) retire(map);
  map = null;
  selected = null; fitted = false; unmatchedCache.clear(); boundaries = null; byFacility = new Map();
  drawer.classList.remove("open"); drawerOpener = null;
  document.getElementById("filter-type").replaceChildren(el("option", { value: "" }, "すべて"));
  document.getElementById("filter-status").replaceChildren(el("option", { value: "" }, "すべて"));
  document.getElementById("filter-municipality").replaceChildren(el("option", { value: "" }, "担当区域すべて"));
}

/** Take a map out of the page without breaking what it is still animating.
 *  Removing a Leaflet map during a zoom or cluster animation makes the animation's timer read the
 *  removed panes ("Cannot read properties of undefined (reading '_leaflet_pos')", seen on sign-out
 *  right after a reload). The map keeps its old element, detached; a fresh element takes its place
 *  for the next map; the old map is removed once its animations have had time to end. */
function retire(old) {
  old.stop();
  const el = old.getContainer();
  const fresh = el.cloneNode(false);
  fresh.className = "map";  // without Leaflet's own classes
  for (const k of Object.keys(fresh.dataset)) delete fresh.dataset[k];
  el.replaceWith(fresh);
  setTimeout(() => old.remove(), 1000);
}

export function invalidate() { map?.invalidateSize(); }

// The facility's own marker shows (out of its cluster) once the map is at UNCLUSTERED_ZOOM, where
// showFacility zooms for links and lists: wait for that zoom to end.  Not markercluster's
// zoomToShowLayer: its handler keeps the marker, and a redraw meanwhile (the store refreshed) left
// that marker without a cluster — a TypeError at the animation's end.
export function reveal(id) {
  const f = facilityById(id);
  return new Promise((resolve) => {
    if (!map || !f) resolve();
    else if (zooming) map.once("zoomend", () => resolve());
    else {
      if (map.getZoom() < UNCLUSTERED_ZOOM) map.setView([f.lat, f.lon], UNCLUSTERED_ZOOM, { animate: false });
      resolve();
    }
  });
}

function fillMunicipalities() {
  const sel = document.getElementById("filter-municipality");
  if (sel.options.length > 1) return;
  for (const m of store.me.municipalities) sel.append(el("option", { value: m.municipality_code }, m.municipality_name));
}

function filtered() {
  const t = document.getElementById("filter-type").value;
  const s = document.getElementById("filter-status").value;
  const m = document.getElementById("filter-municipality").value;
  return store.facilities.filter((f) => (!t || f.facility_type === t) && (!s || f.status === s) && (!m || f.municipality_code === m));
}

function institutionIcon(i) {
  const sp = spare(i);
  const size = sp == null ? 18 : sp <= 0 ? 12 : Math.min(34, 14 + 4 * Math.sqrt(sp));
  const cls = ["inst-icon", i.kind, sp == null ? "unknown" : "", sp != null && sp <= 0 ? "full" : ""].join(" ");
  const roles = institutionRoles(i);
  return L.divIcon({ className: "", iconSize: [size, size],
    html: `<div class="${cls}" style="width:${size}px;height:${size}px" data-institution-id="${i.institution_id}">${roles.length ? marks(roles) : ""}</div>` });
}

function institutionTip(i) {
  const sp = spare(i);
  return `<b>${escapeHtml(i.name)}</b>（${escapeHtml(kindLabel(i.kind))}）<br>担える役割：${marks(institutionRoles(i))}<br>`
    + `受入意向：${acceptingLabel(i.accepting)}<br>受入枠の空き：${spareLabel(sp)}`
    + (locationApproximate(i) ? `<br>位置：${escapeHtml(locationLabel(i))}` : "")
    + (i.contact_name || i.contact_phone ? `<br>担当：${escapeHtml(i.contact_name || "（氏名未回答）")}${i.contact_phone ? `　電話 ${escapeHtml(i.contact_phone)}` : ""}` : "");
}

function facilityIcon(f) {
  return L.divIcon({ className: "facility-icon", iconSize: [16, 16],
    html: `<div class="facility-marker status-${f.status}" data-facility-id="${escapeHtml(f.facility_id)}" data-status="${f.status}">${statusShape(f.status)}</div>` });
}

function draw() {
  if (!map) return;
  const shown = filtered();
  for (const k of ["institutions", "lines", "selection", "facilities"]) layers[k].clearLayers();
  if (!boundaries?.features.length) drawLabels();
  if (document.getElementById("show-institutions").checked) {
    for (const i of store.institutions.values()) {
      L.marker([i.lat, i.lon], { icon: institutionIcon(i), keyboard: false }).bindTooltip(institutionTip(i)).addTo(layers.institutions);
    }
  }
  const ids = new Set(shown.map((f) => f.facility_id));
  if (document.getElementById("show-proposals").checked) {
    for (const p of store.proposals) {
      const f = facilityById(p.facility_id), i = store.institutions.get(p.institution_id);
      if (!OPEN.includes(p.state) || !ids.has(p.facility_id) || !f || !i) continue;
      L.polyline([[f.lat, f.lon], [i.lat, i.lon]], { className: `proposal-line state-${p.state}`,
        color: p.state === "accepted" ? "#006d2c" : "#1f5fa8", weight: p.state === "accepted" ? 3 : 2,
        dashArray: p.state === "accepted" ? null : "5 4", opacity: 0.8 })
        .bindTooltip(`${escapeHtml(f.name)} ← ${escapeHtml(i.name)}<br>${marks(p.roles)}・${fmt(p.travel_minutes)}分・${PROPOSAL_STATES[p.state]}`)
        .addTo(layers.lines);
    }
  }
  byFacility = new Map();
  const markers = shown.map((f) => {
    const label = `${f.name}（${TYPE[f.facility_type].short_ja}・${STATUS[f.status].short_ja}${f.missing_roles.length ? `・不足 ${marks(f.missing_roles)}` : ""}）`;
    const m = L.marker([f.lat, f.lon], { icon: facilityIcon(f), keyboard: true, title: label, alt: label, facilityId: f.facility_id, pane: "facilities" })
      .bindTooltip(`${escapeHtml(f.name)}<br>${TYPE[f.facility_type].short_ja}・${STATUS[f.status].short_ja}`
        + (f.missing_roles.length ? `<br>不足：${marks(f.missing_roles)}` : ""))
      .on("click", () => showFacility(f.facility_id))
      .on("add", () => {
        const e = m.getElement();
        e.dataset.facilityId = f.facility_id;
        e.setAttribute("aria-label", label);
        e.onkeydown = (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); showFacility(f.facility_id, false, false, true); } };
      });
    byFacility.set(f.facility_id, m);
    return m;
  });
  layers.facilities.addLayers(markers);
  document.getElementById("map-count").textContent = `表示中の施設：${shown.length}件 / ${store.facilities.length}件`;
  document.getElementById("map").dataset.facilityCount = shown.length;
  if (!fitted && store.facilities.length) {
    map.fitBounds(L.latLngBounds(store.facilities.map((f) => [f.lat, f.lon])).pad(0.05));
    fitted = true;
  }
  if (selected) highlight(selected);
}

function highlight(id) {
  layers.selection.clearLayers();
  const f = facilityById(id);
  if (!f) return;
  L.circleMarker([f.lat, f.lon], { radius: 11, color: "#000", weight: 2.5, fill: false, interactive: false, pane: "facilities" }).addTo(layers.selection);
  for (const pid of f.partners) {
    const i = store.institutions.get(pid);
    if (i) L.polyline([[f.lat, f.lon], [i.lat, i.lon]], { color: "#555", weight: 2, opacity: 0.7, interactive: false, className: "partner-line" }).addTo(layers.selection);
  }
}

// Whom to call at an institution (担当者 and phone, from the intention survey), or null when neither is
// known.  The number is a tel: link.
export function institutionContact(iid) {
  const i = store.institutions.get(iid);
  if (!i || (!i.contact_name && !i.contact_phone)) return null;
  return el("div", { class: "inst-contact", dataset: { institutionId: iid } }, "担当：", i.contact_name || "（氏名未回答）",
    i.contact_phone ? ["　電話 ", el("a", { href: telHref(i.contact_phone) }, i.contact_phone)] : null,
    i.survey_date ? el("span", { class: "hint" }, `（意向調査 ${i.survey_date}）`) : null);
}

// Everything the page knows about an institution, folded under its name wherever it is named (proposal
// cards, agreements, alternatives).
export function institutionDetails(iid) {
  const i = store.institutions.get(iid);
  if (!i) return null;
  const C = COLUMN.institutions;
  const row = (fact, label, value) => [el("dt", {}, label), el("dd", { dataset: { fact } }, value)];
  return el("details", { class: "inst-details", dataset: { institutionId: iid } },
    el("summary", {}, "医療機関の詳細（所在地・受入枠・担当者）"),
    el("dl", { class: "facts" },
      row("kind", C.kind, kindLabel(i.kind) + (i.beds ? `（${C.beds} ${i.beds}）` : "")),
      row("municipality", C.municipality_code, municipalityName(i.municipality_code)),
      row("address", C.address, i.address || "未登録"),
      row("roles", "担える役割（24時間）", marks(institutionRoles(i))),
      row("accepting", C.accepting, acceptingLabel(i.accepting)),
      row("spare", "受入枠の空き", spareLabel(spare(i))),
      row("contact_name", C.contact_name, i.contact_name || "未回答"),
      row("contact_phone", C.contact_phone, i.contact_phone ? el("a", { href: telHref(i.contact_phone) }, i.contact_phone) : "未回答"),
      row("survey_date", C.survey_date, i.survey_date || "未回答"),
      row("location", C.location_source, locationLabel(i))),
    // Institutions are edited by prefecture staff (the API's scope rule); coordinators only read them.
    store.me.role === "municipal" ? null : el("button", { type: "button", class: "act-capacity", onclick: () => recordCapacity(i),
      "aria-label": `受入枠を記録：${i.name}` }, "受入枠を記録"));
}

// A new answer on capacity (e.g. by phone): PUT /institutions/{id} with the record as read and the new
// numbers, so everything else stays as it is.  The API refuses less than accepted proposals hold (409).
async function recordCapacity(i) {
  const C = COLUMN.institutions;
  const v = await confirmDialog({ title: "受入枠の記録", ok: "記録する",
    body: [`${i.name} の${C.capacity_facilities}を記録します。`,
      `現在：${C.capacity_facilities} ${i.capacity_facilities ?? "未回答"}、承諾で確保済み ${i.reserved_facilities}施設、空き ${spareLabel(spare(i))}。`,
      "空欄＝未回答（上限なしとして扱う）、0＝満杯。承諾で確保済みの数より少なくはできません。変更は監査記録に残ります。"],
    fields: [{ name: "capacity_facilities", label: C.capacity_facilities, type: "number", min: 0, value: i.capacity_facilities ?? "" },
      { name: "survey_date", label: C.survey_date, type: "date", max: today(), value: today() }] });
  if (!v) return;
  try {
    const body = { ...(await api(`/institutions/${encodeURIComponent(i.institution_id)}`)) };
    for (const k of ["institution_id", "municipality_code", "reserved_facilities", "reserved_residents"]) delete body[k];
    body.designations = body.designations.split(";").filter(Boolean);
    body.capacity_facilities = v.capacity_facilities === "" ? null : Number(v.capacity_facilities);
    if (v.survey_date) body.survey_date = v.survey_date;
    await api(`/institutions/${encodeURIComponent(i.institution_id)}`, { method: "PUT", body });
    showMessage(`${i.name} の${C.capacity_facilities}を ${v.capacity_facilities === "" ? "未回答" : v.capacity_facilities} にしました。マッチングを再実行すると提案に反映されます。`);
    await reload();
  } catch (e) {
    showMessage(`記録できませんでした：${e.message}`, true);
  }
}

// An agreement made outside the tool (by the facility and the institution themselves): POST
// /partnerships with as_signed, recorded as it is (the institution's roles and capacity are not
// checked, and the audit log says so).  Coordinators may do this for facilities of their area.
async function recordAgreement(f) {
  const insts = [...store.institutions.values()].sort((a, b) => (a.municipality_code !== f.municipality_code) - (b.municipality_code !== f.municipality_code)
    || a.name.localeCompare(b.name, "ja"));
  const v = await confirmDialog({ title: "協定の記録（ツール外で締結済み）", ok: "協定を記録する", danger: true,
    body: [`${f.name} が結んだ協定を記録します。`,
      "締結済みの協定をそのまま記録します（医療機関の担える役割・受入枠は確認せず、受入枠も使いません）。記録は監査記録に残ります。"],
    fields: [{ name: "institution_id", label: "協力医療機関", type: "select", required: true,
      options: insts.map((i) => [i.institution_id, `${i.name}（${municipalityName(i.municipality_code)}・${kindLabel(i.kind)}）`]) },
    ...store.vocab.roles.map((r) => ({ name: r.code, label: r.label_ja, type: "checkbox", value: f.missing_roles.includes(r.code) }))] });
  if (!v) return;
  const roles = store.vocab.roles.map((r) => r.code).filter((r) => v[r]);
  if (!roles.length) { showMessage("役割を1つ以上選んでください。", true); return; }
  try {
    await api("/partnerships", { method: "POST", body: { facility_id: f.facility_id, institution_id: v.institution_id, roles, as_signed: true } });
    showMessage(`${f.name} と ${store.institutions.get(v.institution_id)?.name} の協定（${marks(roles)}）を記録しました。`);
    await reload();
  } catch (e) {
    showMessage(`記録できませんでした：${e.message}`, true);
  }
}

// A pair proposed by hand (POST /proposals): the coordinator picks the institution (any the facility can
// partner with: the alternatives first — a neighbouring prefecture's in reach among them — then every
// institution the page knows, nearest first) and the roles.  Stored as 提案中, it is kept by every later
// run as a fixed pair (not replaced, planned around) until it is acted on; untouched, it can be withdrawn.
async function proposeByHand(f, candidates, preset = {}) {
  const names = new Map(candidates.map((c) => [c.institution_id, `${c.institution_name}（候補・${ROLE_LABEL[c.role].slice(0, 1)}・移動 ${fmt(c.minutes)}分）`]));
  const known = [...store.institutions.values()].filter((i) => !names.has(i.institution_id))
    .sort((a, b) => distanceKm(f, a) - distanceKm(f, b) || a.institution_id.localeCompare(b.institution_id));
  for (const i of known) names.set(i.institution_id, `${i.name}（${municipalityName(i.municipality_code)}・${kindLabel(i.kind)}・直線 ${fmt(distanceKm(f, i))}km）`);
  const missing = store.vocab.roles.filter((r) => f.missing_roles.includes(r.code));
  const v = await confirmDialog({ title: "組合せを手動で提案", ok: "提案として登録する",
    body: [`${f.name} の協力医療機関の候補として、選んだ医療機関との組合せを「提案中」で登録します。`,
      "登録した組合せは固定され、マッチングを再実行しても置き換えられず、そのまま引き継がれます（移動時間の上限・受入意向の条件は適用しません。上限を超える場合は説明に記載されます）。",
      "まだ連絡していないうちは「取り下げ」で取り消せます。登録は監査記録に残ります。"],
    fields: [{ name: "institution_id", label: "医療機関", type: "select", required: true, value: preset.institution_id ?? "",
      options: [...names] },
    ...missing.map((r) => ({ name: r.code, label: r.label_ja, type: "checkbox", value: preset.roles ? preset.roles.includes(r.code) : true })),
    { name: "note", label: "メモ（理由など）", type: "textarea", placeholder: "例：院長と電話で内諾" }] });
  if (!v) return;
  const roles = missing.map((r) => r.code).filter((r) => v[r]);
  if (!roles.length) { showMessage("役割を1つ以上選んでください。", true); return; }
  try {
    const p = await api("/proposals", { method: "POST", body: { facility_id: f.facility_id, institution_id: v.institution_id, roles, note: v.note } });
    showMessage(`${f.name} と ${names.get(v.institution_id)?.split("（")[0] ?? v.institution_id} の組合せ（${marks(roles)}）を提案 ${p.id} として登録しました。再実行しても固定して引き継ぎます。`);
    await reload();
  } catch (e) {
    showMessage(`提案できませんでした：${e.message}`, true);
  }
}

const chips = (roles, cls) => el("div", { class: "roles" },
  roles.length ? roles.map((r) => el("span", { class: `role ${cls}`, dataset: { role: r } }, ROLE_LABEL[r])) : el("span", { class: "hint" }, "なし"));

// ① and ② in four time slots (issue 16): which slots agreements in force give — signed (協定) or accepted
// (承諾: capacity reserved, the agreement to be signed) —, which slots open proposals would only add (提案:
// proposed or contacted), and which nobody gives (未確保), listed in words under the table too.  A table
// with row and column headers; every cell says it in words and a mark (✓ in force, △ proposed only, ✕
// missing), the proposed cells are also hatched — the colour only repeats it.  Slot codes, labels and the
// roles they apply to come from /vocabulary (matching.roles).
const SLOT_COVER = {
  agreed: ["✓ 協定", "締結済みの協定で対応"], accepted: ["✓ 承諾", "承諾済みの提案で対応（受入枠を確保、協定の締結待ち）"],
  proposed: ["△ 提案", "提案中・連絡済みの提案だけ（まだ合意していない）"], missing: ["✕ 未確保", "協定も提案もない"],
};
function slotGrid(f, proposals, instName) {
  const roles = store.vocab.slotted_roles.filter((r) => f.required_roles.includes(r));
  if (!roles.length) return null;
  const open = proposals.filter((p) => OPEN.includes(p.state));
  const by = (role, slot, states) => open.filter((p) => states.includes(p.state) && (p.slots?.[role] ?? []).includes(slot))
    .map((p) => instName(p.institution_id));
  const cover = (role, slot) => {
    if ((f.slots?.[role] ?? []).includes(slot)) return ["agreed", []];
    const accepted = by(role, slot, ["accepted"]);
    if (accepted.length) return ["accepted", accepted];
    const proposed = by(role, slot, ["proposed", "contacted"]);
    return proposed.length ? ["proposed", proposed] : ["missing", []];
  };
  const cell = (role, slot) => {
    const [kind, names] = cover(role, slot);
    return el("td", { class: `slot ${kind}`, dataset: { slot, cover: kind }, title: SLOT_COVER[kind][1] },
      SLOT_COVER[kind][0] + (names.length ? `（${names.join("、")}）` : ""));
  };
  const gaps = roles.map((role) => [role, store.vocab.slots.filter((s) => cover(role, s.code)[0] === "missing")])
    .filter(([, slots]) => slots.length);
  return el("div", { id: "detail-slot-cover" }, el("div", { class: "table-wrap" }, el("table", { class: "data slot-grid", id: "detail-slots" },
    el("caption", {}, "時間帯ごとの確保状況（①②は4つの時間帯すべてで常時）"),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "役割"),
      ...store.vocab.slots.map((s) => el("th", { scope: "col", dataset: { slot: s.code } }, s.label_ja)))),
    el("tbody", {}, roles.map((role) => el("tr", { dataset: { role } }, el("th", { scope: "row" }, ROLE_LABEL[role]),
      ...store.vocab.slots.map((s) => cell(role, s.code))))))),
    el("p", { id: "detail-slot-gaps", class: gaps.length ? "slot-gaps" : "hint" }, gaps.length
      ? `未確保の時間帯：${gaps.map(([role, slots]) => `${ROLE_LABEL[role].slice(0, 1)} ${slots.map((s) => s.label_ja).join("・")}`).join("、")}`
      : "未確保の時間帯はありません（提案中のものを含む）。"),
    el("p", { class: "hint" }, "✓ 協定＝締結済みの協定で対応、✓ 承諾＝承諾済みの提案で対応（協定の締結待ち）、"
      + "△ 提案＝提案中・連絡済みの提案だけ（まだ合意していない）、✕ 未確保＝協定も提案もない時間帯。"));
}

// A facility's alternatives: per missing role the nearest institutions that could take it (a run's candidates).
const alternativesOf = (f) => api(`/facilities/${encodeURIComponent(f.facility_id)}/candidates?per_role=5`);

async function latestRunUnmatched() {
  const run = store.runs.find((r) => r.state === "done");
  if (!run) return [];
  if (!unmatchedCache.has(run.id)) unmatchedCache.set(run.id, await api(`/runs/${run.id}/unmatched`));
  return unmatchedCache.get(run.id);
}

export const selectedFacility = () => selected;

// On a narrow screen (a phone, 200% zoom) the facility panel is a drawer over the bottom of the map.
// Whether it is one is the style sheet's decision (its media query makes it position: fixed), so the
// breakpoint is written once.  Opening moves focus into it; its close button or Esc closes it and
// puts focus back on the facility's marker (else where the user was, else the map).
const drawer = document.getElementById("facility-drawer");
let drawerOpener = null;
export const drawerMode = () => getComputedStyle(drawer).position === "fixed";

function openDrawer(opener) {
  if (!drawerMode()) return false;
  if (!drawer.classList.contains("open")) drawerOpener = opener;
  drawer.classList.add("open");
  return true;
}

export function closeDrawer() {
  if (!drawer.classList.contains("open")) return;
  drawer.classList.remove("open");
  // The facility's own marker first (a click with the mouse does not focus it), else where focus was.
  const back = [selected && byFacility.get(selected)?.getElement(), drawerOpener, document.getElementById("map")]
    .find((e) => e?.isConnected && e.offsetParent !== null);
  drawerOpener = null;
  back?.focus();
}

document.getElementById("drawer-close").addEventListener("click", closeDrawer);
drawer.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && drawerMode()) { ev.preventDefault(); closeDrawer(); } });

// The drawer covers the bottom of the map: move the chosen facility to the middle of what stays visible.
function keepAboveDrawer(f) {
  const r = map.getContainer().getBoundingClientRect();
  const top = Math.max(r.top, 0), bottom = Math.min(r.bottom, drawer.getBoundingClientRect().top);
  if (bottom - top < 40) return;
  const want = L.point(r.width / 2, (top + bottom) / 2 - r.top);
  map.panBy(map.latLngToContainerPoint([f.lat, f.lon]).subtract(want), { animate: false });
}

/** Show facility ``id`` in the panel.  ``refresh``: the data changed under an open panel — redraw it
 * without opening the drawer again or moving focus. */
export async function showFacility(id, pan = true, zoom = false, focus = false, refresh = false) {
  const f = facilityById(id);
  const panel = document.getElementById("facility-detail");
  const opener = drawer.contains(document.activeElement) ? null : document.activeElement;
  if (!f) {
    panel.replaceChildren(el("p", { class: "hint" }, `施設 ${id} は表示できません（担当区域外か、登録されていません）。`));
    if (!refresh && openDrawer(opener)) panel.focus();
    return;
  }
  selected = id;
  panel.dataset.facilityId = id;
  if (map) {
    highlight(id);
    // No animation in the drawer's layout: keepAboveDrawer moves the view again right after.
    if (zoom) map.setView([f.lat, f.lon], Math.max(map.getZoom(), UNCLUSTERED_ZOOM), { animate: !drawerMode() });
    else if (pan) map.panTo([f.lat, f.lon], { animate: !drawerMode() });
  }
  const t = TYPE[f.facility_type];
  const instName = (iid) => store.institutions.get(iid)?.name ?? iid;
  const proposals = store.proposals.filter((p) => p.facility_id === id && p.state !== "superseded");
  const partners = el("ul", { id: "detail-partners" }, el("li", { class: "hint" }, "読み込み中…"));
  const reasons = el("div", { id: "detail-unmatched" });
  const alternatives = el("div", { id: "detail-alternatives" });
  const grid = slotGrid(f, proposals, instName);
  const canConfirm = store.me.role !== "municipal";
  const unconfirmed = f.confirmed === false ? el("div", { id: "detail-unconfirmed", class: "notice", role: "note" },
    el("b", {}, "都道府県の確認待ち"), `：${f.unconfirmed_reason || "理由の記載なし"}。確認されるまでマッチングの対象外で、提案の承諾もできません。`,
    canConfirm ? el("button", { type: "button", id: "confirm-facility", onclick: () => confirmFacility(f) }, "この施設を確認する") : null) : null;
  panel.replaceChildren(
    el("h3", { id: "detail-name", tabindex: "-1" }, f.name),
    statusBadge(f.status, f.status_ja),
    ...(unconfirmed ? [unconfirmed] : []),  // replaceChildren would write a null as "null"
    el("dl", { class: "facts" },
      el("dt", {}, "施設ID"), el("dd", {}, f.facility_id),
      el("dt", {}, "施設種別"), el("dd", {}, `${t.name_ja}（${t.strength_ja}）`),
      el("dt", {}, "市区町村"), el("dd", {}, municipalityName(f.municipality_code)),
      el("dt", {}, "所在地"), el("dd", { id: "detail-address" }, f.address || "未登録"),
      el("dt", {}, "入所者数"), el("dd", {}, f.residents ?? "不明"),
      el("dt", {}, "年次報告"), el("dd", {}, f.reported ? "あり" : "なし（集計していない）")),
    el("h4", {}, "必要な役割"), chips(f.required_roles, "required"),
    el("h4", {}, "確保済みの役割"), chips(f.covered_roles, "covered"),
    el("h4", {}, "不足している役割"), el("div", { id: "detail-missing" }, chips(f.missing_roles, "missing")),
    ...(grid ? [el("h4", {}, "時間帯（①②）"), grid] : []),  // replaceChildren would write a null as "null"
    el("h4", {}, "協力医療機関（協定）"), partners,
    el("div", { class: "panel-actions" },
      el("button", { type: "button", id: "record-agreement", onclick: () => recordAgreement(f) }, "ツール外で結んだ協定を記録"),
      f.missing_roles.length ? el("button", { type: "button", id: "propose-pair", onclick: async () => proposeByHand(f, await alternativesOf(f)) },
        "組合せを手動で提案") : ""),
    el("h4", {}, "提案"),
    el("div", { id: "detail-proposals" }, proposals.length ? proposals.map((p) => el("div", { class: "proposal-card", dataset: { proposalId: p.id, state: p.state } },
      el("div", {}, el("b", {}, instName(p.institution_id)), ` ${marks(p.roles)}　移動 ${fmt(p.travel_minutes)}分（${fmt(p.distance_km)}km）`),
      institutionContact(p.institution_id), institutionDetails(p.institution_id),
      p.origin === "manual" ? el("div", { class: "origin-manual" }, el("b", {}, "手動で提案（固定）"), "：再実行しても置き換えずに引き継ぎます") : "",
      el("div", {}, `状態：${PROPOSAL_STATES[p.state]}`, p.decline_reason ? `（理由：${p.decline_reason}）` : "",
        `　更新 ${new Date(p.updated_at).toLocaleDateString("ja-JP")}`),
      p.location_uncertain ? locationNote("距離の条件を満たすかは位置の確認が必要です。") : "",
      el("div", { class: "explanation" }, p.explanation),
      el("div", { class: "contact-log" }, el("span", { class: "hint" }, "連絡記録："), el("ul", { class: "contacts", dataset: { proposalId: p.id } })),
      proposalActions(p))) : el("p", { class: "hint" }, "この施設への提案はありません。")),
    reasons, alternatives,
  );
  panel.dispatchEvent(new Event("facilityshown"));
  const drawn = !refresh && openDrawer(opener);
  if (drawn && map) keepAboveDrawer(f);
  if (focus || drawn) document.getElementById("detail-name").focus({ preventScroll: drawn });
  try {
    for (const p of proposals) {
      const box = panel.querySelector(`.contacts[data-proposal-id="${p.id}"]`);
      contactLog(p).then((list) => { box.replaceWith(list); if (!list.children.length) list.append(el("li", { class: "hint" }, "なし")); });
    }
    const rows = await api(`/partnerships?facility_id=${encodeURIComponent(id)}`);
    partners.replaceChildren(...(rows.length ? rows.map((p) => el("li", {}, `${instName(p.institution_id)}　${marks(p.roles)}`, institutionContact(p.institution_id), institutionDetails(p.institution_id)))
      : [el("li", { class: "hint" }, "協定なし")]));
    const un = (await latestRunUnmatched()).filter((u) => u.facility_id === id);
    if (un.length) reasons.replaceChildren(el("h4", {}, "直近の実行で確保できなかった役割"),
      el("ul", {}, un.map((u) => el("li", {}, `${ROLE_LABEL[u.role]}：${u.reason}`,
        u.location_uncertain ? locationNote("実際の位置によっては上限内に候補がある可能性があります。") : "",
        u.fix ? el("div", { class: "hint" }, u.fix) : ""))));
    if (f.missing_roles.length) {
      const cands = await alternativesOf(f);
      const spareText = (c) => spareLabel(c.spare_facilities);
      alternatives.replaceChildren(el("h4", {}, "代替候補（不足している役割ごと、近い順）"),
        cands.length ? el("div", { class: "table-wrap" }, el("table", { class: "data" },
          el("caption", { class: "visually-hidden" }, "代替候補"),
          el("thead", {}, el("tr", {}, ["役割", "医療機関", "時間帯", "移動", "空き枠", "操作"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, cands.map((c) => el("tr", { class: c.spare_facilities != null && c.spare_facilities <= 0 ? "full" : null },
            el("td", {}, ROLE_LABEL[c.role].slice(0, 1)),
            el("td", {}, c.institution_name, c.existing ? "（既存の協定先）" : "", c.not_yet_asked ? "（意向未確認）" : "", institutionDetails(c.institution_id)),
            el("td", {}, slotsLabel(c.slots)),
            el("td", { class: "num" }, `${fmt(c.minutes)}分`), el("td", { class: "num" }, spareText(c)),
            el("td", {}, el("button", { type: "button", class: "act-propose", dataset: { institutionId: c.institution_id, role: c.role },
              "aria-label": `提案する：${c.institution_name}（${ROLE_LABEL[c.role].slice(0, 1)}を手動で提案）`,
              onclick: () => proposeByHand(f, cands, { institution_id: c.institution_id, roles: [c.role] }) }, "提案する")))))))
          : el("p", { class: "hint" }, "移動時間の上限内に候補がありません。"),
        el("p", { class: "hint" }, "空き枠：0（満杯）＝受入枠を使い切っている、未回答＝調査で受入枠の回答がない（上限なしとして扱う）。"));
    }
  } catch (e) {
    partners.replaceChildren(el("li", { class: "error" }, `読み込めませんでした：${e.message}`));
  }
}

async function confirmFacility(f) {
  const v = await confirmDialog({ title: "施設の確認", ok: "確認済みにする",
    body: [`${f.name}（${f.facility_id}）を確認済みにします。`, `確認待ちの理由：${f.unconfirmed_reason || "記載なし"}`,
      "確認するとマッチングの対象になり、提案を承諾できるようになります。"] });
  if (!v) return;
  try {
    await api(`/facilities/${encodeURIComponent(f.facility_id)}/confirm`, { method: "POST" });
    showMessage(`${f.name} を確認済みにしました。`);
    await reload();
  } catch (e) {
    showMessage(`確認できませんでした：${e.message}`, true);
  }
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
