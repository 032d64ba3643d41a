// The map of the user's area: facilities coloured by status, institutions sized by spare capacity and
// marked by the roles they offer, proposal lines.  Works without tiles (offline): plain background.
import { api } from "./api.js";
import { proposalActions } from "./proposals.js";
import {
  KIND, PROPOSAL_STATES, ROLE_LABEL, STATUS, TYPE, acceptingLabel, facilityById, institutionRoles, kindLabel, marks,
  municipalityName, onChange, spare, store,
} from "./store.js";
import { el, fmt } from "./util.js";

export const STATUS_COLOURS = {
  all_met: "#1a9850", some_met: "#fdae61", none_met: "#f46d43", not_designated: "#b2182b", not_tracked: "#9e9e9e",
};
const OPEN = ["proposed", "contacted", "accepted"];
let map, layers, selected = null, fitted = false;
const unmatchedCache = new Map();

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";

export function initMap() {
  if (map) return;
  map = L.map("map", { preferCanvas: false, zoomSnap: 0.25 });
  const url = meta("tile-url");
  if (url) L.tileLayer(url, { attribution: meta("tile-attribution"), maxZoom: 18 }).addTo(map);
  map.attributionControl.setPrefix(false);
  // Facilities above institution icons (the marker pane) and lines: they are what the coordinator clicks.
  map.createPane("facilities").style.zIndex = 640;
  layers = {
    areas: L.layerGroup().addTo(map), institutions: L.layerGroup().addTo(map), lines: L.layerGroup().addTo(map),
    selection: L.layerGroup().addTo(map), facilities: L.layerGroup().addTo(map),
  };
  map.setView([39.7, 141.15], 9);
  const typeSel = document.getElementById("filter-type");
  for (const t of store.vocab.facility_types) typeSel.append(el("option", { value: t.code }, t.name_ja));
  const statusSel = document.getElementById("filter-status");
  for (const s of store.vocab.statuses) statusSel.append(el("option", { value: s.code }, s.label_ja));
  for (const id of ["filter-type", "filter-status", "filter-municipality", "show-institutions", "show-proposals"]) {
    document.getElementById(id).addEventListener("change", draw);
  }
  document.getElementById("legend").replaceChildren(
    ...store.vocab.statuses.map((s) => el("div", {}, el("span", { class: "swatch", style: `background:${STATUS_COLOURS[s.code]}` }), s.label_ja)),
    el("div", {}, el("span", { class: "inst-icon", style: "width:14px;height:14px" }),
      `${KIND.hospital}（大きさ＝受入枠の空き、${store.vocab.roles.map((r) => r.mark).join("")}＝担える役割）`),
    el("div", {}, el("span", { class: "inst-icon clinic", style: "width:14px;height:14px" }), `${KIND.clinic}（点線＝受入枠未設定）`),
    el("div", {}, el("span", { style: "border-top:2px dashed #1f5fa8;width:18px" }), "提案（提案中・連絡済み）"),
    el("div", {}, el("span", { style: "border-top:3px solid #1a9850;width:18px" }), "承諾済みの提案"),
  );
  onChange(() => { draw(); if (selected) showFacility(selected, false); });
  fillMunicipalities();
  draw();
}

export function resetMap() {
  if (map) { map.remove(); map = null; }
  selected = null; fitted = false; unmatchedCache.clear();
  document.getElementById("filter-type").replaceChildren(el("option", { value: "" }, "すべて"));
  document.getElementById("filter-status").replaceChildren(el("option", { value: "" }, "すべて"));
  document.getElementById("filter-municipality").replaceChildren(el("option", { value: "" }, "担当区域すべて"));
}

export function invalidate() { map?.invalidateSize(); }

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
    + `受入意向：${acceptingLabel(i.accepting)}<br>受入枠の空き：${sp == null ? "未設定" : `${sp}施設`}`;
}

function draw() {
  if (!map) return;
  const shown = filtered();
  for (const l of Object.values(layers)) l.clearLayers();
  // Municipality names at the centre of their points: orientation without tiles.
  const pts = new Map();
  for (const p of [...store.facilities, ...store.institutions.values()]) {
    const a = pts.get(p.municipality_code) || pts.set(p.municipality_code, [0, 0, 0]).get(p.municipality_code);
    a[0] += p.lat; a[1] += p.lon; a[2] += 1;
  }
  for (const [code, [la, lo, n]] of pts) {
    L.marker([la / n, lo / n], { interactive: false, keyboard: false,
      icon: L.divIcon({ className: "area-label", html: escapeHtml(municipalityName(code)), iconSize: [80, 14], iconAnchor: [40, -8] }) }).addTo(layers.areas);
  }
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
        color: p.state === "accepted" ? "#1a9850" : "#1f5fa8", weight: p.state === "accepted" ? 3 : 2,
        dashArray: p.state === "accepted" ? null : "5 4", opacity: 0.8 })
        .bindTooltip(`${escapeHtml(f.name)} ← ${escapeHtml(i.name)}<br>${marks(p.roles)}・${fmt(p.travel_minutes)}分・${PROPOSAL_STATES[p.state]}`)
        .addTo(layers.lines);
    }
  }
  for (const f of shown) {
    const m = L.circleMarker([f.lat, f.lon], { radius: 6, color: "#333", weight: 1, fillColor: STATUS_COLOURS[f.status],
      fillOpacity: 0.95, className: `facility-marker status-${f.status}`, pane: "facilities" })
      .bindTooltip(`${escapeHtml(f.name)}<br>${TYPE[f.facility_type].short_ja}・${STATUS[f.status].short_ja}`
        + (f.missing_roles.length ? `<br>不足：${marks(f.missing_roles)}` : ""))
      .on("click", () => showFacility(f.facility_id))
      .addTo(layers.facilities);
    const e = m.getElement();
    e.dataset.facilityId = f.facility_id;
    e.dataset.status = f.status;
  }
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

const chips = (roles, cls) => el("div", { class: "roles" },
  roles.length ? roles.map((r) => el("span", { class: `role ${cls}`, dataset: { role: r } }, ROLE_LABEL[r])) : el("span", { class: "hint" }, "なし"));

async function latestRunUnmatched() {
  const run = store.runs.find((r) => r.state === "done");
  if (!run) return [];
  if (!unmatchedCache.has(run.id)) unmatchedCache.set(run.id, await api(`/runs/${run.id}/unmatched`));
  return unmatchedCache.get(run.id);
}

export async function showFacility(id, pan = true, zoom = false) {
  const f = facilityById(id);
  const panel = document.getElementById("facility-detail");
  if (!f) { panel.replaceChildren(el("p", { class: "hint" }, "この施設は表示できません。")); return; }
  selected = id;
  if (map) {
    highlight(id);
    if (zoom) map.setView([f.lat, f.lon], Math.max(map.getZoom(), 11));
    else if (pan) map.panTo([f.lat, f.lon]);
  }
  const t = TYPE[f.facility_type];
  const instName = (iid) => store.institutions.get(iid)?.name ?? iid;
  const proposals = store.proposals.filter((p) => p.facility_id === id && p.state !== "superseded");
  const partners = el("ul", { id: "detail-partners" }, el("li", { class: "hint" }, "読み込み中…"));
  const reasons = el("div", { id: "detail-unmatched" });
  const alternatives = el("div", { id: "detail-alternatives" });
  panel.replaceChildren(
    el("h3", { id: "detail-name" }, f.name),
    el("span", { class: `badge status-${f.status}`, style: `background:${STATUS_COLOURS[f.status]}` }, f.status_ja),
    el("dl", { class: "facts" },
      el("dt", {}, "施設ID"), el("dd", {}, f.facility_id),
      el("dt", {}, "施設種別"), el("dd", {}, `${t.name_ja}（${t.strength_ja}）`),
      el("dt", {}, "市区町村"), el("dd", {}, municipalityName(f.municipality_code)),
      el("dt", {}, "入所者数"), el("dd", {}, f.residents ?? "不明"),
      el("dt", {}, "年次報告"), el("dd", {}, f.reported ? "あり" : "なし（集計していない）")),
    el("h4", {}, "必要な役割"), chips(f.required_roles, "required"),
    el("h4", {}, "確保済みの役割"), chips(f.covered_roles, "covered"),
    el("h4", {}, "不足している役割"), el("div", { id: "detail-missing" }, chips(f.missing_roles, "missing")),
    el("h4", {}, "協力医療機関（協定）"), partners,
    el("h4", {}, "提案"),
    el("div", { id: "detail-proposals" }, proposals.length ? proposals.map((p) => el("div", { class: "proposal-card", dataset: { proposalId: p.id, state: p.state } },
      el("div", {}, el("b", {}, instName(p.institution_id)), ` ${marks(p.roles)}　移動 ${fmt(p.travel_minutes)}分（${fmt(p.distance_km)}km）`),
      el("div", {}, `状態：${PROPOSAL_STATES[p.state]}`, p.decline_reason ? `（理由：${p.decline_reason}）` : ""),
      el("div", { class: "explanation" }, p.explanation),
      proposalActions(p))) : el("p", { class: "hint" }, "この施設への提案はありません。")),
    reasons, alternatives,
  );
  try {
    const rows = await api(`/partnerships?facility_id=${encodeURIComponent(id)}`);
    partners.replaceChildren(...(rows.length ? rows.map((p) => el("li", {}, `${instName(p.institution_id)}　${marks(p.roles)}`))
      : [el("li", { class: "hint" }, "協定なし")]));
    const un = (await latestRunUnmatched()).filter((u) => u.facility_id === id);
    if (un.length) reasons.replaceChildren(el("h4", {}, "直近の実行で確保できなかった役割"),
      el("ul", {}, un.map((u) => el("li", {}, `${ROLE_LABEL[u.role]}：${u.reason}`, u.fix ? el("div", { class: "hint" }, u.fix) : null))));
    if (f.missing_roles.length) {
      const cands = await api(`/facilities/${encodeURIComponent(id)}/candidates?per_role=5`);
      alternatives.replaceChildren(el("h4", {}, "代替候補（不足している役割ごと、近い順）"),
        cands.length ? el("table", { class: "data" }, el("tr", {}, ["役割", "医療機関", "移動", "空き枠"].map((h) => el("th", {}, h))),
          cands.map((c) => el("tr", {}, el("td", {}, ROLE_LABEL[c.role].slice(0, 1)),
            el("td", {}, c.institution_name, c.existing ? "（既存の協定先）" : "", c.not_yet_asked ? "（意向未確認）" : ""),
            el("td", { class: "num" }, `${fmt(c.minutes)}分`), el("td", { class: "num" }, c.spare_facilities ?? "未設定"))))
          : el("p", { class: "hint" }, "移動時間の上限内に候補がありません。"));
    }
  } catch (e) {
    partners.replaceChildren(el("li", { class: "error" }, `読み込めませんでした：${e.message}`));
  }
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
