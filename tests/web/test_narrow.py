"""The coordinators' page on a phone and at 200% zoom (issue 15 item 7): the map on the first screen
with the filters folded, the facility panel as a drawer that takes focus and gives it back, tables
that scroll sideways with their first column in view, a chart at a readable size, nothing that makes
the page scroll sideways, and axe-core clean in that layout."""

from __future__ import annotations

import pytest

from tests.web.harness import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from tests.web.harness import sign_in  # noqa: E402
from tests.web.test_e2e import api, click_facility  # noqa: E402
from tests.web.test_page_a11y import axe_violations, browser, new_page, server  # noqa: E402, F401

#: A phone (390 × 844 CSS px) and a 1280 × 900 screen at 200% zoom (640 × 450 CSS px).
SIZES = [(390, 844), (640, 450)]


def in_viewport(page, selector: str, width: int, height: int) -> bool:
    b = page.locator(selector).bounding_box()
    return b is not None and b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= width and b["y"] + b["height"] <= height


def no_sideways_page_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("size", SIZES, ids=["phone", "zoom200"])
def test_map_first_drawer_sticky_columns_and_axe(browser, server, size):  # noqa: F811
    width, height = size
    context, page, errors, outside = new_page(browser, server, width, height)
    try:
        sign_in(page, server, "muni03201")
        # The map starts on the first screen; the filters are folded above it and open on demand.
        assert page.evaluate("document.getElementById('filters').open") is False
        box = page.locator("#map").bounding_box()
        assert box["y"] < height / 2 and box["y"] + min(box["height"], 200) <= height, box
        no_sideways_page_scroll(page, width)
        page.click("#filters summary")
        assert page.is_visible("#filter-type")
        page.click("#filters summary")
        assert not page.is_visible("#facility-drawer")

        # Choosing a facility opens the drawer with its name in view and focus on it.
        f = api(server, "muni03201", "/facilities")[0]
        click_facility(page, f["facility_id"])
        page.wait_for_selector(f"#facility-drawer.open #detail-name:has-text('{f['name']}')")
        assert in_viewport(page, "#detail-name", width, height)
        assert page.evaluate("document.activeElement.id") == "detail-name"
        # The chosen facility stays visible on the map above the drawer.
        marker = page.locator(f"#map .leaflet-marker-icon[data-facility-id='{f['facility_id']}']").bounding_box()
        drawer_top = page.locator("#facility-drawer").bounding_box()["y"]
        assert marker and marker["y"] >= 0 and marker["y"] + marker["height"] <= drawer_top, (marker, drawer_top)
        found = {"drawer": axe_violations(page)}
        # Esc closes it and focus goes back to the facility's marker.
        page.keyboard.press("Escape")
        assert not page.is_visible("#facility-drawer")
        assert page.evaluate("document.activeElement.dataset.facilityId") == f["facility_id"]
        # By keyboard: Enter on the marker opens it again, the close button closes it.
        page.keyboard.press("Enter")
        page.wait_for_selector("#facility-drawer.open")
        assert page.evaluate("document.activeElement.id") == "detail-name"
        page.click("#drawer-close")
        assert not page.is_visible("#facility-drawer")
        assert page.evaluate("document.activeElement.dataset.facilityId") == f["facility_id"]

        # Tables scroll sideways inside their frame; the name column comes first and stays in view.
        page.click("button[data-view=lists]")
        no_sideways_page_scroll(page, width)
        wrap = page.locator("#list-facilities .table-wrap")
        assert page.eval_on_selector("#list-facilities .table-wrap", "w => w.scrollWidth > w.clientWidth")
        first = page.locator("#table-facilities tbody tr[data-facility-id]").first
        assert first.locator("th.sticky").inner_text() == api(server, "muni03201", "/facilities/" + first.get_attribute("data-facility-id"))["name"]
        assert page.eval_on_selector("#table-facilities thead th", "th => th.dataset.key") == "name"
        page.eval_on_selector("#list-facilities .table-wrap", "w => { w.scrollLeft = 300; }")
        frame, name = wrap.bounding_box(), first.locator("th.sticky").bounding_box()
        assert abs(name["x"] - frame["x"]) <= 2, (name, frame)  # still at the frame's left edge
        assert first.locator("td").first.bounding_box()["x"] < frame["x"]  # the other columns went under
        found["lists"] = axe_violations(page)

        page.click("button[data-view=workflow]")
        no_sideways_page_scroll(page, width)
        found["workflow"] = axe_violations(page)

        # The chart keeps its own size (text as drawn, not shrunk) and scrolls in a focusable frame.
        page.click("button[data-view=dashboard]")
        page.wait_for_selector("#chart-types rect.bar")
        no_sideways_page_scroll(page, width)
        drawn = page.eval_on_selector("#chart-types", "s => [s.getBoundingClientRect().width, +s.getAttribute('width')]")
        assert abs(drawn[0] - drawn[1]) < 1, drawn
        assert page.get_attribute("#chart-types >> xpath=..", "tabindex") == "0"
        found["dashboard"] = axe_violations(page)
        assert all(v == [] for v in found.values()), found
        assert errors == [] and outside == []
    finally:
        context.close()
