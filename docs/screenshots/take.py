"""Screenshots of the coordinators' page on the demo region, for the README.

    .venv/bin/python docs/screenshots/take.py      # writes docs/screenshots/map.png, dashboard.png

Starts the service on a temporary database with data/demo (map tiles off: offline, plain
background), signs in as prefecture staff, runs the matching from the page, opens a facility and
takes the map, then the status dashboard.  Needs Debian's chromium (/usr/bin/chromium) and a
Japanese font (e.g. fonts-ipafont-gothic) for readable labels.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.web.harness import launch, serve, sign_in  # noqa: E402

USERS = {"pref03": ("岩手県長寿社会課", "prefecture", "03", None)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(REPO / "data" / "demo", Path(tmp), USERS) as srv, \
            sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        sign_in(page, srv, "pref03")
        page.click("button[data-view=workflow]")
        page.click("#run-start")
        page.wait_for_selector("#run-summary[data-state=done]", timeout=120000)
        # Open a facility with proposals from the list: the map shows its panel (missing roles,
        # proposals with travel time and explanation, alternatives).
        page.click("#table-proposals tbody tr[data-facility-id] td:nth-child(2)")
        page.wait_for_selector("#detail-alternatives table")
        page.evaluate("document.getElementById('message').textContent = ''")
        page.mouse.move(0, 0)
        page.wait_for_timeout(300)
        page.screenshot(path=str(HERE / "map.png"))
        page.click("button[data-view=dashboard]")
        page.wait_for_selector("#chart-municipalities")
        page.wait_for_timeout(300)
        page.screenshot(path=str(HERE / "dashboard.png"), full_page=True)
        browser.close()
    print(f"wrote {HERE / 'map.png'} and {HERE / 'dashboard.png'}")


if __name__ == "__main__":
    main()
