// Entry point: sign-in with the service's token (kept in sessionStorage), the four views, sign-out.
import { ApiError, setUnauthorizedHandler, token } from "./api.js";
import { loadDashboard, resetDashboard } from "./dashboard.js";
import { initLists, resetLists } from "./lists.js";
import { initMap, invalidate, resetMap, showFacility } from "./map.js";
import { USER_ROLES, loadSession, reset, store } from "./store.js";
import { showMessage } from "./util.js";
import { initWorkflow, resetWorkflow } from "./workflow.js";

const $ = (id) => document.getElementById(id);
const DETAIL_HINT = $("facility-detail").innerHTML;

function showView(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.view === name);
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${name}`;
  if (name === "map") invalidate();
  if (name === "dashboard") loadDashboard();
}

function openFacility(id) {
  showView("map");
  showFacility(id, true, true);
}

function areaText(me) {
  if (me.role === "admin") return "全域";
  if (me.role === "municipal") return me.municipalities.map((m) => m.municipality_name).join("・");
  return `都道府県コード${me.prefecture_code}・${me.municipalities.length}市区町村`;
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
  showView("map");
  initMap();
  initLists(openFacility);
  initWorkflow(openFacility);
  showMessage("");
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
for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showView(b.dataset.view));

if (token.get()) start();
else $("signin").hidden = false;
