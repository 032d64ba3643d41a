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

// A tel: link for a phone number as people write it (019-651-4111 内線 12 → tel:0196514111): digits
// only, the extension left out (a phone dials it after the call is answered).
export const telHref = (phone) => `tel:${String(phone).replace(/(内線|内|ext\.?|x).*$/i, "").replace(/[^0-9+]/g, "")}`;

// Straight-line distance (km) on the sphere between two records with lat and lon.
export function distanceKm(a, b) {
  const rad = Math.PI / 180, dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
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
 * A table with sortable headers (buttons: keyboard and screen readers), a search box, optional
 * per-column filters (filter: "select" → a list of the column's values, "text" → contains) and a CSV
 * download.  Rows with onRowClick are focusable and open with Enter.
 * columns: [{key, label, title, value(row) → sortable/exported value, render(row) → Node|string, num, filter}]
 */
export function dataTable(container, { columns, id, csvName, onRowClick, emptyText = "該当なし", caption, sort }) {
  let rows = [];
  let sortKey = sort?.key ?? null, sortDir = sort?.dir ?? 1, query = "";
  const filters = new Map();
  const search = el("input", { type: "search", placeholder: "検索（名称・ID・市区町村など）", "aria-label": `${caption ?? "表"}を検索` });
  const count = el("span", { class: "hint", "aria-live": "polite" });
  const csv = csvName ? el("button", { type: "button", class: "csv" }, "CSVダウンロード") : null;
  const table = el("table", { class: "data", id });
  const wrap = el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption ?? "表" }, table);
  const filterRow = columns.some((c) => c.filter) ? el("div", { class: "column-filters" }) : null;
  container.replaceChildren(el("div", { class: "table-tools" }, search, csv, count), ...(filterRow ? [filterRow] : []), wrap);
  const value = (c, r) => (c.value ? c.value(r) : r[c.key]);
  // Shown with the sticky column (the row's name) first, so that it stays in view when the table
  // scrolls sideways on a narrow screen; the CSV keeps the declared order.
  const shownColumns = [...columns.filter((c) => c.sticky), ...columns.filter((c) => !c.sticky)];
  const visible = () => {
    const q = query.trim().toLowerCase();
    let out = q ? rows.filter((r) => columns.some((c) => String(value(c, r) ?? "").toLowerCase().includes(q))) : rows.slice();
    for (const [key, want] of filters) {
      if (!want) continue;
      const c = columns.find((x) => x.key === key);
      out = out.filter((r) => (c.filter === "select" ? String(value(c, r) ?? "") === want : String(value(c, r) ?? "").toLowerCase().includes(want.toLowerCase())));
    }
    if (sortKey) {
      const c = columns.find((x) => x.key === sortKey);
      out.sort((a, b) => {
        const x = value(c, a), y = value(c, b);
        if ((x == null || x === "") && (y == null || y === "")) return 0;
        if (x == null || x === "") return 1;
        if (y == null || y === "") return -1;
        return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "ja")) * sortDir;
      });
    }
    return out;
  };
  function fillFilters() {
    if (!filterRow) return;
    filterRow.replaceChildren(...columns.filter((c) => c.filter).map((c) => {
      const keep = filters.get(c.key) ?? "";
      let input;
      if (c.filter === "select") {
        const opts = [...new Set(rows.map((r) => String(value(c, r) ?? "")).filter(Boolean))].sort((a, b) => a.localeCompare(b, "ja"));
        input = el("select", { dataset: { filter: c.key } }, el("option", { value: "" }, "すべて"), opts.map((o) => el("option", { value: o }, o)));
      } else {
        input = el("input", { type: "search", dataset: { filter: c.key }, placeholder: "含む文字" });
      }
      input.value = keep;
      input.addEventListener(c.filter === "select" ? "change" : "input", () => { filters.set(c.key, input.value); draw(); });
      return el("label", {}, c.label, input);
    }));
  }
  function draw() {
    const shown = visible();
    const head = el("tr", {}, shownColumns.map((c) => el("th", {
      title: c.title, scope: "col",
      class: [c.key === sortKey ? (sortDir > 0 ? "sorted-asc" : "sorted-desc") : "", c.sticky ? "sticky" : ""].join(" ").trim() || null,
      dataset: { key: c.key }, "aria-sort": c.key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : null,
    }, c.sortable === false ? c.label : el("button", { type: "button", class: "sort",
      onclick: () => { sortDir = sortKey === c.key ? -sortDir : 1; sortKey = c.key; draw(); table.querySelector(`th[data-key="${c.key}"] button`)?.focus(); },
    }, c.label))));
    const body = shown.map((r) => el("tr", { class: onRowClick ? "clickable" : null, dataset: r._data || {}, tabindex: onRowClick ? "0" : null,
      onclick: onRowClick ? (ev) => { if (!ev.target.closest("button, input, a, select")) onRowClick(r); } : null,
      onkeydown: onRowClick ? (ev) => { if ((ev.key === "Enter" || ev.key === " ") && ev.target === ev.currentTarget) { ev.preventDefault(); onRowClick(r); } } : null },
      shownColumns.map((c) => el(c.sticky ? "th" : "td", { scope: c.sticky ? "row" : null, class: [c.num ? "num" : "", c.nowrap ? "nowrap" : "", c.sticky ? "sticky" : ""].join(" ").trim() || null }, c.render ? c.render(r) : (value(c, r) ?? "")))));
    table.replaceChildren(...(caption ? [el("caption", { class: "visually-hidden" }, caption)] : []),
      el("thead", {}, head), el("tbody", {}, body.length ? body : el("tr", {}, el("td", { colspan: columns.length, class: "hint" }, emptyText))));
    count.textContent = `${shown.length}件`;
  }
  search.addEventListener("input", () => { query = search.value; draw(); });
  csv?.addEventListener("click", () => downloadCsv(csvName, columns.map((c) => c.label),
    visible().map((r) => columns.map((c) => value(c, r)))));
  return {
    set(newRows) { rows = newRows; fillFilters(); draw(); },
    rows: () => visible(),
    sortBy(key, dir = 1) { sortKey = key; sortDir = dir; draw(); },
  };
}
