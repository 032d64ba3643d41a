// Moving a proposal through its states: proposed → contacted → accepted → contracted, or → declined (reason required).
import { api } from "./api.js";
import { PROPOSAL_STATES, reload } from "./store.js";
import { el, showMessage } from "./util.js";

const NEXT = {
  proposed: [["contacted", "連絡済みにする"], ["accepted", "承諾"], ["declined", "辞退"]],
  contacted: [["accepted", "承諾"], ["declined", "辞退"]],
  accepted: [["contracted", "契約締結"], ["declined", "辞退"]],
};

async function move(p, state, reason) {
  try {
    await api(`/proposals/${p.id}/state`, { method: "POST", body: reason ? { state, reason } : { state } });
    showMessage(`提案 ${p.id}（${p.facility_id} ← ${p.institution_id}）を「${PROPOSAL_STATES[state]}」にしました。`);
    await reload();
  } catch (e) {
    showMessage(`変更できませんでした：${e.message}`, true);
  }
}

export function proposalActions(p) {
  const box = el("div", { class: "actions", dataset: { proposalId: p.id } });
  for (const [state, label] of NEXT[p.state] || []) {
    box.append(el("button", { type: "button", class: `act-${state}`, onclick: () => {
      if (state !== "declined") return move(p, state);
      if (box.querySelector(".decline-form")) return;
      const reason = el("input", { type: "text", class: "decline-reason", placeholder: "辞退理由（必須）例：夜間対応が困難", "aria-label": "辞退理由" });
      const form = el("form", { class: "decline-form", onsubmit: (ev) => {
        ev.preventDefault();
        if (!reason.value.trim()) { showMessage("辞退理由を入力してください。", true); reason.focus(); return; }
        move(p, "declined", reason.value.trim());
      } }, reason, el("button", { type: "submit", class: "decline-confirm" }, "辞退を確定"));
      box.append(form);
      reason.focus();
    } }, label));
  }
  return box;
}
