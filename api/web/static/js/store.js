// What the signed-in user may see, loaded through the API, and the labels of the one vocabulary table.
import { api } from "./api.js";

export const store = {
  me: null, vocab: null, areas: new Map(), facilities: [], institutions: new Map(), proposals: [], runs: [],
};
const listeners = new Set();
export const onChange = (fn) => listeners.add(fn);

export const ROLE_LABEL = {};   // consult → ①相談対応（常時） …
export const ROLE_MARK = {};    // consult → ①
export const TYPE = {};         // tokuyo → {name_ja, short_ja, required_roles}
export const STATUS = {};       // all_met → {label_ja, short_ja}
export const PROPOSAL_STATES = {
  proposed: "提案中", contacted: "連絡済み", accepted: "承諾（受入枠を確保）", contracted: "契約済み",
  declined: "辞退", superseded: "再実行により置換",
};
export const USER_ROLES = { admin: "管理者", prefecture: "都道府県", municipal: "市区町村" };

export async function loadSession() {
  const [me, vocab] = await Promise.all([api("/me"), api("/vocabulary")]);
  store.me = me;
  store.vocab = vocab;
  for (const r of vocab.roles) { ROLE_LABEL[r.code] = r.label_ja; ROLE_MARK[r.code] = r.mark; }
  for (const t of vocab.facility_types) TYPE[t.code] = t;
  for (const s of vocab.statuses) STATUS[s.code] = s;
  const areas = await api("/areas");
  store.areas = new Map(areas.map((a) => [a.municipality_code, a]));
  await reload();
}

export async function reload() {
  const [facilities, institutions, proposals, runs] = await Promise.all([
    api("/facilities?limit=10000"), api("/institutions?limit=10000"), api("/proposals?limit=10000"), api("/runs"),
  ]);
  store.facilities = facilities;
  store.institutions = new Map(institutions.map((i) => [i.institution_id, i]));
  store.proposals = proposals;
  store.runs = runs;
  for (const fn of listeners) fn();
}

export function reset() {
  listeners.clear();
  Object.assign(store, { me: null, vocab: null, areas: new Map(), facilities: [], institutions: new Map(), proposals: [], runs: [] });
}

export const municipalityName = (code) => store.areas.get(code)?.municipality_name ?? code;
export const facilityById = (id) => store.facilities.find((f) => f.facility_id === id);
export const marks = (roles) => {
  const list = typeof roles === "string" ? roles.split(";").filter(Boolean) : roles;
  return ["consult", "visit", "admit"].filter((r) => list.includes(r)).map((r) => ROLE_MARK[r]).join("") || "なし";
};
export const rolesLabel = (roles) => roles.map((r) => ROLE_LABEL[r]).join("、") || "なし";
export function institutionRoles(i) {
  return ["consult", "visit", "admit"].filter((r) => ({ consult: i.consult_24h, visit: i.visit_24h, admit: i.admit })[r]);
}
// Facilities the institution can still take: capacity − reserved (null = no limit recorded).
export const spare = (i) => (i.capacity_facilities == null ? null : i.capacity_facilities - i.reserved_facilities);
export const acceptingLabel = (a) => (a === true ? "受入可" : a === false ? "受入不可" : "未確認");
