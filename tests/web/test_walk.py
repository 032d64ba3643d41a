"""The whole walk of a coordinator on the page (issue 15 item 10), each step checked against the API:

* find a facility (一覧, search, Enter) → why (its missing roles and the alternatives, then the
  proposal's explanation) → run → contact (with the log) → accept → contract;
* record an institution's capacity → re-run: the full institution gets no new partner;
* a pair proposed by hand (item 3) → re-run: the run keeps it as a fixed pair and says so.

Decline → re-run with carry-over is ``test_e2e``, boundaries with no tile server ``test_page_a11y``,
the phone layout ``test_narrow``.  Each module has its own server on the demo region."""

from __future__ import annotations

import pytest

from tests.web.harness import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from tests.web.harness import sign_in  # noqa: E402
from tests.web.test_e2e import api  # noqa: E402
from tests.web.test_institution_details import put_institution  # noqa: E402
from tests.web.test_page_a11y import axe_violations, browser, new_page, server  # noqa: E402, F401

WHO = "muni03202"  # 宮古市


@pytest.fixture
def page(browser, server):  # noqa: F811
    context, pg, errors, outside = new_page(browser, server)
    yield pg
    context.close()
    assert outside == [], f"the page tried to reach other hosts: {outside[:5]}"
    assert errors == [], f"JavaScript errors: {errors}"


def run_from_page(page, server, who: str = WHO, scope: str | None = None) -> dict:  # noqa: F811
    page.click("button[data-view=workflow]")
    if scope is not None:
        page.select_option("#run-scope", scope)
    page.click("#run-start")
    page.wait_for_function("() => document.querySelector('#run-summary').dataset.state"
                           " && !document.querySelector('#run-start').disabled", timeout=120000)
    run = api(server, who, f"/runs/{int(page.get_attribute('#run-progress', 'data-run-id'))}")
    assert run["state"] == "done", run["message"]
    return run


def open_from_list(page, name: str) -> None:
    """Find a facility as a user would: 一覧, type part of its name, Enter on its row."""
    page.click("button[data-view=lists]")
    page.fill("#list-facilities input[type=search]", name)
    row = page.locator("#table-facilities tbody tr[data-facility-id]")
    row.first.wait_for()
    assert row.count() == 1
    row.first.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#detail-name:has-text('{name}')")


def covered_by_candidates(server, f: dict) -> bool:  # noqa: F811
    cands = api(server, WHO, f"/facilities/{f['facility_id']}/candidates")
    return all(any(c["role"] == r for c in cands) for r in f["missing_roles"])


def test_find_why_run_contact_accept_contract(page, server):  # noqa: F811
    facilities = api(server, WHO, "/facilities")
    f = next(f for f in facilities if f["missing_roles"] and f["reported"] and covered_by_candidates(server, f))
    sign_in(page, server, WHO)

    # Find it, and why: the roles it misses and who could take them, nearest first.
    open_from_list(page, f["name"])
    assert page.locator("#detail-missing .role.missing").count() == len(f["missing_roles"])
    page.wait_for_selector("#detail-alternatives table tbody tr")
    names = page.locator("#detail-alternatives tbody tr td:nth-child(2)").all_inner_texts()
    cands = api(server, WHO, f"/facilities/{f['facility_id']}/candidates?per_role=5")
    assert [n.startswith(c["institution_name"]) for n, c in zip(names, cands, strict=True)] == [True] * len(cands)

    # Run; the facility's panel shows the proposal with the run's explanation (why this partner).
    run = run_from_page(page, server)
    mine = [p for p in api(server, WHO, f"/runs/{run['id']}/proposals") if p["facility_id"] == f["facility_id"]]
    assert mine, "a facility with candidates for every missing role gets a proposal"
    p = mine[0]
    page.click("button[data-view=map]")
    card = f"#detail-proposals .proposal-card[data-proposal-id='{p['id']}']"
    page.wait_for_selector(f"{card}[data-state=proposed]")
    assert page.inner_text(f"{card} .explanation") == p["explanation"]

    # Contact (date, person, note), accept, contract — from the panel.
    page.click(f"{card} .act-contacted")
    page.fill("#confirm-fields input[name=person]", "地域連携室 田中")
    page.fill("#confirm-fields textarea[name=note]", "内諾、来週書面")
    page.click("#confirm-ok")
    page.wait_for_selector(f"{card}[data-state=contacted]")
    page.wait_for_selector(f"{card} .contacts:has-text('地域連携室 田中')")
    page.click(f"{card} .act-accepted")
    page.wait_for_selector(f"{card}[data-state=accepted]")
    page.click(f"{card} .act-contracted")
    assert "取り消せません" in page.inner_text("#confirm-body")
    page.click("#confirm-ok")
    page.wait_for_selector(f"{card}[data-state=contracted]")
    assert api(server, WHO, f"/proposals/{p['id']}")["state"] == "contracted"
    agreed = {a["institution_id"]: a["roles"] for a in api(server, WHO, f"/partnerships?facility_id={f['facility_id']}")}
    assert set(p["roles"].split(";")) <= set(agreed[p["institution_id"]].split(";"))
    # The facility's status follows: the agreement's slots are given by an agreement in force (a
    # part-time partner leaves ① ② missing until all four slots are given; ③ is then covered), on
    # the page too.
    after = api(server, WHO, f"/facilities/{f['facility_id']}")
    for role in p["roles"].split(";"):
        if role in after["slots"]:
            assert set(p["slots"][role]) <= set(after["slots"][role])
            assert (role in after["missing_roles"]) == (len(after["slots"][role]) < 4)
            for slot in p["slots"][role]:
                page.wait_for_selector(f"#detail-slots tr[data-role={role}] td[data-slot={slot}][data-cover=agreed]")
        else:
            assert role not in after["missing_roles"]
    page.wait_for_function("n => document.querySelectorAll('#detail-missing .role.missing').length === n",
                           arg=len(after["missing_roles"]))


def test_record_capacity_then_rerun(page, server):  # noqa: F811
    """Prefecture staff record that an institution is full (受入枠 0) from the panel; the re-run of the
    municipality proposes it as a new partner to nobody."""
    sign_in(page, server, "pref03")
    run = run_from_page(page, server, "pref03", scope="03202")
    props = api(server, "pref03", f"/runs/{run['id']}/proposals")
    p = next(p for p in props if p["state"] == "proposed" and not p["extends_existing"])
    iid = p["institution_id"]
    page.click("button[data-view=map]")
    page.goto(f"{server.url}/#view=map&facility={p['facility_id']}")
    card = f"#detail-proposals .proposal-card[data-proposal-id='{p['id']}']"
    page.wait_for_selector(card)
    page.locator(f"{card} .inst-details summary").click()
    page.locator(f"{card} button.act-capacity").click()
    page.fill("#confirm-dialog input[name=capacity_facilities]", "0")
    page.click("#confirm-ok")
    page.wait_for_selector("#message:has-text('受入枠（施設）を 0 にしました')")
    assert api(server, "pref03", f"/institutions/{iid}")["capacity_facilities"] == 0

    rerun = run_from_page(page, server, "pref03", scope="03202")
    assert rerun["id"] > run["id"]
    new = api(server, "pref03", f"/runs/{rerun['id']}/proposals")
    assert new and not any(q["institution_id"] == iid and not q["extends_existing"] for q in new)
    assert api(server, "pref03", f"/proposals/{p['id']}")["state"] == "superseded"
    put_institution(server, iid, capacity_facilities=None)  # as it was (blank), for the other tests


def test_a_pair_proposed_by_hand_is_kept_by_the_rerun(page, server):  # noqa: F811
    """From an alternative in the panel: 提案する asks first, saying that the pair is fixed through
    re-runs; the API stores it as a hand-made proposal; the re-run keeps it pinned, shows it among what
    it carried over, and proposes nobody else for its role; an untouched one can be withdrawn."""
    facilities = api(server, WHO, "/facilities")
    sign_in(page, server, WHO)
    for f in facilities:
        if not f["missing_roles"] or any(q["state"] in ("proposed", "contacted", "accepted")
                                         for q in api(server, WHO, f"/proposals?facility_id={f['facility_id']}")):
            continue
        cands = api(server, WHO, f"/facilities/{f['facility_id']}/candidates?per_role=5")
        # A person's choice: not the nearest candidate of the role, one further down the list.
        pick = next((c for c in cands if c["role"] in f["missing_roles"]
                     and any(d["role"] == c["role"] and d["minutes"] < c["minutes"] for d in cands)
                     and (c["spare_facilities"] is None or c["spare_facilities"] > 0)), None)
        if pick is not None:
            break
    else:
        raise AssertionError("no facility of 宮古市 with a second candidate for a missing role")
    page.goto(f"{server.url}/#view=map&facility={f['facility_id']}")
    button = f"#detail-alternatives button.act-propose[data-institution-id='{pick['institution_id']}'][data-role='{pick['role']}']"
    page.wait_for_selector(button)
    page.click(button)
    page.wait_for_selector("#confirm-dialog[open]")
    body = page.inner_text("#confirm-body")
    assert "固定" in body and "再実行" in body and "取り下げ" in body
    assert page.input_value("#confirm-dialog select[name=institution_id]") == pick["institution_id"]
    for role in f["missing_roles"]:
        assert page.is_checked(f"#confirm-dialog input[name={role}]") == (role == pick["role"])
    page.fill("#confirm-dialog textarea[name=note]", "院長と電話で内諾")
    assert axe_violations(page) == []
    page.click("#confirm-cancel")  # cancelled: nothing stored
    def manual_ones():
        return [q for q in api(server, WHO, f"/proposals?facility_id={f['facility_id']}") if q["origin"] == "manual"]
    assert manual_ones() == []
    page.click(button)
    page.click("#confirm-ok")
    page.wait_for_selector("#message:has-text('再実行しても固定して引き継ぎます')")
    mine = manual_ones()
    assert [(q["origin"], q["institution_id"], q["roles"], q["run_id"]) for q in mine] == [
        ("manual", pick["institution_id"], pick["role"], None)]
    manual = mine[0]
    card = f"#detail-proposals .proposal-card[data-proposal-id='{manual['id']}']"
    page.wait_for_selector(f"{card} .origin-manual:has-text('手動で提案（固定）')")
    assert page.locator(f"{card} .act-withdraw").count() == 1

    run = run_from_page(page, server)
    assert api(server, WHO, f"/proposals/{manual['id']}")["state"] == "proposed"
    carried = {c["proposal_id"]: c for c in run["summary"]["carried_over"]}
    assert carried[manual["id"]]["pinned"] is True
    assert "手動・固定" in page.inner_text(f"#run-carried li[data-proposal-id='{manual['id']}']")
    new = [q for q in api(server, WHO, f"/runs/{run['id']}/proposals") if q["facility_id"] == f["facility_id"]]
    assert not any(pick["role"] in q["roles"].split(";") for q in new)
    row = f"#table-proposals tr[data-proposal-id='{manual['id']}']"
    assert "手動（固定）" in page.inner_text(row)

    # Withdrawn (it was never acted on): asked first, then gone, audited by the API.
    page.click(f"{row} .act-withdraw")
    assert "監査記録" in page.inner_text("#confirm-body")
    page.click("#confirm-ok")
    page.wait_for_selector("#message:has-text('取り下げ')")
    assert "取り下げました" in page.inner_text("#message"), page.inner_text("#message")
    page.wait_for_selector(row, state="detached")
    assert manual_ones() == []
