// Moving a proposal through its states: proposed → contacted → accepted → contracted, or → declined.
// Each step that is hard to take back asks first, saying what will happen; a mistaken step can be taken
// back (POST /proposals/{id}/undo, audited); contacts are logged with date, person and note.
import { api } from "./api.js";
import { PROPOSAL_STATES, facilityById, marks, reload, store } from "./store.js";
import { el, showMessage } from "./util.js";

const NEXT = {
  proposed: [["contacted", "連絡済みにする"], ["accepted", "承諾"], ["declined", "辞退"]],
  contacted: [["accepted", "承諾"], ["declined", "辞退"]],
  accepted: [["contracted", "契約締結"], ["declined", "辞退"]],
};
const UNDOABLE = ["contacted", "accepted", "declined"];
export const today = () => new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 10);

const names = (p) => ({
  f: facilityById(p.facility_id)?.name ?? p.facility_id,
  i: store.institutions.get(p.institution_id)?.name ?? p.institution_id,
});

/**
 * A modal dialog (native <dialog>: focus kept inside, Esc cancels).  fields: [{name, label, type, value,
 * required, placeholder, min, options}]: type "select" takes options [[value, label]], type "checkbox"
 * answers "true" or "".  Resolves to the fields' values (an object) on OK, null on cancel.
 */
export function confirmDialog({ title, body, ok, danger = false, fields = [] }) {
  const dlg = document.getElementById("confirm-dialog");
  const form = dlg.querySelector("form");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").replaceChildren(...[body].flat().map((t) => (t instanceof Node ? t : el("p", {}, t))));
  const inputs = fields.map((f) => {
    const tag = f.type === "textarea" || f.type === "select" ? f.type : "input";
    const input = el(tag, { name: f.name, type: tag === "input" ? (f.type || "text") : null,
      class: "dialog-input", required: f.required || null, placeholder: f.placeholder, max: f.max, min: f.min, rows: f.type === "textarea" ? 3 : null },
    f.type === "select" ? [el("option", { value: "" }, "選択してください"), ...f.options.map(([v, t]) => el("option", { value: v }, t))] : null);
    if (f.type === "checkbox") input.checked = Boolean(f.value);
    else input.value = f.value ?? "";
    return [f, input];
  });
  const valueOf = (input) => (input.type === "checkbox" ? (input.checked ? "true" : "") : input.value.trim());
  document.getElementById("confirm-fields").replaceChildren(...inputs.map(([f, input]) => (f.type === "checkbox"
    ? el("label", { class: "check" }, input, f.label) : el("label", {}, f.label, f.required ? "（必須）" : "", input))));
  const okButton = document.getElementById("confirm-ok");
  okButton.textContent = ok;
  okButton.classList.toggle("danger", danger);
  const error = document.getElementById("confirm-error");
  error.textContent = "";
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const done = (value) => { dlg.close(); form.onsubmit = null; dlg.oncancel = null; opener?.focus?.(); resolve(value); };
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const missing = inputs.find(([f, input]) => f.required && !valueOf(input));
      if (missing) { error.textContent = `${missing[0].label}を入力してください。`; missing[1].focus(); return; }
      done(Object.fromEntries(inputs.map(([f, input]) => [f.name, valueOf(input)])));
    };
    document.getElementById("confirm-cancel").onclick = () => done(null);
    dlg.oncancel = (ev) => { ev.preventDefault(); done(null); };
    dlg.showModal();
    (inputs[0]?.[1] ?? document.getElementById("confirm-cancel")).focus();
  });
}

async function move(p, state, reason) {
  try {
    await api(`/proposals/${p.id}/state`, { method: "POST", body: reason ? { state, reason } : { state } });
    showMessage(`提案 ${p.id}（${names(p).f} ← ${names(p).i}）を「${PROPOSAL_STATES[state]}」にしました。誤りのときは「取り消す」で戻せます。`);
    await reload();
  } catch (e) {
    showMessage(`変更できませんでした：${e.message}`, true);
  }
}

const contactFields = [
  { name: "contact_date", label: "連絡日", type: "date", value: today(), max: today(), required: true },
  { name: "person", label: "相手（氏名・部署）", placeholder: "例：地域連携室 佐藤", required: true },
  { name: "note", label: "内容", type: "textarea", placeholder: "例：院長に相談のうえ来週回答" },
];

async function addContact(p, thenContacted) {
  const { f, i } = names(p);
  const v = await confirmDialog({ title: thenContacted ? "連絡済みにする" : "連絡記録を追加",
    body: [`${f} ← ${i}（${marks(p.roles)}）への連絡を記録します。`, thenContacted ? "記録すると提案は「連絡済み」になります。" : ""].filter(Boolean),
    ok: thenContacted ? "記録して連絡済みにする" : "記録する", fields: contactFields });
  if (!v) return;
  try {
    await api(`/proposals/${p.id}/contacts`, { method: "POST", body: v });
    if (thenContacted) await move(p, "contacted");
    else { showMessage(`提案 ${p.id} の連絡記録を追加しました。`); await reload(); }
  } catch (e) {
    showMessage(`記録できませんでした：${e.message}`, true);
  }
}

async function contract(p) {
  const { f, i } = names(p);
  const v = await confirmDialog({ title: "契約締結の確認", ok: "契約締結を登録する", danger: true,
    body: [`${f} と ${i} の協定（${marks(p.roles)}）を登録します。`,
      "施設の協力医療機関に加わり、医療機関の受入枠を1施設分使います（承諾で確保した枠が協定に変わります）。",
      "この操作は画面から取り消せません。協定が実際に結ばれたことを確認してから登録してください。"] });
  if (v) await move(p, "contracted");
}

async function decline(p) {
  const { f, i } = names(p);
  const v = await confirmDialog({ title: "辞退の確認", ok: "辞退を確定", danger: true,
    body: [`${i} は ${f} の協力医療機関（${marks(p.roles)}）を辞退します。`,
      "この組合せは今後のマッチングで提案されません。承諾で確保した受入枠は解放されます。",
      "誤りだった場合は「取り消す」で元の状態に戻せます。"],
    fields: [{ name: "reason", label: "辞退理由", placeholder: "例：夜間対応が困難", required: true }] });
  if (v) await move(p, "declined", v.reason);
}

async function undo(p) {
  const v = await confirmDialog({ title: "直前の操作を取り消す", ok: "取り消す",
    body: [`提案 ${p.id}（${names(p).f} ← ${names(p).i}）の「${PROPOSAL_STATES[p.state]}」を取り消し、前の状態に戻します。`,
      p.state === "accepted" ? "確保した受入枠は解放されます。" : p.state === "declined" ? "この組合せは再び提案の対象になります。" : "",
      "取り消しは監査記録に残ります。"].filter(Boolean) });
  if (!v) return;
  try {
    const back = await api(`/proposals/${p.id}/undo`, { method: "POST" });
    showMessage(`提案 ${p.id} を「${PROPOSAL_STATES[back.state]}」に戻しました。`);
    await reload();
  } catch (e) {
    showMessage(`取り消せませんでした：${e.message}`, true);
  }
}

async function withdraw(p) {
  const v = await confirmDialog({ title: "手動の提案を取り下げる", ok: "取り下げる", danger: true,
    body: [`手動で登録した提案 ${p.id}（${names(p).f} ← ${names(p).i}、${marks(p.roles)}）を取り下げます。`,
      "提案は削除され、次の再実行では固定されません（この組合せが改めて提案されることはあります）。取り下げは監査記録に残ります。"] });
  if (!v) return;
  try {
    await api(`/proposals/${p.id}`, { method: "DELETE" });
    showMessage(`提案 ${p.id} を取り下げました。`);
    await reload();
  } catch (e) {
    showMessage(`取り下げられませんでした：${e.message}`, true);
  }
}

export function proposalActions(p) {
  const box = el("div", { class: "actions", dataset: { proposalId: p.id } });
  for (const [state, label] of NEXT[p.state] || []) {
    const act = { contacted: () => addContact(p, true), contracted: () => contract(p), declined: () => decline(p) }[state]
      ?? (() => move(p, state));
    box.append(el("button", { type: "button", class: `act-${state}${state === "declined" ? " gap" : ""}`, onclick: act,
      "aria-label": `${label}：${names(p).f} ← ${names(p).i}` }, label));
  }
  if (NEXT[p.state] && p.state !== "proposed") {
    box.append(el("button", { type: "button", class: "act-contact", onclick: () => addContact(p, false), "aria-label": `連絡記録を追加：${names(p).f} ← ${names(p).i}` }, "連絡記録"));
  }
  if (p.origin === "manual" && p.state === "proposed") {
    box.append(el("button", { type: "button", class: "act-withdraw", onclick: () => withdraw(p), "aria-label": `手動の提案を取り下げる：${names(p).f} ← ${names(p).i}` }, "取り下げ"));
  }
  if (UNDOABLE.includes(p.state)) {
    box.append(el("button", { type: "button", class: "act-undo", onclick: () => undo(p), "aria-label": `直前の操作を取り消す：${names(p).f} ← ${names(p).i}` }, "取り消す"));
  }
  return box;
}

/** The proposal's contact log as a list (loaded on demand). */
export async function contactLog(p) {
  const list = el("ul", { class: "contacts", dataset: { proposalId: p.id } });
  try {
    const rows = await api(`/proposals/${p.id}/contacts`);
    list.replaceChildren(...rows.map((c) => el("li", {}, el("span", { class: "date" }, c.contact_date), ` ${c.person}`, c.note ? `：${c.note}` : "")));
  } catch (e) {
    list.replaceChildren(el("li", { class: "error" }, `連絡記録を読み込めませんでした：${e.message}`));
  }
  return list;
}
