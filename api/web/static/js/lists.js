// Lists: facilities lacking roles, institutions with spare capacity (sortable, searchable, CSV).
import {
  COLUMN, ROLE_LABEL, STATUS, TYPE, acceptingLabel, institutionRoles, kindLabel, marks, municipalityName, onChange, spare, store,
} from "./store.js";
import { dataTable } from "./util.js";

let facilities, institutions;

export function initLists(openFacility) {
  if (facilities) return;
  // The hints name the roles and kinds with the vocabulary's labels.
  document.getElementById("hint-facilities").textContent =
    `${store.vocab.roles.map((r) => r.label_ja).join(" ")} のうち、協力医療機関で満たされていない役割がある施設です。`;
  document.getElementById("hint-institutions").textContent =
    `24時間の役割を担い、受入を拒んでおらず、受入枠に空きがある（または枠が未設定の）${store.vocab.kinds.map((k) => k.label_ja).join("・")}です。`;
  facilities = listFacilities(openFacility);
  institutions = listInstitutions();
  onChange(draw);
  draw();
}

export function resetLists() { facilities = institutions = null; }

function listFacilities(openFacility) {
  return dataTable(document.getElementById("list-facilities"), {
    id: "table-facilities", csvName: "要件不足の施設.csv", onRowClick: (r) => openFacility(r.facility_id),
    columns: [
      { key: "facility_id", label: COLUMN.facilities.facility_id },
      { key: "name", label: COLUMN.facilities.name },
      { key: "facility_type", label: COLUMN.facilities.facility_type, value: (r) => TYPE[r.facility_type].name_ja },
      { key: "municipality", label: COLUMN.facilities.municipality_code, value: (r) => municipalityName(r.municipality_code) },
      { key: "status", label: "状況", value: (r) => STATUS[r.status].label_ja },
      { key: "missing", label: "不足している役割", value: (r) => r.missing_roles.map((x) => ROLE_LABEL[x]).join("・") },
      { key: "residents", label: COLUMN.facilities.residents, num: true },
    ],
  });
}

function listInstitutions() {
  return dataTable(document.getElementById("list-institutions"), {
    id: "table-institutions", csvName: "受入余力のある医療機関.csv",
    columns: [
      { key: "institution_id", label: COLUMN.institutions.institution_id },
      { key: "name", label: COLUMN.institutions.name },
      { key: "kind", label: COLUMN.institutions.kind, value: (r) => kindLabel(r.kind) },
      { key: "municipality", label: COLUMN.institutions.municipality_code, value: (r) => municipalityName(r.municipality_code) },
      { key: "roles", label: "担える役割（24時間）", value: (r) => marks(institutionRoles(r)) },
      { key: "accepting", label: COLUMN.institutions.accepting, value: (r) => acceptingLabel(r.accepting) },
      { key: "capacity_facilities", label: COLUMN.institutions.capacity_facilities, num: true },
      { key: "reserved_facilities", label: "承諾で確保済み", num: true },
      { key: "spare", label: "空き", num: true, value: (r) => spare(r) },
    ],
  });
}

function draw() {
  facilities?.set(store.facilities.filter((f) => f.missing_roles.length).map((f) => ({ ...f, _data: { facilityId: f.facility_id } })));
  institutions?.set([...store.institutions.values()].filter((i) => i.accepting !== false && institutionRoles(i).length
    && (spare(i) == null || spare(i) > 0)).map((i) => ({ ...i, _data: { institutionId: i.institution_id } })));
}
