// What the signed-in user may see, loaded through the API, and the labels of the one vocabulary table.
// Every label about the domain (roles, facility types, statuses, 病院/診療所, designations, the records'
// column names) comes from GET /vocabulary (matching/vocabulary.py and the data contract); only the
// page's own words (proposal states, user roles) are written here.
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
export const KIND = {};         // hospital → 病院
export const DESIGNATION = {};  // zaishin → {name_ja, kind, default_roles}
export const COLUMN = {};       // institutions → {capacity_facilities: 受入枠（施設）, …}
export const LOCATION = {};     // office → 市区町村役場で近似 (location_source; blank = source)
let ROLES = [];                 // [{code, mark, label_ja, column}] in the vocabulary's order
export const PROPOSAL_STATES = {
  proposed: "提案中", contacted: "連絡済み", accepted: "承諾（受入枠を確保）", contracted: "契約済み",
  declined: "辞退", superseded: "再実行で新しい提案に置き換え済み",
};
export const USER_ROLES = { admin: "管理者", prefecture: "都道府県", municipal: "市区町村" };

export async function loadSession() {
  const [me, vocab] = await Promise.all([api("/me"), api("/vocabulary")]);
  store.me = me;
  store.vocab = vocab;
  for (const r of vocab.roles) { ROLE_LABEL[r.code] = r.label_ja; ROLE_MARK[r.code] = r.mark; }
  for (const t of vocab.facility_types) TYPE[t.code] = t;
  for (const s of vocab.statuses) STATUS[s.code] = s;
  for (const k of vocab.kinds) KIND[k.code] = k.label_ja;
  for (const d of vocab.designations) DESIGNATION[d.code] = d;
  for (const [record, columns] of Object.entries(vocab.records)) {
    COLUMN[record] = Object.fromEntries(columns.map((c) => [c.name, c.label_ja]));
  }
  for (const s of vocab.location_sources) LOCATION[s.code] = s.label_ja;
  ROLES = vocab.roles;
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
  return ROLES.filter((r) => list.includes(r.code)).map((r) => r.mark).join("") || "なし";
};
export const rolesLabel = (roles) => roles.map((r) => ROLE_LABEL[r]).join("、") || "なし";
// The roles an institution offers around the clock: each role's column (from /vocabulary) is true.
export const institutionRoles = (i) => ROLES.filter((r) => i[r.column]).map((r) => r.code);
export const kindLabel = (kind) => KIND[kind] ?? kind;
// Time slots (codes from /vocabulary, matching.roles) in words: 常時 when all four, else the slots named.
export const slotsLabel = (codes) => (codes.length === store.vocab.slots.length ? "常時"
  : store.vocab.slots.filter((s) => codes.includes(s.code)).map((s) => s.label_ja).join("・") || "なし");
// Facilities the institution can still take: capacity − reserved (null = no limit recorded).
export const spare = (i) => (i.capacity_facilities == null ? null : i.capacity_facilities - i.reserved_facilities);
// Spare capacity in words, with its meaning: 0 = 満杯, blank = 未回答 (matching treats it as no limit).
export const spareLabel = (sp) => (sp == null ? "未回答（上限なしとして扱う）" : sp <= 0 ? "0（満杯）" : `${sp}施設`);
// Where a record's point comes from; an approximate one says so, with its radius.
export const locationLabel = (r) => `${LOCATION[r.location_source || "source"] ?? r.location_source}`
  + (r.location_radius_km ? `（誤差半径 約${r.location_radius_km}km）` : "");
export const locationApproximate = (r) => r.location_source === "office" || (r.location_radius_km ?? 0) > 0;
export const acceptingLabel = (a) => (a === true ? "受入可" : a === false ? "受入不可" : "未確認");
