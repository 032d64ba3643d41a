"""Dependencies shared by the routes: the settings, a database session, the current user and scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import User
from api.scope import Scope, scope_for
from api.security import hash_token

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
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return scope_for(session, user)


ScopeDep = Annotated[Scope, Depends(get_scope)]
