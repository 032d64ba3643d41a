"""Dependencies shared by the routes: the settings, a database session, the current user and scope."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.models import User, aware, now
from api.scope import Scope, scope_for
from api.security import hash_token

LAST_USED_EVERY = timedelta(minutes=1)  # a read does not write on every request

bearer = HTTPBearer(auto_error=False, description="a token from `matching token create`")


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_scope(session: SessionDep,
              cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Scope:
    if cred is None or cred.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    user = session.scalar(select(User).where(User.token_hash == hash_token(cred.credentials), User.active.is_(True)))
    if user is None:
        raise HTTPException(401, "invalid or revoked token (トークンが無効か、失効しています)",
                            headers={"WWW-Authenticate": "Bearer"})
    t = now()
    if user.expires_at is not None and aware(user.expires_at) <= t:
        raise HTTPException(401, "token expired (トークンの有効期限が切れています)", headers={"WWW-Authenticate": "Bearer"})
    if user.last_used_at is None or t - aware(user.last_used_at) > LAST_USED_EVERY:
        session.execute(update(User).where(User.id == user.id).values(last_used_at=t))
        session.commit()
    return scope_for(session, user)


ScopeDep = Annotated[Scope, Depends(get_scope)]
