"""The data version: a counter, in the database, of committed changes to the region's data.

Every session of the service counts its own changes (ORM flushes and ``insert``/``update``/
``delete`` statements) to the tables the status is computed from; when such a session commits,
the counter is raised in the same transaction.  A reader compares the counter with the version
its cache was computed at — one primary-key read — so a cached status is never stale, in this
process or another one on the same database.
"""

from __future__ import annotations

from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from api.models import DataVersion

#: Tables whose changes change what is computed from the data.
WATCHED = frozenset({"areas", "facilities", "institutions", "partnerships", "proposals", "forbidden_pairs",
                     "proposal_contacts", "availability"})
_CHANGED = "data_changed"


def current(session: Session) -> int:
    return session.scalar(select(DataVersion.version).where(DataVersion.id == 1)) or 0


def track(sessions: sessionmaker[Session]) -> None:
    """Count the changes of every session ``sessions`` makes."""

    @event.listens_for(sessions, "after_flush")
    def _flushed(session: Session, _context) -> None:
        for obj in (*session.new, *session.dirty, *session.deleted):
            if getattr(obj, "__tablename__", None) in WATCHED:
                session.info[_CHANGED] = True
                return

    @event.listens_for(sessions, "do_orm_execute")
    def _statement(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if getattr(table, "name", None) in WATCHED:
                state.session.info[_CHANGED] = True

    @event.listens_for(sessions, "before_commit")
    def _commit(session: Session) -> None:
        session.flush()  # pending objects count too
        if session.info.pop(_CHANGED, False):
            session.execute(update(DataVersion).where(DataVersion.id == 1)
                            .values(version=DataVersion.version + 1))

    @event.listens_for(sessions, "after_rollback")
    def _rolled_back(session: Session) -> None:
        session.info.pop(_CHANGED, None)
