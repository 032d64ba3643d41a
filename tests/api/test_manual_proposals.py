"""A pair proposed by hand (issue 15 item 3): POST /proposals stores it (origin manual, no run), with
the scope rules of the other writes and Japanese refusals; every later run keeps it as a pinned pair
while it is open; it moves like any proposal; an untouched one can be withdrawn.  Audited.  Runs on
SQLite and PostgreSQL (the ``loaded`` fixture)."""

from __future__ import annotations

import re

import pytest

from tests.api.test_security import _put_capacity
from tests.api.test_workflow import move, run

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def propose(client, users, who="muni03201", **body):
    return client.post("/proposals", json=body, headers=users.headers(who))


def audit(client, users, pid):
    return client.get("/audit", params={"entity": "proposal", "entity_id": str(pid)},
                      headers=users.headers("admin")).json()


def test_a_pair_proposed_by_hand_is_stored_audited_and_kept_pinned_by_every_later_run(loaded, users):
    r = propose(loaded, users, facility_id="F1", institution_id="Z2", roles=["admit"], note="院長と電話で内諾")
    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["origin"], p["run_id"], p["state"], p["roles"]) == ("manual", None, "proposed", "admit")
    assert "手動" in p["explanation"] and "院長と電話で内諾" in p["explanation"]
    assert p["distance_km"] > 0 and p["travel_minutes"] > 0
    assert p["slots"] == {"consult": [], "visit": []}  # ③ only: no slotted role
    log = audit(loaded, users, p["id"])
    assert [e["action"] for e in log] == ["proposal_manual"] and log[0]["after"]["origin"] == "manual"
    h = users.headers("muni03201")
    assert [q["id"] for q in loaded.get("/proposals?facility_id=F1", headers=h).json()] == [p["id"]]

    for _ in range(2):  # a first run and a re-run
        done = run(loaded, users, who="muni03201")
        assert loaded.get(f"/proposals/{p['id']}", headers=h).json()["state"] == "proposed"  # never superseded
        carried = {c["proposal_id"]: c for c in done["summary"]["carried_over"]}
        assert carried[p["id"]]["pinned"] is True and carried[p["id"]]["origin"] == "manual"
        new = loaded.get(f"/runs/{done['id']}/proposals", headers=h).json()
        f1 = [q for q in new if q["facility_id"] == "F1"]
        assert f1, "F1 still misses ① and ②: the run proposes them"
        # ③ stays with the hand-made pair: no other institution is proposed for it, and the pair is
        # not proposed again for ③.
        assert not any("admit" in q["roles"].split(";") for q in f1)
        assert "引き継ぎ" in done["message"]

    # It moves like any proposal: contacted → accepted → contracted writes the agreement.
    for state in ("contacted", "accepted", "contracted"):
        assert move(loaded, users, p["id"], state, who="muni03201").status_code == 200, state
    rows = loaded.get("/partnerships?facility_id=F1", headers=h).json()
    assert [r["roles"] for r in rows if r["institution_id"] == "Z2"] == ["admit"]


def test_the_institution_may_be_across_the_prefecture_border_and_beyond_the_travel_limits(loaded, users):
    """The run takes every institution in the database (広域); a hand-made pin is not bound by the
    travel limits — the explanation says so, and the run keeps it (the verifier accepts a pin)."""
    r = propose(loaded, users, facility_id="F1", institution_id="AZ", roles=["admit"])
    assert r.status_code == 201, r.text
    p = r.json()
    assert "移動上限を超えます" in p["explanation"] and p["distance_km"] > 40
    done = run(loaded, users, who="muni03201")
    assert {c["proposal_id"]: c["pinned"] for c in done["summary"]["carried_over"]}[p["id"]] is True
    new = loaded.get(f"/runs/{done['id']}/proposals", headers=users.headers("muni03201")).json()
    assert not any(q["facility_id"] == "F1" and "admit" in q["roles"].split(";") for q in new)


def test_refusals_follow_the_scope_rules_and_read_in_japanese(loaded, users):
    def refused(status, who="muni03201", **body):
        r = propose(loaded, users, who=who, **body)
        assert r.status_code == status, (body, r.text)
        detail = r.json()["detail"]
        if status != 422:  # (422s are the shared body checks, which the page words by pattern)
            assert JAPANESE.search(detail), detail
        return detail

    refused(403, facility_id="W1", institution_id="H3", roles=["admit"])  # 滝沢市's facility
    refused(403, who="pref05", facility_id="F1", institution_id="Z2", roles=["admit"])  # another prefecture
    refused(422, facility_id="F1", institution_id="NOPE", roles=["admit"])
    refused(422, facility_id="F1", institution_id="Z2", roles=[])
    refused(422, facility_id="F1", institution_id="Z2", roles=["surgery"])
    refused(422, facility_id="F1", institution_id="C1", roles=["admit"])  # a clinic never admits
    refused(409, facility_id="F2", institution_id="Z2", roles=["consult"])  # F2 has ① from C1 already
    refused(409, facility_id="F3", institution_id="Z2", roles=["admit"])  # a group home needs no ③
    assert propose(loaded, users, facility_id="F1", institution_id="Z2", roles=["admit"]).status_code == 201
    refused(409, facility_id="F1", institution_id="Z2", roles=["consult"])  # the pair has an open proposal
    refused(409, facility_id="F1", institution_id="Z1", roles=["admit"])  # ③ is held by the pin on Z2
    # A declined pair is never proposed again, by hand either.
    done = run(loaded, users, who="muni03201")
    declined = next(q for q in loaded.get(f"/runs/{done['id']}/proposals", headers=users.headers("muni03201")).json()
                    if q["facility_id"] == "F3")
    assert move(loaded, users, declined["id"], "declined", reason="夜間対応が困難", who="muni03201").status_code == 200
    roles = declined["roles"].split(";")
    refused(409, facility_id="F3", institution_id=declined["institution_id"], roles=roles)
    # An institution with no room for a new partner.
    _put_capacity(loaded, users, "Z1", capacity_facilities=0)
    refused(409, facility_id="F3", institution_id="Z1", roles=["consult"])


def test_an_untouched_hand_made_proposal_can_be_withdrawn_audited(loaded, users):
    h = users.headers("muni03201")
    p = propose(loaded, users, facility_id="F1", institution_id="Z2", roles=["admit"]).json()
    assert loaded.delete(f"/proposals/{p['id']}", headers=users.headers("muni03216")).status_code == 403
    assert loaded.delete(f"/proposals/{p['id']}", headers=h).status_code == 204
    assert loaded.get(f"/proposals/{p['id']}", headers=h).status_code == 404
    log = audit(loaded, users, p["id"])
    assert log[0]["action"] == "proposal_withdrawn" and log[0]["before"]["origin"] == "manual"
    # Acted on, or made by a run: not withdrawn (declined or taken back instead).
    q = propose(loaded, users, facility_id="F1", institution_id="Z2", roles=["admit"]).json()
    assert move(loaded, users, q["id"], "contacted", who="muni03201").status_code == 200
    assert loaded.delete(f"/proposals/{q['id']}", headers=h).status_code == 409
    done = run(loaded, users, who="muni03201")
    by_run = loaded.get(f"/runs/{done['id']}/proposals", headers=h).json()[0]
    r = loaded.delete(f"/proposals/{by_run['id']}", headers=h)
    assert r.status_code == 409 and "取り下げ" in r.json()["detail"]


@pytest.mark.parametrize("who", ["pref03", "admin"])
def test_prefecture_staff_and_administrators_propose_for_any_facility_of_their_area(loaded, users, who):
    r = propose(loaded, users, who=who, facility_id="W1", institution_id="H3", roles=["admit"])
    assert r.status_code == 201, r.text


def test_a_carried_pair_of_a_facility_outside_the_run_is_not_pinned(tmp_path):
    """A hand-made pair of a facility with no annual report on file stays as it is, but the run
    (which proposes only for reported facilities) does not pin it: pinned, the candidates refused
    it and the whole run failed.  A run that includes unreported facilities pins it."""
    from api.jobs import _pins
    from api.models import Proposal
    from matching import MatchParameters
    from matching.parameters import Pair
    from tests.matchkit import fac, inst, make_region

    region = make_region(tmp_path, [fac("F1", "tokuyo", 0, 0), fac("U1", "tokuyo", 1, 0, reported=False)],
                         [inst("H", "hospital", 0.5, 0, "zaibyo")])
    carried = [Proposal(facility_id=f, institution_id="H", roles="admit", state="proposed", origin="manual")
               for f in ("U1", "F1")]
    admit = frozenset({"admit"})
    assert _pins(region, carried, [], MatchParameters()) == [Pair(facility_id="F1", institution_id="H", roles=admit)]
    assert _pins(region, carried, [], MatchParameters(include_unreported=True)) == [
        Pair(facility_id="U1", institution_id="H", roles=admit), Pair(facility_id="F1", institution_id="H", roles=admit)]
