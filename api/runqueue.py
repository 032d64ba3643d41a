"""The run queue: match runs wait in the database and a bounded set of workers takes them in turn.

The database is the queue, so a queued run survives a restart.  A worker *claims* a run
with one conditional update (``queued`` → ``running``, only if it is still queued), so two
workers — or two server processes on one database — never take the same run.  Rules:

* at most ``run_workers`` runs execute at once in a server process (the global limit);
* at most one run is active per area: a municipality's run waits while another run of that
  municipality or a prefecture-wide run of its prefecture is running, and a prefecture-wide
  run waits while any run of its prefecture is running;
* runs are taken oldest first among those allowed to start.

At start-up (:func:`recover`) a run left ``running`` by a stopped server is queued again —
its results are written in one transaction at its end, so running it again from the start
*is* resuming it — unless it was already interrupted ``MAX_ATTEMPTS`` times (a run that
brings the server down must not do so forever): then it is marked failed with the reason.
A run whose cancellation was requested is marked cancelled instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from api import audit
from api.models import MatchRun

log = logging.getLogger("api.jobs")

#: States of a run that still has work to do.
ACTIVE = ("queued", "running")
#: A run interrupted this many times by a server stop is failed instead of resumed.
MAX_ATTEMPTS = 2

INTERRUPTED = "サーバーの停止により実行が中断されました。もう一度実行してください"
RESUMED = "サーバーの停止により中断されたため、最初から実行し直します（待機中）"
CANCELLED = "取り消されました"


def recover(sessions: sessionmaker[Session]) -> dict[str, list[int]]:
    """At start-up: resume (re-queue) runs a stopped server left ``running``; fail those interrupted
    ``MAX_ATTEMPTS`` times; cancel those whose cancellation was asked.  Queued runs stay queued."""
    done: dict[str, list[int]] = {"resumed": [], "failed": [], "cancelled": []}
    with sessions() as session:
        for run in session.scalars(select(MatchRun).where(MatchRun.state == "running").order_by(MatchRun.id)):
            before = audit.snapshot(run)
            if run.cancel_requested:
                run.state, run.message, action = "cancelled", CANCELLED, "cancelled"
            elif run.attempts >= MAX_ATTEMPTS:
                run.state, run.message, action = "failed", INTERRUPTED, "failed"
                run.summary = {**(run.summary or {}), "interrupted": True}
            else:
                run.state, run.message, run.progress, action = "queued", RESUMED, 0.0, "resumed"
            done[action].append(run.id)
            audit.record(session, None, f"run_{action}_at_start", "match_run", str(run.id), before,
                         audit.snapshot(run))
        session.commit()
    return done


def _blocked_by_active(session: Session, run: MatchRun) -> bool:
    """Whether a running run covers part of ``run``'s area (one active run per area)."""
    q = select(MatchRun.id).where(MatchRun.state == "running", MatchRun.id != run.id)
    if run.prefecture_code is not None:
        q = q.where(or_(MatchRun.prefecture_code == run.prefecture_code, MatchRun.prefecture_code.is_(None)))
    if run.municipality_code is not None:
        q = q.where(or_(MatchRun.municipality_code == run.municipality_code, MatchRun.municipality_code.is_(None)))
    return session.scalar(q.limit(1)) is not None


def claim_next(sessions: sessionmaker[Session]) -> int | None:
    """Take the oldest queued run allowed to start (its area has no active run); ``None`` if none."""
    with sessions() as session:
        for run in session.scalars(select(MatchRun).where(MatchRun.state == "queued").order_by(MatchRun.id)):
            if _blocked_by_active(session, run):
                continue
            claimed = session.execute(update(MatchRun).where(MatchRun.id == run.id, MatchRun.state == "queued")
                                      .values(state="running", attempts=MatchRun.attempts + 1,
                                              message="実行を開始しました"))
            session.commit()
            if claimed.rowcount == 1:
                return run.id
        return None


def has_startable(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return any(not _blocked_by_active(session, run) for run in
                   session.scalars(select(MatchRun).where(MatchRun.state == "queued").order_by(MatchRun.id)))


class RunQueue:
    """Executes queued runs on at most ``workers`` threads of this process.

    :meth:`dispatch` is called after a run is queued, when a run ends and periodically; it
    returns at once when every worker slot is busy (a busy worker takes the next run itself)."""

    def __init__(self, sessions: sessionmaker[Session], execute: Callable[[int], None], workers: int = 1):
        self.sessions = sessions
        self.execute = execute
        self._slots = threading.BoundedSemaphore(max(1, workers))

    def dispatch(self) -> None:
        while True:
            if not self._slots.acquire(blocking=False):
                return
            try:
                run_id = claim_next(self.sessions)
                if run_id is not None:
                    self.execute(run_id)
            finally:
                self._slots.release()
            # Checked after releasing the slot: a run queued while this worker held the last slot
            # found no free slot, so this worker must take it.
            if run_id is None and not has_startable(self.sessions):
                return

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.dispatch, name="run-dispatch", daemon=True)
        thread.start()
        return thread


class Poller:
    """Calls ``dispatch`` every ``seconds`` (runs queued by another process, runs left waiting)."""

    def __init__(self, queue: RunQueue, seconds: float):
        self.queue, self.seconds = queue, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-poller", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.queue.dispatch()
            except Exception:  # a database hiccup must not end the poller
                log.exception("run dispatch failed")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
