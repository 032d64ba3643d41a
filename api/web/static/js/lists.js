// Lists: every facility of the area and every institution (sortable, searchable, filters per column, CSV);
// institutions by distance from the facility selected on the map, nearest first.
import { selectedFacility } from "./map.js";
import {
  COLUMN, ROLE_LABEL, STATUS, TYPE, acceptingLabel, facilityById, institutionRoles, kindLabel, locationLabel, marks, municipalityName, onChange,
  spare, spareLabel, store,
} from "./store.js";
import { dataTable, distanceKm, el, fmt, telHref } from "./util.js";

let facilities, institutions, from = null;

export function initLists(openFacility) {
  if (facilities) return;
  document.getElementById("hint-facilities").textContent =
    `担当区域のすべての施設です。列の上の欄で絞り込み、列名で並べ替えできます。行を選ぶ（Enter）と地図で開きます。不足している役割は ${store.vocab.roles.map((r) => r.label_ja).join(" ")} のうち協力医療機関で満たされていないものです。`;
  facilities = listFacilities(openFacility);
  institutions = listInstitutions();
  document.getElementById("facility-detail").addEventListener("facilityshown", () => { from = facilityById(selectedFacility()); draw(true); });
  onChange(() => draw());
  draw();
}

export function resetLists() { facilities = institutions = null; from = null; }

function listFacilities(openFacility) {
  return dataTable(document.getElementById("list-facilities"), {
    id: "table-facilities", csvName: "施設一覧.csv", onRowClick: (r) => openFacility(r.facility_id), caption: "施設の一覧",
    columns: [
      { key: "facility_id", label: COLUMN.facilities.facility_id },
      { key: "name", label: COLUMN.facilities.name, sticky: true, filter: "text" },
      { key: "facility_type", label: COLUMN.facilities.facility_type, value: (r) => TYPE[r.facility_type].name_ja, filter: "select" },
      { key: "municipality", label: COLUMN.facilities.municipality_code, value: (r) => municipalityName(r.municipality_code), filter: "select" },
      { key: "status", label: "状況", value: (r) => STATUS[r.status].label_ja, filter: "select" },
      { key: "missing", label: "不足している役割", value: (r) => r.missing_roles.map((x) => ROLE_LABEL[x]).join("・"), filter: "select" },
      { key: "confirmed", label: "確認", value: (r) => (r.confirmed === false ? "確認待ち" : "確認済み"), filter: "select" },
      { key: "residents", label: COLUMN.facilities.residents, num: true },
    ],
  });
}

function listInstitutions() {
  return dataTable(document.getElementById("list-institutions"), {
    id: "table-institutions", csvName: "医療機関一覧.csv", caption: "医療機関の一覧",
    columns: [
      { key: "institution_id", label: COLUMN.institutions.institution_id },
      { key: "name", label: COLUMN.institutions.name, sticky: true, filter: "text" },
      { key: "kind", label: COLUMN.institutions.kind, value: (r) => kindLabel(r.kind), filter: "select" },
      { key: "municipality", label: COLUMN.institutions.municipality_code, value: (r) => municipalityName(r.municipality_code), filter: "select" },
      { key: "distance", label: "選択中の施設からの距離（km）", num: true, value: (r) => (from ? Math.round(distanceKm(from, r) * 10) / 10 : null), render: (r) => (from ? fmt(distanceKm(from, r)) : "") },
      { key: "roles", label: "担える役割（24時間）", value: (r) => marks(institutionRoles(r)), filter: "select" },
      { key: "accepting", label: COLUMN.institutions.accepting, value: (r) => acceptingLabel(r.accepting), filter: "select" },
      { key: "capacity_facilities", label: COLUMN.institutions.capacity_facilities, num: true },
      { key: "reserved_facilities", label: "承諾で確保済み", num: true },
      { key: "spare", label: "空き", num: true, value: (r) => spare(r), render: (r) => spareLabel(spare(r)) },
      { key: "contact_name", label: COLUMN.institutions.contact_name, filter: "text" },
      { key: "contact_phone", label: COLUMN.institutions.contact_phone, render: (r) => (r.contact_phone ? el("a", { href: telHref(r.contact_phone) }, r.contact_phone) : "") },
      { key: "survey_date", label: COLUMN.institutions.survey_date },
      { key: "location", label: COLUMN.institutions.location_source, value: (r) => locationLabel(r), filter: "select" },
    ],
  });
}

function draw(selectionChanged = false) {
  facilities?.set(store.facilities.map((f) => ({ ...f, _data: { facilityId: f.facility_id } })));
  const hint = document.getElementById("hint-institutions");
  hint.textContent = (from ? `「${from.name}」からの直線距離を表示しています（近い順に並べ替え）。` : "地図や施設の一覧で施設を選ぶと、その施設からの距離で並べ替えできます。")
    + "空き：0（満杯）＝受入枠を使い切っている、未回答＝調査で受入枠の回答がない。";
  institutions?.set([...store.institutions.values()].map((i) => ({ ...i, _data: { institutionId: i.institution_id } })));
  if (selectionChanged && from) institutions?.sortBy("distance", 1);
}
