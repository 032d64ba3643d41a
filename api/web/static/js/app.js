// Entry point: sign-in with the service's token (kept in sessionStorage), the four views, sign-out.
import { ApiError, setUnauthorizedHandler, token } from "./api.js";
import { loadDashboard, resetDashboard } from "./dashboard.js";
import { initLists, resetLists } from "./lists.js";
import { drawerMode, initMap, invalidate, resetMap, reveal, showFacility } from "./map.js";
import { USER_ROLES, loadSession, reset, store } from "./store.js";
import { showMessage } from "./util.js";
import { initWorkflow, resetWorkflow } from "./workflow.js";

const $ = (id) => document.getElementById(id);
const DETAIL_HINT = $("facility-detail").innerHTML;

const VIEWS = ["map", "lists", "workflow", "dashboard"];
let current = "map";

// The URL holds the tab and the selected facility (#view=map&facility=F0018): reloads and shared links work.
export function writeHash() {
  const params = new URLSearchParams();
  params.set("view", current);
  const f = document.getElementById("facility-detail").dataset.facilityId;
  if (f) params.set("facility", f);
  const next = `#${params}`;
  if (location.hash !== next) history.replaceState(null, "", next);
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const view = VIEWS.includes(params.get("view")) ? params.get("view") : (params.get("facility") ? "map" : "map");
  return { view, facility: params.get("facility") };
}

function showView(name, focus = false) {
  current = name;
  for (const b of document.querySelectorAll(".tabs [role=tab]")) {
    const on = b.dataset.view === name;
    b.classList.toggle("active", on);
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
    if (on && focus) b.focus();
  }
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${name}`;
  if (name === "map") invalidate();
  if (name === "dashboard") loadDashboard();
  writeHash();
}

async function openFacility(id) {
  showView("map");
  await showFacility(id, true, true);
  await reveal(id);
  writeHash();
}

function areaText(me) {
  if (me.role === "admin") return "全域";
  if (me.role === "municipal") return me.municipalities.map((m) => m.municipality_name).join("・");
  return `${me.prefecture_name ?? `都道府県 ${me.prefecture_code}`}・${me.municipalities.length}市区町村`;
}

async function start() {
  try {
    await loadSession();
  } catch (e) {
    signOut();
    $("signin-error").textContent = e instanceof ApiError && e.status === 401
      ? "トークンが無効か、失効しています。" : `サインインできませんでした：${e.message}`;
    return;
  }
  const me = store.me;
  $("who-name").textContent = `${me.name}（${USER_ROLES[me.role]}：${areaText(me)}）`;
  $("who").hidden = false;
  $("signin").hidden = true;
  $("app").hidden = false;
  const wanted = readHash();
  showView("map");
  // Narrow screens (the drawer's layout): the filters start folded, so the map is on the first screen.
  $("filters").open = !drawerMode();
  initMap();
  initLists(openFacility);
  initWorkflow(openFacility);
  showMessage("");
  if (wanted.facility) await openFacility(wanted.facility);
  showView(wanted.view);
  // Focus where the work starts, not the body: the selected tab.
  document.querySelector(".tabs [aria-selected=true]").focus();
  document.body.dataset.ready = "true";
}

function signOut() {
  token.clear();
  reset();
  resetMap();
  resetLists();
  resetWorkflow();
  resetDashboard();
  $("facility-detail").innerHTML = DETAIL_HINT;
  delete $("facility-detail").dataset.facilityId;
  $("app").hidden = true;
  $("who").hidden = true;
  $("signin").hidden = false;
  $("token").value = "";
  delete document.body.dataset.ready;
}

setUnauthorizedHandler(() => { signOut(); $("signin-error").textContent = "サインインし直してください（トークンが無効です）。"; });
$("signin-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  token.set($("token").value.trim());
  start();
});
$("signout").addEventListener("click", signOut);
for (const b of document.querySelectorAll(".tabs [role=tab]")) b.addEventListener("click", () => showView(b.dataset.view));
// ARIA tabs: arrow keys, Home and End move between tabs.
document.querySelector(".tabs").addEventListener("keydown", (ev) => {
  const i = VIEWS.indexOf(current);
  const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: VIEWS.length - 1 }[ev.key];
  if (next === undefined) return;
  ev.preventDefault();
  showView(VIEWS[(next + VIEWS.length) % VIEWS.length], true);
});
document.getElementById("facility-detail").addEventListener("facilityshown", writeHash);
window.addEventListener("hashchange", () => {
  if (!document.body.dataset.ready) return;
  const { view, facility } = readHash();
  if (facility && facility !== document.getElementById("facility-detail").dataset.facilityId) openFacility(facility);
  if (view !== current) showView(view);
});

if (token.get()) start();
else $("signin").hidden = false;
