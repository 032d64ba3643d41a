"""Bearer tokens: random, shown once, stored only as a SHA-256 hash.

A token has 256 bits of entropy, so a fast hash is enough (no password
stretching is needed, as for API keys of the big platforms); nothing secret is
kept in the database or the repository.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "mt_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
