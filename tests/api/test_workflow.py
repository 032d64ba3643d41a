"""The coordinators' workflow end to end, through the HTTP app."""

from __future__ import annotations


def run(client, users, who="pref03", **body):
    r = client.post("/runs", json=body, headers=users.headers(who))
    assert r.status_code == 202, r.text
    run = client.get(f"/runs/{r.json()['id']}", headers=users.headers(who)).json()
    assert run["state"] == "done", run["message"]
    assert run["progress"] == 1.0
    return run


def proposals(client, users, run_id, who="pref03"):
    r = client.get(f"/runs/{run_id}/proposals", headers=users.headers(who))
    assert r.status_code == 200
    return {(p["facility_id"], p["institution_id"]): p for p in r.json()}


def move(client, users, pid, state, reason=None, who="pref03"):
    return client.post(f"/proposals/{pid}/state", json={"state": state, "reason": reason},
                       headers=users.headers(who))


def test_run_stores_proposals_parameters_and_summary(loaded, users):
    r = run(loaded, users, parameters={"limits": {"admit": {"minutes": 40}}})
    assert r["prefecture_code"] == "03"
    assert r["parameters"]["limits"]["admit"]["minutes"] == 40
    assert r["summary"]["optimal"] is True
    props = proposals(loaded, users, r["id"])
    # Only Iwate's facilities; every missing role proposed; a clinic never admits.
    assert {f for f, _ in props} == {"F1", "F2", "F3", "W1"}
    for (_f, i), p in props.items():
        assert p["state"] == "proposed"
        assert not (i == "C1" and "admit" in p["roles"])
    unmatched = loaded.get(f"/runs/{r['id']}/unmatched", headers=users.headers("pref03")).json()
    assert all(u["facility_id"] in {"F1", "F2", "F3", "W1"} for u in unmatched)


def test_accept_contract_updates_status_and_capacity(loaded, users):
    r = run(loaded, users)
    props = proposals(loaded, users, r["id"])
    pid = props[("F1", "Z1")]["id"]
    assert move(loaded, users, pid, "contacted").json()["state"] == "contacted"
    assert move(loaded, users, pid, "accepted").json()["state"] == "accepted"
    z1 = loaded.get("/institutions/Z1", headers=users.headers("pref03")).json()
    assert (z1["capacity_facilities"], z1["reserved_facilities"]) == (1, 1)
    assert move(loaded, users, pid, "contracted").json()["state"] == "contracted"
    z1 = loaded.get("/institutions/Z1", headers=users.headers("pref03")).json()
    assert (z1["capacity_facilities"], z1["reserved_facilities"]) == (0, 0)
    f1 = loaded.get("/facilities/F1", headers=users.headers("muni03201")).json()
    assert f1["status"] == "all_met" and f1["partners"] == ["Z1"]
    # Impossible moves are refused.
    assert move(loaded, users, pid, "accepted").status_code == 409
    log = loaded.get("/audit", params={"entity": "proposal", "entity_id": str(pid)},
                     headers=users.headers("admin")).json()
    assert [e["action"] for e in log][::-1] == ["proposal_contacted", "proposal_accepted", "proposal_contracted"]
    assert log[0]["before"]["state"] == "accepted" and log[0]["after"]["state"] == "contracted"


def test_decline_forbids_the_pair_and_rerun_keeps_accepted(loaded, users):
    r = run(loaded, users)
    props = proposals(loaded, users, r["id"])
    keep = props[("F3", "C1")]["id"]
    assert move(loaded, users, keep, "accepted").status_code == 200
    declined = props[("F1", "Z1")]["id"]
    no_reason = move(loaded, users, declined, "declined")
    assert no_reason.status_code == 422
    assert move(loaded, users, declined, "declined", "夜間の対応が難しい").status_code == 200
    again = run(loaded, users, facility_ids=["F1", "F3"])
    new = proposals(loaded, users, again["id"])
    assert ("F1", "Z1") not in new  # declined pair never comes back
    assert ("F1", "Z2") in new and new[("F1", "Z2")]["roles"] == "consult;visit;admit"
    assert not any(f == "F3" for f, _ in new)  # F3's accepted proposal is kept, nothing new for it
    assert loaded.get(f"/proposals/{keep}", headers=users.headers("pref03")).json()["state"] == "accepted"
    # Open proposals of the re-run facilities are superseded, others untouched.
    states = {p["id"]: p["state"] for p in loaded.get("/proposals", headers=users.headers("pref03")).json()}
    assert states[props[("W1", next(i for f, i in props if f == "W1"))]["id"]] == "proposed"


def test_accepting_beyond_capacity_is_refused(loaded, users):
    # Z1 has room for one new partner facility; two runs propose it for two facilities.
    r1 = run(loaded, users, facility_ids=["F1"])
    p1 = proposals(loaded, users, r1["id"])[("F1", "Z1")]["id"]
    assert move(loaded, users, p1, "accepted").status_code == 200
    # A run that ignores capacity reservations cannot exist: the next run sees Z1 full.
    r2 = run(loaded, users, facility_ids=["W1"])
    assert ("W1", "Z1") not in proposals(loaded, users, r2["id"])
    z1 = loaded.get("/institutions/Z1", headers=users.headers("pref03")).json()
    assert z1["reserved_facilities"] == 1


def test_status_report_is_scoped(loaded, users):
    rows = loaded.get("/status", params={"by": "municipality"}, headers=users.headers("muni03201")).json()
    assert {r["municipality_code"] for r in rows} == {"03201"}
    rows = loaded.get("/status", params={"by": "prefecture", "by_type": False}, headers=users.headers("pref03")).json()
    assert rows == [{"prefecture_code": "03", "all_met": 0, "some_met": 1, "none_met": 0, "not_designated": 3,
                     "not_tracked": 0, "total": 4, "all_met_share": 0.0}]


def test_a_mistaken_step_can_be_taken_back_audited(loaded, users):
    """Undo: contacted → proposed; accepted → its reservation given back; declined → the pair
    may be proposed again and an accepted proposal's reservation is taken again.  Contracts not."""
    r = run(loaded, users)
    pid = proposals(loaded, users, r["id"])[("F1", "Z1")]["id"]
    undo = lambda who="pref03": loaded.post(f"/proposals/{pid}/undo", headers=users.headers(who))  # noqa: E731
    assert undo().status_code == 409  # nothing done yet
    assert move(loaded, users, pid, "contacted").status_code == 200
    assert undo().json()["state"] == "proposed"
    assert move(loaded, users, pid, "accepted").status_code == 200
    z1 = lambda: loaded.get("/institutions/Z1", headers=users.headers("pref03")).json()["reserved_facilities"]  # noqa: E731
    assert z1() == 1
    assert undo().json()["state"] == "proposed" and z1() == 0
    assert move(loaded, users, pid, "accepted").status_code == 200 and z1() == 1
    assert move(loaded, users, pid, "declined", "誤操作").status_code == 200 and z1() == 0
    from sqlalchemy import select

    from api.models import ForbiddenPair

    def forbidden():
        with loaded.app.state.sessions() as s:
            return [(f.facility_id, f.institution_id) for f in s.scalars(select(ForbiddenPair))]
    assert forbidden() == [("F1", "Z1")]
    back = undo().json()
    assert (back["state"], back["decline_reason"]) == ("accepted", None) and z1() == 1
    assert forbidden() == []  # may be proposed again
    # Scope: another municipality's coordinator cannot take it back.
    assert undo("muni03216").status_code in (403, 404)
    assert move(loaded, users, pid, "contracted").status_code == 200
    assert undo().status_code == 409  # a contract is not taken back
    log = loaded.get("/audit", params={"entity": "proposal", "entity_id": str(pid)}, headers=users.headers("admin")).json()
    assert [e["action"] for e in log][::-1].count("proposal_undo") == 3


def test_contact_log_of_a_proposal(loaded, users):
    r = run(loaded, users)
    pid = proposals(loaded, users, r["id"])[("F1", "Z1")]["id"]
    url = f"/proposals/{pid}/contacts"
    h = users.headers("muni03201")
    assert loaded.get(url, headers=h).json() == []
    r1 = loaded.post(url, json={"contact_date": "2025-06-02", "person": "地域連携室 佐藤", "note": "院長に相談のうえ回答"}, headers=h)
    assert r1.status_code == 201, r1.text
    r2 = loaded.post(url, json={"person": "佐藤"}, headers=h)
    assert r2.status_code == 201 and r2.json()["note"] == ""
    got = loaded.get(url, headers=h).json()
    assert [c["person"] for c in got] == ["地域連携室 佐藤", "佐藤"] and got[0]["contact_date"] == "2025-06-02"
    for bad in ({"person": ""}, {"person": "x", "contact_date": "2999-01-01"}, {"person": "x", "extra": 1},
                {"person": "x", "contact_date": "昨日"}):
        assert loaded.post(url, json=bad, headers=h).status_code == 422, bad
    assert loaded.post(url, json={"person": "x"}, headers=users.headers("muni03216")).status_code in (403, 404)
    assert loaded.get(url, headers=users.headers("muni03216")).status_code in (403, 404)
    log = loaded.get("/audit", params={"entity": "proposal_contact"}, headers=users.headers("admin")).json()
    assert len(log) == 2 and log[0]["action"] == "contact_added"
