// Small DOM helpers, a sortable/searchable table and CSV downloads.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function showMessage(text, isError = false) {
  const m = document.getElementById("message");
  m.textContent = text;
  m.classList.toggle("error", isError);
}

export const fmt = (v, digits = 1) => (v == null || Number.isNaN(v) ? "" : Number(v).toFixed(digits));

// CSV with a BOM so that Excel opens the Japanese text correctly.
export function downloadCsv(filename, header, rows) {
  const cell = (v) => {
    const s = v == null ? "" : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const text = [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
  const url = URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/csv;charset=utf-8" }));
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * A table with click-to-sort headers, a search box and a CSV download.
 * columns: [{key, label, title, value(row) → sortable/exported value, render(row) → Node|string, num}]
 */
export function dataTable(container, { columns, id, csvName, onRowClick, emptyText = "該当なし" }) {
  let rows = [];
  let sortKey = null, sortDir = 1, query = "";
  const search = el("input", { type: "search", placeholder: "検索（名称・ID・市区町村など）", "aria-label": "検索" });
  const count = el("span", { class: "hint" });
  const csv = csvName ? el("button", { type: "button", class: "csv" }, "CSVダウンロード") : null;
  const table = el("table", { class: "data", id });
  const wrap = el("div", { class: "table-wrap" }, table);
  container.replaceChildren(el("div", { class: "table-tools" }, search, csv, count), wrap);
  const value = (c, r) => (c.value ? c.value(r) : r[c.key]);
  const visible = () => {
    const q = query.trim().toLowerCase();
    let out = q ? rows.filter((r) => columns.some((c) => String(value(c, r) ?? "").toLowerCase().includes(q))) : rows.slice();
    if (sortKey) {
      const c = columns.find((x) => x.key === sortKey);
      out.sort((a, b) => {
        const x = value(c, a), y = value(c, b);
        if (x == null && y == null) return 0;
        if (x == null) return 1;
        if (y == null) return -1;
        return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "ja")) * sortDir;
      });
    }
    return out;
  };
  function draw() {
    const shown = visible();
    const head = el("tr", {}, columns.map((c) => el("th", {
      title: c.title,
      class: c.key === sortKey ? (sortDir > 0 ? "sorted-asc" : "sorted-desc") : null, dataset: { key: c.key },
      onclick: () => { sortDir = sortKey === c.key ? -sortDir : 1; sortKey = c.key; draw(); },
    }, c.label)));
    const body = shown.map((r) => el("tr", { class: onRowClick ? "clickable" : null, dataset: r._data || {},
      onclick: onRowClick ? (ev) => { if (!ev.target.closest("button, input, a")) onRowClick(r); } : null },
      columns.map((c) => el("td", { class: [c.num ? "num" : "", c.nowrap ? "nowrap" : ""].join(" ").trim() || null }, c.render ? c.render(r) : (value(c, r) ?? "")))));
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, body.length ? body : el("tr", {}, el("td", { colspan: columns.length, class: "hint" }, emptyText))));
    count.textContent = `${shown.length}件`;
  }
  search.addEventListener("input", () => { query = search.value; draw(); });
  csv?.addEventListener("click", () => downloadCsv(csvName, columns.map((c) => c.label),
    visible().map((r) => columns.map((c) => value(c, r)))));
  return { set(newRows) { rows = newRows; draw(); }, rows: () => visible() };
}
