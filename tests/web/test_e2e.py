"""The coordinators' web page in a real browser (headless Chromium via Playwright), against the
service started with uvicorn on the demo region, map tiles disabled (offline).

The page must only use the JSON API with the user's token, so every assertion about what a user
sees is checked against what the API returns for the same token.  Skipped where Debian's
``chromium`` is not installed (developer machines); ``.ci/run`` installs it and sets
MATCHING_REQUIRE_ALL=1, so in CI a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.required import missing
from tests.web.harness import CHROMIUM

if not CHROMIUM.exists():
    missing(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the "
            "browser tests; .ci/run does", module=True)
try:
    from playwright import sync_api
except ImportError:
    missing("playwright is not installed (pip install -e '.[dev]')", module=True)

from tests.web.harness import launch, serve, sign_in  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
USERS = {
    "pref03": ("岩手県長寿社会課", "prefecture", "03", None),
    "muni03201": ("盛岡市在宅医療介護連携拠点", "municipal", None, "03201"),
    "muni03202": ("宮古市在宅医療介護連携拠点", "municipal", None, "03202"),
}


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory() as tmp, serve(DEMO, Path(tmp), USERS) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh browser context; any request that leaves the service fails the test (offline page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    outside, errors = [], []
    host = urlparse(server.url).netloc

    def route(r):
        if urlparse(r.request.url).netloc == host or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.set_default_timeout(20000)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert outside == [], f"the page tried to reach other hosts: {outside[:5]}"
    assert errors == [], f"JavaScript errors: {errors}"


def api(server, who: str, path: str, method: str = "GET", **kw):
    r = httpx.request(method, server.url + path, headers={"Authorization": f"Bearer {server.tokens[who]}"}, timeout=30, **kw)
    r.raise_for_status()
    return r.json()


MARKERS_JS = """() => [...document.querySelectorAll('#map .facility-marker[data-facility-id]')].map(e => e.dataset.facilityId)
    .concat([...document.querySelectorAll('#map .facility-cluster [data-facility-ids]')].flatMap(e => e.dataset.facilityIds.split(' ')))"""


def markers(page) -> set[str]:
    """The facilities on the map: single markers and those inside clusters."""
    return set(page.evaluate(MARKERS_JS))


def wait_markers(page, n: int) -> None:
    page.wait_for_function(f"n => ({MARKERS_JS})().length === n", arg=n)


def click_facility(page, fid: str, keyboard: bool = False) -> None:
    """Open a facility on the map as a user would: into its cluster until its marker shows, then a
    click on it (or Tab focus and Enter)."""
    for _ in range(10):
        m = page.locator(f"#map .leaflet-marker-icon[data-facility-id='{fid}']")
        if m.count():
            if keyboard:
                m.focus()
                page.keyboard.press("Enter")
            else:
                m.dispatch_event("click")
            return
        # The first map of a page that just loaded waits for the facilities and their status: on a
        # loaded CI machine (the suite on both cores) that took over the default 20 s once.
        page.locator(f"#map .facility-cluster:has([data-facility-ids~='{fid}'])").first.dispatch_event(
            "click", timeout=60_000)
        page.wait_for_timeout(600)
    raise AssertionError(f"marker {fid} never showed")


def test_sign_in_is_kept_for_the_tab_and_sign_out_forgets_it(page, server):
    page.goto(server.url + "/")
    page.fill("#token", "mt_not-a-token")
    page.click("#signin-button")
    page.wait_for_selector("#signin-error:has-text('無効')")
    assert page.is_visible("#signin") and page.is_hidden("#app")

    sign_in(page, server, "muni03201")
    assert "盛岡市" in page.inner_text("#who-name")
    assert page.evaluate("sessionStorage.getItem('matching.token')") == server.tokens["muni03201"]
    page.reload()
    page.wait_for_selector("body[data-ready=true]")  # still signed in after a reload
    page.click("#signout")
    assert page.is_visible("#signin") and page.is_hidden("#app")
    assert page.evaluate("sessionStorage.getItem('matching.token')") is None
    # Signing out right after a reload removed the map during its zoom animation and Leaflet threw
    # "_leaflet_pos" from a timer: the map is now retired off the page. Sign in again on the same
    # page: a new map is drawn, and no error comes once the old one is removed (after 1 s).
    page.fill("#token", server.tokens["muni03201"])
    page.click("#signin-button")
    page.wait_for_selector("body[data-ready=true]")
    wait_markers(page, len(api(server, "muni03201", "/facilities?limit=10000")))
    page.wait_for_timeout(1500)


def test_map_draws_the_area_offline_and_filters_change_the_markers(page, server):
    sign_in(page, server, "pref03")
    everything = {f["facility_id"] for f in api(server, "pref03", "/facilities?limit=10000")}
    wait_markers(page, len(everything))
    assert markers(page) == everything
    assert page.locator(".leaflet-tile").count() == 0  # no tiles configured: the boundaries are the base map
    assert page.locator("#map .inst-icon").count() == len(api(server, "pref03", "/institutions?limit=10000"))

    page.select_option("#filter-type", "tokuyo")
    tokuyo = {f["facility_id"] for f in api(server, "pref03", "/facilities?facility_type=tokuyo")}
    wait_markers(page, len(tokuyo))
    assert markers(page) == tokuyo and 0 < len(tokuyo) < len(everything)

    page.select_option("#filter-status", "all_met")
    both = {f["facility_id"] for f in api(server, "pref03", "/facilities?facility_type=tokuyo&status=all_met")}
    wait_markers(page, len(both))
    assert markers(page) == both and len(both) < len(tokuyo)

    page.select_option("#filter-type", "")
    page.select_option("#filter-status", "")
    page.select_option("#filter-municipality", "03202")
    miyako = {f["facility_id"] for f in api(server, "pref03", "/facilities?municipality_code=03202")}
    wait_markers(page, len(miyako))
    assert markers(page) == miyako
    assert f"{len(miyako)}件" in page.inner_text("#map-count")


def test_clicking_a_facility_shows_its_roles_partners_and_alternatives(page, server):
    sign_in(page, server, "muni03201")
    f = next(f for f in api(server, "muni03201", "/facilities") if len(f["missing_roles"]) == 3)
    click_facility(page, f["facility_id"])
    page.wait_for_selector(f"#detail-name:has-text('{f['name']}')")
    missing = page.inner_text("#detail-missing")
    for label in ("①相談対応（常時）", "②診療（往診・常時）", "③入院受入れ"):
        assert label in missing
    assert page.locator("#detail-missing .role.missing").count() == 3
    page.wait_for_selector("#detail-alternatives table")  # the nearest candidates for each missing role
    page.wait_for_selector("#detail-partners li")
    assert "null" not in page.inner_text("#facility-detail")  # a missing part is left out, not written

    # A facility with partners lists them by name.
    g = next(g for g in api(server, "muni03201", "/facilities") if g["partners"] and g["missing_roles"])
    click_facility(page, g["facility_id"], keyboard=True)  # Tab to the marker, Enter
    names = {i["institution_id"]: i["name"] for i in api(server, "muni03201", "/institutions?limit=10000")}
    page.wait_for_selector(f"#detail-partners:has-text('{names[g['partners'][0]]}')")


def test_the_partner_panel_shows_whom_to_call_with_a_tel_link(page, server):
    """Contacts from the intention survey (issue 15 item 4): the institution's person and phone."""
    g = next(g for g in api(server, "muni03201", "/facilities") if g["partners"])
    iid = g["partners"][0]
    body = {k: v for k, v in api(server, "pref03", f"/institutions/{iid}").items()
            if k not in ("institution_id", "municipality_code", "reserved_facilities", "reserved_residents")}
    body["designations"] = [d for d in body["designations"].split(";") if d]
    body.update(contact_name="岩手 太郎", contact_phone="019-651-4111 内線 12", survey_date="2025-06-01")
    api(server, "pref03", f"/institutions/{iid}", method="PUT", json=body)
    sign_in(page, server, "muni03201")
    click_facility(page, g["facility_id"])
    link = page.locator(f"#detail-partners .inst-contact[data-institution-id='{iid}'] a")
    link.wait_for()
    assert link.get_attribute("href") == "tel:0196514111" and link.inner_text() == "019-651-4111 内線 12"
    assert "岩手 太郎" in page.inner_text("#detail-partners")
    # An institution nobody surveyed shows no contact line (and no "null").
    others = [i for i in g["partners"][1:] if not api(server, "muni03201", f"/institutions/{i}")["contact_name"]]
    for other in others:
        assert page.locator(f"#detail-partners .inst-contact[data-institution-id='{other}']").count() == 0
    assert "null" not in page.inner_text("#facility-detail")


def test_facility_list_is_searchable_sortable_and_downloadable(page, server):
    sign_in(page, server, "muni03201")
    page.click("button[data-view=lists]")
    lacking = api(server, "muni03201", "/facilities")  # all facilities (the name is historical)
    rows = page.locator("#table-facilities tbody tr[data-facility-id]")
    assert rows.count() == len(lacking)
    page.click("#table-facilities th[data-key=residents] button")
    page.focus("#table-facilities th[data-key=residents] button")
    page.keyboard.press("Enter")  # descending, by keyboard
    assert page.get_attribute("#table-facilities th[data-key=residents]", "aria-sort") == "descending"
    top = max(lacking, key=lambda f: f["residents"] or 0)
    assert rows.first.get_attribute("data-facility-id") in {f["facility_id"] for f in lacking
                                                             if f["residents"] == top["residents"]}
    page.fill("#list-facilities input[type=search]", "グループホーム")
    assert 0 < rows.count() < len(lacking)
    with page.expect_download() as d:
        page.click("#list-facilities button.csv")
    text = Path(d.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["施設ID", "施設名", "施設種別"] and len(table) - 1 == rows.count()
    assert all(r[2] == "認知症対応型共同生活介護" for r in table[1:])
    # Column filters: the status column's values; the rows are exactly the API's.
    page.fill("#list-facilities input[type=search]", "")
    page.select_option("#list-facilities select[data-filter=status]", "全ての要件を満たした協力医療機関を定めている")
    met = {f["facility_id"] for f in lacking if f["status"] == "all_met"}
    assert set(page.eval_on_selector_all("#table-facilities tbody tr[data-facility-id]", "els => els.map(e => e.dataset.facilityId)")) == met
    # A row opens by keyboard: the map with the facility's panel, and the URL names it.
    first = page.locator("#table-facilities tbody tr[data-facility-id]").first
    fid = first.get_attribute("data-facility-id")
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#facility-detail[data-facility-id='{fid}']")
    assert f"facility={fid}" in page.url and "view=map" in page.url


def test_run_accept_decline_and_rerun_for_the_declined_facility(page, server):
    who = "muni03201"
    sign_in(page, server, who)
    page.click("button[data-view=workflow]")
    page.click("#run-start")
    page.wait_for_selector("#run-summary[data-state=done]", timeout=60000)
    assert page.inner_text("#run-message") == "完了"
    run_id = int(page.get_attribute("#run-progress", "data-run-id"))
    proposals = api(server, who, f"/runs/{run_id}/proposals")
    assert proposals and page.locator("#table-proposals tbody tr[data-proposal-id]").count() == len(proposals)
    assert "null" not in page.inner_text("#run-carried")  # nothing carried: said, without a stray "null"

    # Decline one whose facility has other candidates for its roles, accept one of another facility.
    def has_alternatives(p):
        cands = api(server, who, f"/facilities/{p['facility_id']}/candidates")
        return all(any(c["role"] == r and c["institution_id"] != p["institution_id"] for c in cands)
                   for r in p["roles"].split(";"))
    declined = next(p for p in proposals if has_alternatives(p))
    accepted = next(p for p in proposals if p["facility_id"] != declined["facility_id"])

    page.click(f"#table-proposals tr[data-proposal-id='{accepted['id']}'] .act-accepted")
    page.wait_for_selector(f"#table-proposals tr[data-proposal-id='{accepted['id']}'][data-state=accepted]")
    assert api(server, who, f"/proposals/{accepted['id']}")["state"] == "accepted"

    row = f"#table-proposals tr[data-proposal-id='{declined['id']}']"
    page.click(f"{row} .act-declined")  # asks first, saying what will happen
    page.wait_for_selector("#confirm-dialog[open]")
    assert "今後のマッチングで提案されません" in page.inner_text("#confirm-body")
    page.click("#confirm-cancel")  # cancelled: nothing changes
    assert api(server, who, f"/proposals/{declined['id']}")["state"] == "proposed"
    page.click(f"{row} .act-declined")
    page.click("#confirm-ok")  # no reason: refused in the dialog
    page.wait_for_selector("#confirm-error:has-text('辞退理由')")
    page.fill("#confirm-fields input[name=reason]", "夜間対応が困難")
    page.click("#confirm-ok")
    page.wait_for_selector(row, state="detached")  # left the open list
    got = api(server, who, f"/proposals/{declined['id']}")
    assert (got["state"], got["decline_reason"]) == ("declined", "夜間対応が困難")

    page.click("#run-declined")
    page.wait_for_selector("#run-summary[data-state=done]", timeout=60000)
    rerun = int(page.get_attribute("#run-progress", "data-run-id"))
    # The re-run shows what it carried over (the accepted proposal), as the run's summary says.
    carried = api(server, who, f"/runs/{rerun}")["summary"]["carried_over"]
    assert int(page.get_attribute("#run-carried", "data-count")) == len(carried)
    for c in carried:
        assert page.locator(f"#run-carried li[data-proposal-id='{c['proposal_id']}']").count() == 1
    assert rerun > run_id and api(server, who, f"/runs/{rerun}")["facility_ids"] == [declined["facility_id"]]
    new = [p for p in api(server, who, f"/runs/{rerun}/proposals") if p["facility_id"] == declined["facility_id"]]
    assert new and all(p["institution_id"] != declined["institution_id"] for p in new)
    page.wait_for_selector(f"#table-proposals tr[data-proposal-id='{new[0]['id']}'][data-facility-id='{declined['facility_id']}']")
    # The accepted proposal is kept by the re-run; the map shows its line.
    assert api(server, who, f"/proposals/{accepted['id']}")["state"] == "accepted"
    page.click("button[data-view=map]")
    assert page.locator("path.proposal-line.state-accepted").count() >= 1
    # The facility's panel shows the declined proposal with its reason and the new one.
    click_facility(page, declined["facility_id"])
    page.wait_for_selector(f"#detail-proposals [data-proposal-id='{declined['id']}']:has-text('夜間対応が困難')")
    page.wait_for_selector(f"#detail-proposals [data-proposal-id='{new[0]['id']}'][data-state=proposed]")


def test_a_coordinator_cannot_see_another_municipalitys_facilities(page, server):
    morioka = {f["facility_id"] for f in api(server, "muni03201", "/facilities")}
    miyako = {f["facility_id"] for f in api(server, "muni03202", "/facilities")}
    sign_in(page, server, "muni03202")
    wait_markers(page, len(miyako))
    assert markers(page) == miyako and not markers(page) & morioka
    assert [o for o in page.eval_on_selector_all("#filter-municipality option", "els => els.map(e => e.value)") if o] == ["03202"]
    page.click("button[data-view=lists]")
    page.wait_for_selector("#table-facilities tbody tr[data-facility-id]")
    listed = set(page.eval_on_selector_all("#table-facilities tbody tr[data-facility-id]", "els => els.map(e => e.dataset.facilityId)"))
    assert listed and listed <= miyako and not listed & morioka
    page.fill("#list-facilities input[type=search]", "盛岡市")
    assert page.locator("#table-facilities tbody tr[data-facility-id]").count() == 0
    page.click("button[data-view=workflow]")
    page.select_option("#proposal-state", "all")
    shown = set(page.eval_on_selector_all("#table-proposals tbody tr[data-facility-id]", "els => els.map(e => e.dataset.facilityId)"))
    assert not shown & morioka  # Morioka's proposals (from the run above, if any) are not listed


def test_dashboard_shows_the_status_table_chart_and_csv(page, server):
    sign_in(page, server, "pref03")
    page.click("button[data-view=dashboard]")
    page.wait_for_selector("#chart-types rect.bar")
    rows = api(server, "pref03", "/status?by=municipality&by_type=true")
    assert page.locator("#table-status tbody tr").count() == len(rows)
    assert page.locator("#chart-municipalities text").count() > 33
    with page.expect_download() as d:
        page.click("#download-status")
    table = list(csv.reader(io.StringIO(Path(d.value.path()).read_text(encoding="utf-8-sig"))))
    assert "全ての要件を満たした協力医療機関を定めている" in table[0] and "集計していない" in table[0]
    assert len(table) - 1 == len(rows)
    assert sum(int(r[table[0].index("合計")]) for r in table[1:]) == len(api(server, "pref03", "/facilities?limit=10000"))
    # The meeting workbook (matching.reports) through the scoped API route.
    with page.expect_download(timeout=60000) as d:
        page.click("#download-workbook")
    assert d.value.suggested_filename == f"協力医療機関_会議資料_岩手県_{date.today():%Y%m%d}.xlsx"  # area and date
    from openpyxl import load_workbook

    from matching.reports import SHEETS
    assert SHEETS["summary"] in load_workbook(io.BytesIO(Path(d.value.path()).read_bytes())).sheetnames


def test_unproven_run_shows_the_warning(browser):
    """A solver time limit far too short: the page shows the run's warning, word for word."""
    with tempfile.TemporaryDirectory() as tmp, serve(DEMO, Path(tmp), USERS, stage_time_limit=0.0001) as srv:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        sign_in(page, srv, "pref03")
        page.click("button[data-view=workflow]")
        page.click("#run-start")
        page.wait_for_selector("#run-summary[data-state=done]", timeout=60000)
        run_id = int(page.get_attribute("#run-progress", "data-run-id"))
        warnings = api(srv, "pref03", f"/runs/{run_id}")["summary"]["warnings"]
        assert warnings
        shown = page.locator("#run-warnings li.warning").all_inner_texts()
        assert shown == [f"警告：{w}" for w in warnings]
        context.close()
