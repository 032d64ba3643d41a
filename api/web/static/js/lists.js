// Lists: facilities lacking roles, institutions with spare capacity (sortable, searchable, CSV).
import { ROLE_LABEL, STATUS, TYPE, acceptingLabel, institutionRoles, marks, municipalityName, onChange, spare, store } from "./store.js";
import { dataTable } from "./util.js";

let facilities, institutions;

export function initLists(openFacility) {
  if (facilities) return;
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
      { key: "facility_id", label: "施設ID" },
      { key: "name", label: "施設名" },
      { key: "facility_type", label: "施設種別", value: (r) => TYPE[r.facility_type].name_ja },
      { key: "municipality", label: "市区町村", value: (r) => municipalityName(r.municipality_code) },
      { key: "status", label: "状況", value: (r) => STATUS[r.status].label_ja },
      { key: "missing", label: "不足している役割", value: (r) => r.missing_roles.map((x) => ROLE_LABEL[x]).join("・") },
      { key: "residents", label: "入所者数", num: true },
    ],
  });
}

function listInstitutions() {
  return dataTable(document.getElementById("list-institutions"), {
    id: "table-institutions", csvName: "受入余力のある医療機関.csv",
    columns: [
      { key: "institution_id", label: "医療機関ID" },
      { key: "name", label: "名称" },
      { key: "kind", label: "種別", value: (r) => (r.kind === "hospital" ? "病院" : "診療所") },
      { key: "municipality", label: "市区町村", value: (r) => municipalityName(r.municipality_code) },
      { key: "roles", label: "担える役割（24時間）", value: (r) => marks(institutionRoles(r)) },
      { key: "accepting", label: "受入意向", value: (r) => acceptingLabel(r.accepting) },
      { key: "capacity_facilities", label: "受入枠（施設）", num: true },
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
