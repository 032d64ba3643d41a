// The workflow: start a match run for the area and watch it, move proposals, re-run for declined facilities.
import { api } from "./api.js";
import { proposalActions } from "./proposals.js";
import { PROPOSAL_STATES, facilityById, marks, municipalityName, onChange, reload, store } from "./store.js";
import { dataTable, el, fmt, showMessage } from "./util.js";

const OPEN = ["proposed", "contacted", "accepted"];
let proposals, runs, polling = false;

export function initWorkflow(openFacility) {
  if (proposals) return;
  const scope = document.getElementById("run-scope");
  scope.replaceChildren();
  if (store.me.role !== "municipal") {
    scope.append(el("option", { value: "" }, store.me.role === "admin" ? "全域" : "都道府県全域"));
  }
  for (const m of store.me.municipalities) scope.append(el("option", { value: m.municipality_code }, m.municipality_name));
  scope.disabled = store.me.role === "municipal";
  const stateSel = document.getElementById("proposal-state");
  stateSel.replaceChildren(el("option", { value: "open" }, "対応中（提案中・連絡済み・承諾）"),
    ...Object.entries(PROPOSAL_STATES).map(([k, v]) => el("option", { value: k }, v)), el("option", { value: "all" }, "すべて"));
  stateSel.onchange = draw;
  document.getElementById("run-start").onclick = () => {
    const code = scope.value;
    start(code ? { municipality_code: code } : {}, "マッチング");
  };
  document.getElementById("run-declined").onclick = () => {
    const open = new Set(store.proposals.filter((p) => OPEN.includes(p.state)).map((p) => p.facility_id));
    const ids = [...new Set(store.proposals.filter((p) => p.state === "declined").map((p) => p.facility_id))]
      .filter((id) => !open.has(id) && facilityById(id)?.missing_roles.length);
    if (!ids.length) { showMessage("再マッチングが必要な辞退はありません。"); return; }
    start({ facility_ids: ids }, `辞退があった ${ids.length} 施設の再マッチング`);
  };
  proposals = dataTable(document.getElementById("list-proposals"), {
    id: "table-proposals", csvName: "提案一覧.csv", onRowClick: (r) => openFacility(r.facility_id),
    columns: [
      { key: "id", label: "提案ID", num: true },
      { key: "facility", label: "施設", sticky: true, value: (r) => facilityById(r.facility_id)?.name ?? r.facility_id },
      { key: "municipality", label: "市区町村", value: (r) => municipalityName(facilityById(r.facility_id)?.municipality_code) },
      { key: "institution", label: "協力医療機関（候補）", value: (r) => store.institutions.get(r.institution_id)?.name ?? r.institution_id },
      { key: "roles", label: "役割", value: (r) => marks(r.roles) },
      { key: "travel_minutes", label: "移動（分）", num: true, render: (r) => fmt(r.travel_minutes) },
      { key: "distance_km", label: "距離（km）", num: true, render: (r) => fmt(r.distance_km) },
      { key: "location", label: "位置", nowrap: true, value: (r) => (r.location_uncertain ? "近似・要確認" : ""),
        title: "近似・要確認＝施設か医療機関の位置が市区町村役場で近似されており、移動上限を満たすかは位置の確認が必要" },
      { key: "explanation", label: "説明" },
      { key: "state", label: "状態", nowrap: true, value: (r) => PROPOSAL_STATES[r.state] + (r.decline_reason ? `（${r.decline_reason}）` : "") },
      { key: "origin", label: "由来", nowrap: true, value: (r) => (r.origin === "manual" ? "手動（固定）" : `実行 ${r.run_id}`),
        title: "手動（固定）＝担当者が手動で提案した組合せ。再実行しても置き換えず、固定して引き継ぐ" },
      { key: "actions", label: "操作", value: () => "", render: (r) => proposalActions(r) },
    ],
  });
  runs = dataTable(document.getElementById("list-runs"), {
    id: "table-runs", columns: [
      { key: "id", label: "実行ID", num: true },
      { key: "created_at", label: "開始", value: (r) => new Date(r.created_at).toLocaleString("ja-JP") },
      { key: "area", label: "対象", value: (r) => (r.municipality_code ? municipalityName(r.municipality_code) : r.prefecture_code ? (store.me.prefecture_name ?? `都道府県 ${r.prefecture_code}`) : "全域")
        + (r.facility_ids ? `（${r.facility_ids.length}施設）` : "") },
      { key: "state", label: "状態", nowrap: true, value: (r) => ({ queued: "待機中", running: "実行中", done: "完了", failed: "失敗", cancelled: "取消" })[r.state] ?? r.state },
      { key: "message", label: "メッセージ" },
      { key: "proposals", label: "提案数", num: true, value: (r) => r.summary?.proposals },
      { key: "carried", label: "引き継ぎ", num: true, value: (r) => r.summary?.carried_over?.length ?? null,
        title: "再実行の前から連絡済み・承諾済みだった提案で、そのまま引き継いだ件数" },
      { key: "optimal", label: "提案の質", title: "最適＝これ以上よい組合せがないことを計算で確認済み。時間内の最良案＝制限時間内に見つかった最良の組合せ（よりよい組合せがある可能性あり）",
        value: (r) => (r.summary?.optimal === true ? "最適（確認済み）" : r.summary?.optimal === false ? "時間内の最良案" : "") },
    ],
  });
  onChange(draw);
  draw();
}

export function resetWorkflow() { proposals = runs = null; }

function draw() {
  const s = document.getElementById("proposal-state").value || "open";
  proposals?.set(store.proposals.filter((p) => (s === "all" ? true : s === "open" ? OPEN.includes(p.state) : p.state === s))
    .map((p) => ({ ...p, _data: { proposalId: p.id, facilityId: p.facility_id, state: p.state } })));
  runs?.set(store.runs);
}

async function start(body, what) {
  if (polling) return;
  const bar = document.getElementById("run-progress"), msg = document.getElementById("run-message");
  const summary = document.getElementById("run-summary");
  const buttons = [document.getElementById("run-start"), document.getElementById("run-declined")];
  polling = true;
  buttons.forEach((b) => (b.disabled = true));
  summary.textContent = "";
  delete summary.dataset.state;
  showProof({});
  showCarried(null);
  try {
    let run = await api("/runs", { method: "POST", body });
    document.getElementById("run-progress").dataset.runId = run.id;
    showMessage(`${what}を開始しました（実行ID ${run.id}）。`);
    const cancel = document.getElementById("run-cancel");
    cancel.hidden = false;
    cancel.onclick = async () => {
      cancel.disabled = true;
      try { run = await api(`/runs/${run.id}/cancel`, { method: "POST" }); } catch (e) { showMessage(`取り消せませんでした：${e.message}`, true); }
    };
    while (run.state === "queued" || run.state === "running") {
      bar.value = run.progress;
      msg.textContent = `${Math.round(run.progress * 100)}%　${run.message}`;
      await new Promise((r) => setTimeout(r, 400));
      run = await api(`/runs/${run.id}`);
    }
    bar.value = run.progress;
    cancel.hidden = true;
    cancel.disabled = false;
    msg.textContent = run.state === "done" ? "完了" : run.state === "cancelled" ? "取り消しました" : `失敗：${run.message}`;
    if (run.state === "done") {
      const s = run.summary || {};
      summary.textContent = `実行 ${run.id}：提案 ${s.proposals ?? "?"}件（新規の協定 ${s.new_agreements ?? "?"}件）、`
        + `確保できない役割が残る施設 ${s.unmatched_facilities ?? "?"}件${s.optimal ? "、これ以上よい組合せがないことを確認済み" : ""}。`;
      showProof(s);
      showCarried(s.carried_over);
      showMessage(`${what}が完了しました。`);
    } else if (run.state === "cancelled") {
      showMessage(`${what}を取り消しました。`);
    } else {
      showMessage(`${what}に失敗しました：${run.message}`, true);
    }
    await reload();
    // Marked only once the tables show the run's proposals (the tests and assistive tech wait on it).
    summary.dataset.state = run.state === "done" || run.state === "cancelled" ? run.state : "failed";
  } catch (e) {
    showMessage(`実行できませんでした：${e.message}`, true);
  } finally {
    document.getElementById("run-cancel").hidden = true;
    polling = false;
    buttons.forEach((b) => (b.disabled = false));
  }
}

// After a re-run: the proposals already contacted or accepted, carried over unchanged (not replaced).
function showCarried(carried) {
  const box = document.getElementById("run-carried");
  if (!carried) { box.hidden = true; box.replaceChildren(); return; }
  box.hidden = false;
  box.dataset.count = carried.length;
  box.replaceChildren(
    el("h3", {}, carried.length ? `引き継いだ提案 ${carried.length}件（連絡済み・承諾済みの提案と手動の提案は再実行で置き換えず、そのまま残しています）`
      : "引き継いだ提案はありません（連絡済み・承諾済みの提案も手動の提案もなかったため）"),
    // replaceChildren writes a null as "null": the list only when there is one
    ...(carried.length ? [el("ul", {}, carried.map((c) => el("li", { dataset: { proposalId: c.proposal_id } },
      `${facilityById(c.facility_id)?.name ?? c.facility_id} ← ${store.institutions.get(c.institution_id)?.name ?? c.institution_id}`
      + `（${marks(c.roles)}・${PROPOSAL_STATES[c.state] ?? c.state}${c.origin === "manual" ? "・手動" : ""}${c.pinned ? "・固定" : ""}）`)))] : []));
}

// What the run could not prove: warnings (coverage, goals 1–3) first, then notes (agreements, travel).
function showProof(s) {
  const list = document.getElementById("run-warnings");
  list.replaceChildren();
  for (const [kind, texts] of [["warning", s.warnings || []], ["note", s.notes || []]]) {
    for (const text of texts) {
      const li = document.createElement("li");
      li.className = kind;
      li.textContent = (kind === "warning" ? "警告：" : "注：") + text;
      list.append(li);
    }
  }
  list.hidden = list.children.length === 0;
}
