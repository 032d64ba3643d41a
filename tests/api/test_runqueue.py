"""The run queue (issue 12, part 6), on every database: runs survive a restart, can be cancelled,
one run per area at a time, a global worker limit, a per-token rate limit."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.jobs import execute_run
from api.main import create_app
from api.models import AuditEntry, MatchRun, Proposal, User
from api.runqueue import MAX_ATTEMPTS, RunQueue, claim_next
from api.settings import Settings


def _add_run(app, state="queued", pref="03", muni=None, **kw) -> int:
    with app.state.sessions() as s:
        admin = s.scalar(select(User).where(User.role == "admin"))
        run = MatchRun(created_by=admin.id, prefecture_code=pref, municipality_code=muni, state=state,
                       progress=0.0, message="", parameters={}, **kw)
        s.add(run)
        s.commit()
        return run.id


def _run(app, run_id) -> MatchRun:
    with app.state.sessions() as s:
        return s.get(MatchRun, run_id)


def _actions(app, run_id) -> list[str]:
    with app.state.sessions() as s:
        return list(s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "match_run",
                                                               AuditEntry.entity_id == str(run_id))
                              .order_by(AuditEntry.id)))


def _proposals(app, run_id) -> int:
    with app.state.sessions() as s:
        return s.scalar(select(func.count()).select_from(Proposal).where(Proposal.run_id == run_id))


def test_a_run_interrupted_by_a_stop_is_resumed_and_finishes_after_the_restart(loaded, users, app, database_url):
    interrupted = _add_run(app, state="running", attempts=1)  # what a kill -9 during a run leaves
    queued = _add_run(app, state="queued", muni="03216")  # waiting when the server stopped
    restarted = create_app(Settings(database_url=database_url, stage_time_limit=10))
    assert _run(restarted, interrupted).state == "queued"  # resumed: queued again, not failed
    assert "run_resumed_at_start" in _actions(restarted, interrupted)
    with TestClient(restarted):  # start-up: the queue is worked off
        for _ in range(600):
            if {_run(restarted, i).state for i in (interrupted, queued)} == {"done"}:
                break
            time.sleep(0.05)
    for run_id in (interrupted, queued):
        run = _run(restarted, run_id)
        assert run.state == "done", run.message
        assert _proposals(restarted, run_id) > 0
    assert _run(restarted, interrupted).attempts == 2
    restarted.state.engine.dispose()


def test_a_run_interrupted_too_often_is_failed_with_the_reason(loaded, users, app, database_url):
    run_id = _add_run(app, state="running", attempts=MAX_ATTEMPTS)
    asked = _add_run(app, state="running", attempts=1, cancel_requested=True)
    restarted = create_app(Settings(database_url=database_url))
    run = _run(restarted, run_id)
    assert run.state == "failed" and "中断" in run.message and run.summary["interrupted"] is True
    assert "run_failed_at_start" in _actions(restarted, run_id)
    assert _run(restarted, asked).state == "cancelled"
    restarted.state.engine.dispose()


def test_a_queued_run_is_cancelled_at_once_and_never_runs(loaded, users, app):
    run_id = _add_run(app, state="queued", muni="03201")
    r = loaded.post(f"/runs/{run_id}/cancel", headers=users.headers("muni03201"))
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    app.state.run_queue.dispatch()
    assert _run(app, run_id).state == "cancelled" and _proposals(app, run_id) == 0
    assert _actions(app, run_id)[-1] == "cancel"
    again = loaded.post(f"/runs/{run_id}/cancel", headers=users.headers("muni03201"))
    assert again.status_code == 409 and "終了" in again.json()["detail"]


def test_cancel_is_scoped(loaded, users, app):
    run_id = _add_run(app, state="queued", muni="03201")
    assert loaded.post(f"/runs/{run_id}/cancel", headers=users.headers("muni03216")).status_code == 403
    assert loaded.post(f"/runs/{run_id}/cancel", headers=users.headers("pref05")).status_code == 403
    assert loaded.post("/runs/999999/cancel", headers=users.headers("pref03")).status_code == 404
    assert _run(app, run_id).state == "queued"


def test_a_running_run_cancelled_stops_at_its_next_step_and_saves_nothing(loaded, users, app):
    run_id = _add_run(app, state="queued")
    assert claim_next(app.state.sessions) == run_id  # a worker took it: running
    r = loaded.post(f"/runs/{run_id}/cancel", headers=users.headers("pref03"))
    assert r.status_code == 200 and r.json()["state"] == "running"
    execute_run(app.state.sessions, run_id)
    run = _run(app, run_id)
    assert run.state == "cancelled" and run.message == "取り消されました"
    assert _proposals(app, run_id) == 0


def test_a_cancel_arriving_while_results_are_saved_wins_over_done(loaded, users, app, monkeypatch):
    """The cancel lands after the last check, just before the results are written: nothing is saved."""
    import api.jobs

    real_verify = api.jobs.verify

    def verify_then_cancel(*args, **kw):
        with app.state.sessions() as s:
            s.get(MatchRun, run_id).cancel_requested = True
            s.commit()
        return real_verify(*args, **kw)

    monkeypatch.setattr(api.jobs, "verify", verify_then_cancel)
    run_id = _add_run(app, state="queued")
    assert claim_next(app.state.sessions) == run_id
    execute_run(app.state.sessions, run_id)
    assert _run(app, run_id).state == "cancelled" and _proposals(app, run_id) == 0


def test_one_active_run_per_area(loaded, users, app):
    running = _add_run(app, state="running", muni="03201")
    same_town = _add_run(app, muni="03201")
    whole_prefecture = _add_run(app, muni=None)
    other_town = _add_run(app, muni="03216")
    other_prefecture = _add_run(app, pref="05", muni=None)
    assert claim_next(app.state.sessions) == other_town  # the oldest allowed to start
    assert claim_next(app.state.sessions) == other_prefecture
    assert claim_next(app.state.sessions) is None  # 03201 and the prefecture-wide run wait
    assert _run(app, same_town).state == "queued" and _run(app, whole_prefecture).state == "queued"
    with app.state.sessions() as s:
        for rid in (running, other_town):
            s.get(MatchRun, rid).state = "done"
        s.commit()
    assert claim_next(app.state.sessions) == same_town
    assert claim_next(app.state.sessions) is None  # the prefecture-wide run waits for 03201's


def test_the_worker_limit_holds_under_many_concurrent_starts(loaded, users, app):
    """20 runs queued from 20 threads at once: never more than `workers` execute together, all end."""
    active, peak, lock = [0], [0], threading.Lock()

    def execute(run_id: int) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with app.state.sessions() as s:
            s.get(MatchRun, run_id).state = "done"
            s.commit()
        with lock:
            active[0] -= 1

    queue = RunQueue(app.state.sessions, execute, workers=2)
    munis = ["03201", "03216", None]

    def start(k: int) -> None:
        _add_run(app, pref="03" if k % 2 else "05", muni=munis[k % 3] if k % 2 else None)
        queue.dispatch()

    threads = [threading.Thread(target=start, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.state.sessions() as s:
        states = list(s.scalars(select(MatchRun.state)))
    assert states.count("done") == 20
    assert 1 <= peak[0] <= 2


def test_starting_runs_is_rate_limited_per_token(loaded, users, database_url):
    limited = create_app(Settings(database_url=database_url, stage_time_limit=10, run_rate_limit="2/minute"))
    c = TestClient(limited)
    body = {}
    assert [c.post("/runs", json=body, headers=users.headers("pref03")).status_code for _ in range(2)] == [202, 202]
    r = c.post("/runs", json=body, headers=users.headers("pref03"))
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert "リクエストが多すぎます" in r.json()["detail"] and "1 分あたり 2 回" in r.json()["detail"]
    assert c.post("/runs", json={}, headers=users.headers("pref05")).status_code == 202  # another token
    with limited.state.sessions() as s:  # the refused start queued nothing
        assert s.scalar(select(func.count()).select_from(MatchRun).where(MatchRun.prefecture_code == "03")) == 2
    limited.state.engine.dispose()
