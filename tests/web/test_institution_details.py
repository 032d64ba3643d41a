"""Institution details wherever an institution is named on the page (issue 15 item 4): contact person,
phone and survey date from the intention survey, the address (所在地, from the open data; 未登録 when the
file has none), whether the point is approximate (a municipal office, with its radius), and spare
capacity with its meaning (0 = 満杯, blank = 未回答).  Each fact is checked against what the API returns."""

from __future__ import annotations

import pytest

from tests.web.harness import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from tests.web.harness import sign_in  # noqa: E402
from tests.web.test_e2e import api, click_facility  # noqa: E402
from tests.web.test_page_a11y import axe_violations, browser, new_page, server  # noqa: E402, F401


def put_institution(srv, iid: str, **changes) -> dict:
    """PUT the institution back as read, with ``changes`` (prefecture staff may edit institutions)."""
    body = {k: v for k, v in api(srv, "pref03", f"/institutions/{iid}").items()
            if k not in ("institution_id", "municipality_code", "reserved_facilities", "reserved_residents")}
    body["designations"] = [d for d in body["designations"].split(";") if d]
    body.update(changes)
    return api(srv, "pref03", f"/institutions/{iid}", method="PUT", json=body)


def test_the_panel_shows_each_institution_fact_from_the_api(browser, server):  # noqa: F811
    g = next(g for g in api(server, "muni03201", "/facilities") if len(g["partners"]) >= 1)
    iid = g["partners"][0]
    saved = put_institution(server, iid, contact_name="岩手 花子", contact_phone="0193-62-2111",
                            survey_date="2025-07-01", location_source="office", location_radius_km=3.5,
                            capacity_facilities=0, accepting=True, address="岩手県宮古市新川町2-1")
    assert saved["reserved_facilities"] == 0  # so that spare = capacity = 0 (満杯)
    context, page, errors, outside = new_page(browser, server)
    try:
        sign_in(page, server, "muni03201")
        click_facility(page, g["facility_id"])
        box = page.locator(f"#detail-partners .inst-details[data-institution-id='{iid}']")
        box.wait_for()
        box.locator("summary").click()
        fact = lambda k: box.locator(f"dd[data-fact={k}]").inner_text()  # noqa: E731
        assert fact("spare") == "0（満杯）"
        assert fact("location") == "市区町村役場で近似（誤差半径 約3.5km）"
        assert fact("contact_name") == "岩手 花子"
        assert fact("contact_phone") == "0193-62-2111"
        assert box.locator("dd[data-fact=contact_phone] a").get_attribute("href") == "tel:0193622111"
        assert fact("survey_date") == "2025-07-01"
        assert fact("accepting") == "受入可"
        assert fact("address") == "岩手県宮古市新川町2-1"
        assert page.locator("#detail-address").inner_text() == (api(server, "muni03201", f"/facilities/{g['facility_id']}")
                                                                .get("address") or "未登録")
        assert axe_violations(page) == []

        # Blank capacity reads 未回答 with how matching treats it; an unsurveyed institution says 未回答.
        page.click("button[data-view=lists]")
        rows = {i["institution_id"]: i for i in api(server, "muni03201", "/institutions?limit=10000")}
        blank = next(i for i, r in rows.items() if r["capacity_facilities"] is None and not r["contact_name"])
        row = page.locator(f"#table-institutions tr[data-institution-id='{blank}']")
        cells = dict(zip(page.eval_on_selector_all("#table-institutions thead th", "ths => ths.map(t => t.dataset.key)"),
                         row.locator("th, td").all_inner_texts(), strict=True))
        assert cells["spare"] == "未回答（上限なしとして扱う）"
        assert cells["location"] == "元データの座標"
        mine = page.locator(f"#table-institutions tr[data-institution-id='{iid}']")
        cells = dict(zip(page.eval_on_selector_all("#table-institutions thead th", "ths => ths.map(t => t.dataset.key)"),
                         mine.locator("th, td").all_inner_texts(), strict=True))
        assert cells["spare"] == "0（満杯）" and cells["survey_date"] == "2025-07-01"
        assert cells["location"] == "市区町村役場で近似（誤差半径 約3.5km）"
        assert errors == [] and outside == []
    finally:
        context.close()


def test_record_capacity_and_an_outside_agreement_from_the_page_with_confirmation(browser, server):  # noqa: F811
    """From explanation to action (issue 15 item 3): prefecture staff record an institution's new
    capacity (PUT /institutions) and a coordinator records an agreement made outside the tool (POST
    /partnerships, as_signed), each after a confirmation, with the API's scope rules."""
    g = next(g for g in api(server, "muni03201", "/facilities") if g["partners"] and g["missing_roles"])
    iid = g["partners"][0]
    context, page, errors, outside = new_page(browser, server)
    try:
        sign_in(page, server, "pref03")
        click_facility(page, g["facility_id"])
        box = page.locator(f"#detail-partners .inst-details[data-institution-id='{iid}']")
        box.wait_for()
        box.locator("summary").click()
        box.locator("button.act-capacity").click()
        page.wait_for_selector("#confirm-dialog[open]")
        assert "受入枠の記録" in page.inner_text("#confirm-title")
        page.fill("#confirm-dialog input[name=capacity_facilities]", "4")
        page.click("#confirm-ok")
        page.wait_for_selector("#message:has-text('受入枠（施設）を 4 にしました')")
        assert api(server, "pref03", f"/institutions/{iid}")["capacity_facilities"] == 4
        context.close()

        # A coordinator reads institutions but does not edit them: no capacity button for them.
        context, page, errors, outside = new_page(browser, server)
        sign_in(page, server, "muni03201")
        click_facility(page, g["facility_id"])
        page.locator(f"#detail-partners .inst-details[data-institution-id='{iid}']").wait_for()
        assert page.locator("#facility-detail button.act-capacity").count() == 0
        # … and records an agreement the facility made outside the tool, with its roles.
        partners = {p["institution_id"] for p in api(server, "muni03201", f"/partnerships?facility_id={g['facility_id']}")}
        other = next(i for i in api(server, "muni03201", "/institutions?limit=10000")
                     if i["institution_id"] not in partners and i["kind"] == "clinic")
        page.click("#record-agreement")
        page.wait_for_selector("#confirm-dialog[open]")
        page.click("#confirm-cancel")  # cancelled: nothing recorded
        assert len(api(server, "muni03201", f"/partnerships?facility_id={g['facility_id']}")) == len(partners)
        page.click("#record-agreement")
        page.select_option("#confirm-dialog select[name=institution_id]", other["institution_id"])
        for code in ("consult", "visit", "admit"):
            page.set_checked(f"#confirm-dialog input[name={code}]", code == "consult")
        assert axe_violations(page) == []
        page.click("#confirm-ok")
        page.wait_for_selector("#message:has-text('協定（①）を記録しました')")
        rows = api(server, "muni03201", f"/partnerships?facility_id={g['facility_id']}")
        assert [r["roles"] for r in rows if r["institution_id"] == other["institution_id"]] == ["consult"]
        page.wait_for_selector(f"#detail-partners:has-text('{other['name']}')")
        assert errors == [] and outside == []
    finally:
        context.close()
