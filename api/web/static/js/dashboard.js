// The status dashboard: the /status table by municipality × facility type, a stacked-bar chart (inline SVG)
// and a CSV download of the table with the official labels.
import { api, download } from "./api.js";
import { STATUS_COLOURS } from "./map.js";
import { STATUS, TYPE, municipalityName, store } from "./store.js";
import { dataTable, downloadCsv, el, showMessage } from "./util.js";

const SVG = "http://www.w3.org/2000/svg";
let table, rows = [];

export async function loadDashboard() {
  const codes = store.vocab.statuses.map((s) => s.code);
  if (!table) {
    table = dataTable(document.getElementById("status-table"), {
      id: "table-status", columns: [
        { key: "municipality_name", label: "市区町村" },
        { key: "facility_type", label: "施設種別", value: (r) => TYPE[r.facility_type].name_ja },
        ...codes.map((c) => ({ key: c, label: STATUS[c].short_ja, title: STATUS[c].label_ja, num: true })),
        { key: "total", label: "合計", num: true },
        { key: "all_met_share", label: "全要件充足率%", num: true },
      ],
    });
    document.getElementById("download-status").onclick = () => downloadCsv("協力医療機関の確保状況.csv",
      ["市区町村コード", "市区町村名", "施設種別", ...codes.map((c) => STATUS[c].label_ja), "合計", "全要件充足率（集計対象に占める%）"],
      rows.map((r) => [r.municipality_code, r.municipality_name, TYPE[r.facility_type].name_ja, ...codes.map((c) => r[c]), r.total, r.all_met_share]));
    const wb = document.getElementById("download-workbook");
    wb.onclick = async () => {
      const msg = document.getElementById("workbook-message");
      wb.disabled = true;
      msg.textContent = "会議資料を作成しています（提案を計算中）…";
      try {
        await download("/reports/workbook", "協力医療機関_会議資料.xlsx");
        msg.textContent = "";
      } catch (e) {
        msg.textContent = "";
        showMessage(`会議資料を作成できませんでした：${e.message}`, true);
      } finally {
        wb.disabled = false;
      }
    };
  }
  showDeadline();
  const after = document.querySelector("input[name=status-when][value=after]").checked;
  for (const r of document.querySelectorAll("input[name=status-when]")) r.onchange = loadDashboard;
  document.getElementById("view-dashboard").dataset.when = after ? "after" : "now";
  try {
    rows = after ? afterProposals(codes) : await api("/status?by=municipality&by_type=true");
  } catch (e) {
    showMessage(`集計を読み込めませんでした：${e.message}`, true);
    return;
  }
  showTotals(rows, codes, after);
  table.set(rows);
  const byType = group(rows, (r) => r.facility_type, codes);
  const byMuni = group(rows, (r) => r.municipality_name, codes);
  const chart = document.getElementById("chart");
  chart.replaceChildren(
    bars("施設種別ごとの状況", store.vocab.facility_types.filter((t) => byType.has(t.code)).map((t) => [t.name_ja, byType.get(t.code)]), codes, "chart-types"),
    ...(byMuni.size > 1 ? [bars("市区町村ごとの状況", [...byMuni], codes, "chart-municipalities")] : []),
  );
}

// The end of the transitional period (経過措置): 2027-03-31 (令和9年3月31日).
export const DEADLINE = "2027-03-31";
export function daysLeft(today = new Date()) {
  const end = new Date(`${DEADLINE}T23:59:59+09:00`);
  return Math.ceil((end - today) / 86400000);
}

function showDeadline() {
  const d = daysLeft();
  const box = document.getElementById("deadline");
  box.dataset.daysLeft = d;
  box.replaceChildren(el("b", {}, "経過措置の期限：2027年3月31日（令和9年3月31日）"),
    d > 0 ? `　あと ${d} 日` : "　期限を過ぎています",
    el("div", { class: "hint" }, "介護老人福祉施設・介護老人保健施設・介護医療院・養護老人ホームは、この日までに①②③を満たす協力医療機関を定める義務があります（その他の施設は努力義務）。"));
}

// 提案後: each facility's status if every open proposal (提案中・連絡済み・承諾) were agreed.
function afterProposals(codes) {
  const extra = new Map();
  for (const p of store.proposals) {
    if (!["proposed", "contacted", "accepted"].includes(p.state)) continue;
    const set = extra.get(p.facility_id) || extra.set(p.facility_id, new Set()).get(p.facility_id);
    for (const r of p.roles.split(";")) if (r) set.add(r);
  }
  const out = new Map();
  for (const f of store.facilities) {
    let status = f.status;
    if (f.status !== "not_tracked" && extra.has(f.facility_id)) {
      const have = new Set([...f.covered_roles, ...extra.get(f.facility_id)]);
      const met = f.required_roles.filter((r) => have.has(r)).length;
      status = met === f.required_roles.length ? "all_met" : met ? "some_met" : f.status;
    }
    const key = `${f.municipality_code}|${f.facility_type}`;
    const row = out.get(key) || out.set(key, { municipality_code: f.municipality_code, municipality_name: municipalityName(f.municipality_code),
      facility_type: f.facility_type, ...Object.fromEntries(codes.map((c) => [c, 0])), total: 0 }).get(key);
    row[status] += 1; row.total += 1;
  }
  return [...out.values()].sort((a, b) => a.municipality_code.localeCompare(b.municipality_code) || a.facility_type.localeCompare(b.facility_type))
    .map((r) => ({ ...r, all_met_share: r.total - r.not_tracked ? Math.round((1000 * r.all_met) / (r.total - r.not_tracked)) / 10 : null }));
}

function showTotals(list, codes, after) {
  const sum = (c) => list.reduce((a, r) => a + r[c], 0);
  const total = sum("total"), tracked = total - sum("not_tracked");
  const open = store.proposals.filter((p) => ["proposed", "contacted", "accepted"].includes(p.state)).length;
  const contracted = store.proposals.filter((p) => p.state === "contracted").length;
  const card = (label, value, key) => el("div", { class: "total", dataset: { key } }, el("span", { class: "hint" }, label), el("b", {}, value));
  document.getElementById("totals").replaceChildren(
    card("施設数", `${total}`, "total"),
    card(after ? "全要件充足（提案後）" : "全要件充足（現状）", `${sum("all_met")}施設（${tracked ? ((100 * sum("all_met")) / tracked).toFixed(1) : "－"}%）`, "all_met"),
    card("年次報告なし（集計していない）", `${sum("not_tracked")}施設`, "not_tracked"),
    card("対応中の提案", `${open}件`, "open"),
    card("契約済みの提案", `${contracted}件`, "contracted"),
  );
}

export function resetDashboard() { table = null; rows = []; }

function group(list, key, codes) {
  const out = new Map();
  for (const r of list) {
    const g = out.get(key(r)) || out.set(key(r), Object.fromEntries([...codes, "total"].map((c) => [c, 0]))).get(key(r));
    for (const c of [...codes, "total"]) g[c] += r[c];
  }
  return out;
}

function node(tag, attrs, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text != null) n.textContent = text;
  return n;
}

// One 100%-stacked bar per group, the share of tracked facilities with all requirements met at the end.
function bars(title, groups, codes, id) {
  const labelW = 290, barW = 460, rowH = 22, top = 46, width = labelW + barW + 120;
  const svg = node("svg", { id, width, height: top + groups.length * rowH + 10, viewBox: `0 0 ${width} ${top + groups.length * rowH + 10}`, role: "img", "aria-label": title });
  svg.append(node("text", { x: 8, y: 18, "font-size": 14, "font-weight": "bold" }, title));
  let lx = 8;
  for (const c of codes) {
    svg.append(node("rect", { x: lx, y: 26, width: 10, height: 10, fill: STATUS_COLOURS[c], stroke: "#000", "stroke-width": 0.6 }));
    svg.append(node("text", { x: lx + 13, y: 35, "font-size": 11 }, STATUS[c].short_ja));
    lx += 26 + STATUS[c].short_ja.length * 11;
  }
  svg.append(node("text", { x: labelW + barW + 8, y: 35, "font-size": 11 }, "全要件充足率"));
  groups.forEach(([label, g], k) => {
    const y = top + k * rowH;
    svg.append(node("text", { x: labelW - 6, y: y + 14, "font-size": 12, "text-anchor": "end" }, label));
    let x = labelW;
    for (const c of codes) {
      const w = g.total ? (barW * g[c]) / g.total : 0;
      if (w > 0) {
        const r = node("rect", { x, y: y + 2, width: w, height: rowH - 6, fill: STATUS_COLOURS[c], stroke: "#000", "stroke-width": 0.6, class: `bar status-${c}` });
        r.append(node("title", {}, `${label}：${STATUS[c].label_ja} ${g[c]}件`));
        svg.append(r);
        if (w > 18) svg.append(node("text", { x: x + w / 2, y: y + 14, "font-size": 11, "text-anchor": "middle", fill: c === "all_met" ? "#fff" : "#000" }, g[c]));
      }
      x += w;
    }
    const tracked = g.total - g.not_tracked;
    svg.append(node("text", { x: labelW + barW + 8, y: y + 14, "font-size": 12 }, tracked ? `${((100 * g.all_met) / tracked).toFixed(1)}%（${g.total}施設）` : `－（${g.total}施設）`));
  });
  // Focusable: on a narrow screen the chart scrolls sideways at its own size (text stays readable).
  return el("div", { class: "chart-scroll", tabindex: "0", role: "region", "aria-label": `${title}（横にスクロールできます）` }, svg);
}
