"""Every change goes into the audit log, in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from api.models import AuditEntry


def snapshot(obj) -> dict[str, Any] | None:
    """The column values of an ORM object, JSON-ready (None for no object)."""
    if obj is None:
        return None
    out = {}
    for attr in inspect(obj).mapper.column_attrs:
        v = getattr(obj, attr.key)
        out[attr.key] = v.isoformat() if hasattr(v, "isoformat") else v
    return out


def record(session: Session, user_id: int | None, action: str, entity: str, entity_id: str,
           before: dict | None, after: dict | None) -> None:
    session.add(AuditEntry(user_id=user_id, action=action, entity=entity, entity_id=str(entity_id),
                           before=before, after=after))
