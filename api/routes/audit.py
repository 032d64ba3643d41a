from fastapi import APIRouter
from sqlalchemy import select

from api.deps import ScopeDep, SessionDep
from api.models import AuditEntry
from api.schemas import AuditOut, Limit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut])
def audit_log(session: SessionDep, scope: ScopeDep, entity: str | None = None, entity_id: str | None = None,
              limit: Limit = 500):
    """Who changed what, when, with before and after (administrators)."""
    scope.require_admin()
    q = select(AuditEntry).order_by(AuditEntry.id.desc())
    if entity:
        q = q.where(AuditEntry.entity == entity)
    if entity_id:
        q = q.where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(q.limit(max(min(limit, 5000), 0))))
