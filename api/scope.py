"""Who may see and change what.

* admin — everything;
* prefecture staff — everything in their prefecture;
* municipal coordinator — their municipality's facilities, partnerships and
  proposals; reads (only) the institutions and areas of their prefecture.

Anything outside is refused with 403, never silently filtered when asked for
by id.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Area, User

ROLES = ("admin", "prefecture", "municipal")


@dataclass(frozen=True)
class Scope:
    user: User
    municipalities: frozenset[str] | None  # facilities visible and writable (None = all)
    prefecture_municipalities: frozenset[str] | None  # institutions/areas readable (None = all)
    prefecture_code: str | None

    @property
    def role(self) -> str:
        return self.user.role

    def can_see_facility_in(self, municipality_code: str) -> bool:
        return self.municipalities is None or municipality_code in self.municipalities

    def can_see_institution_in(self, municipality_code: str) -> bool:
        return self.prefecture_municipalities is None or municipality_code in self.prefecture_municipalities

    def require_facility(self, municipality_code: str) -> None:
        if not self.can_see_facility_in(municipality_code):
            raise HTTPException(403, "outside your area (担当区域外の施設です)")

    def require_institution(self, municipality_code: str) -> None:
        if not self.can_see_institution_in(municipality_code):
            raise HTTPException(403, "outside your prefecture (担当都道府県外の医療機関です)")

    def require_institution_write(self, municipality_code: str) -> None:
        if self.role == "municipal":
            raise HTTPException(403, "municipal coordinators read institutions but do not edit them")
        self.require_institution(municipality_code)

    def require_admin(self) -> None:
        if self.role != "admin":
            raise HTTPException(403, "administrators only")


def scope_for(session: Session, user: User) -> Scope:
    if user.role == "admin":
        return Scope(user, None, None, None)
    if user.role == "prefecture":
        codes = frozenset(session.scalars(select(Area.municipality_code)
                                          .where(Area.prefecture_code == user.prefecture_code)))
        return Scope(user, codes, codes, user.prefecture_code)
    pref = user.prefecture_code or session.scalar(
        select(Area.prefecture_code).where(Area.municipality_code == user.municipality_code))
    pref_codes = frozenset(session.scalars(select(Area.municipality_code).where(Area.prefecture_code == pref)))
    return Scope(user, frozenset({user.municipality_code}), pref_codes, pref)
