// The status dashboard: the /status table by municipality × facility type, a stacked-bar chart (inline SVG)
// and a CSV download of the table with the official labels.
import { api, download } from "./api.js";
import { STATUS_COLOURS } from "./map.js";
import { STATUS, TYPE, store } from "./store.js";
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
  try {
    rows = await api("/status?by=municipality&by_type=true");
  } catch (e) {
    showMessage(`集計を読み込めませんでした：${e.message}`, true);
    return;
  }
  table.set(rows);
  const byType = group(rows, (r) => r.facility_type, codes);
  const byMuni = group(rows, (r) => r.municipality_name, codes);
  const chart = document.getElementById("chart");
  chart.replaceChildren(
    bars("施設種別ごとの状況", store.vocab.facility_types.filter((t) => byType.has(t.code)).map((t) => [t.name_ja, byType.get(t.code)]), codes, "chart-types"),
    ...(byMuni.size > 1 ? [bars("市区町村ごとの状況", [...byMuni], codes, "chart-municipalities")] : []),
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
    svg.append(node("rect", { x: lx, y: 26, width: 10, height: 10, fill: STATUS_COLOURS[c] }));
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
        const r = node("rect", { x, y: y + 2, width: w, height: rowH - 6, fill: STATUS_COLOURS[c], class: `bar status-${c}` });
        r.append(node("title", {}, `${label}：${STATUS[c].label_ja} ${g[c]}件`));
        svg.append(r);
        if (w > 18) svg.append(node("text", { x: x + w / 2, y: y + 14, "font-size": 10, "text-anchor": "middle", fill: c === "some_met" ? "#222" : "#fff" }, g[c]));
      }
      x += w;
    }
    const tracked = g.total - g.not_tracked;
    svg.append(node("text", { x: labelW + barW + 8, y: y + 14, "font-size": 12 }, tracked ? `${((100 * g.all_met) / tracked).toFixed(1)}%（${g.total}施設）` : `－（${g.total}施設）`));
  });
  return el("div", {}, svg);
}
