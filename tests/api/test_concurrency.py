"""Two coordinators accepting at the same moment can never over-allocate an institution."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from api.models import MatchRun, Proposal, User


def test_concurrent_accepts_never_exceed_capacity(loaded, users, app):
    # Z1 has spare capacity for one new partner; four open proposals compete for it.
    with app.state.sessions() as s:
        admin = s.query(User).filter_by(role="admin").first()
        run = MatchRun(created_by=admin.id, prefecture_code="03", state="done", parameters={})
        s.add(run)
        s.flush()
        ids = []
        for f in ("F1", "F3", "W1", "F2"):
            p = Proposal(run_id=run.id, facility_id=f, institution_id="Z1", roles="admit" if f == "F2" else "consult",
                         distance_km=1.0, travel_minutes=2.0, extends_existing=False, explanation="")
            s.add(p)
            s.flush()
            ids.append(p.id)
        s.commit()
    barrier = threading.Barrier(len(ids))
    codes = {}

    def accept(pid):
        with TestClient(app) as c:
            barrier.wait()
            codes[pid] = c.post(f"/proposals/{pid}/state", json={"state": "accepted"},
                                headers=users.headers("pref03")).status_code

    threads = [threading.Thread(target=accept, args=(pid,)) for pid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes.values()) == [200, 409, 409, 409]
    z1 = loaded.get("/institutions/Z1", headers=users.headers("pref03")).json()
    assert z1["reserved_facilities"] == 1 <= z1["capacity_facilities"]
    accepted = [p for p in loaded.get("/proposals", params={"state": "accepted"},
                                      headers=users.headers("pref03")).json()]
    assert len(accepted) == 1
