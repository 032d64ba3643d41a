"""Facilities where they belong: the place check and the prefecture's confirmation.

A facility's coordinates decide which institutions can reach it, so a facility placed in another
town would take that town's capacity.  Rules (issue 12, part 9):

* a facility created or moved through the API must lie in its municipality (the municipal
  boundaries the server is given, ``MUNICIPAL_BOUNDARIES``, within ``BOUNDARY_TOLERANCE_KM``);
  otherwise 422 naming the facility, the distance and the municipality the point is in;
* a facility created — or moved — by a municipal coordinator is *unconfirmed* until prefecture
  staff confirm it (``POST /facilities/{id}/confirm``); a prefecture's import confirms the
  facilities it contains, except those placed outside their municipality, which are imported
  unconfirmed with the reason (nothing is lost, and the prefecture sees what to check);
* an unconfirmed facility is left out of runs and no proposal for it can be accepted (no
  capacity is reserved for it).

Municipalities the boundary files do not cover are not checked (the README says which are).
"""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Area, Facility
from matching.boundaries import MunicipalBoundaries, place_problem

BY_MUNICIPALITY = "市区町村の担当者が登録した施設です。都道府県の確認を待っています"
MOVED_BY_MUNICIPALITY = "市区町村の担当者が位置を変更しました。都道府県の確認を待っています"
NOT_CONFIRMED = "施設 {id} は都道府県の確認前のため、提案を承諾できません（{reason}）"


class Placement:
    def __init__(self, boundaries: MunicipalBoundaries, tolerance_km: float):
        self.boundaries, self.tolerance_km = boundaries, tolerance_km

    def problem(self, session: Session, facility_id: str, municipality_code: str, lat: float, lon: float) -> str | None:
        area = session.get(Area, municipality_code)
        found = place_problem(self.boundaries, municipality_code, lat, lon,
                              area.municipality_name if area else "", self.tolerance_km)
        return f"施設 {facility_id}: {found}" if found else None

    def require(self, session: Session, facility_id: str, municipality_code: str, lat: float, lon: float) -> None:
        found = self.problem(session, facility_id, municipality_code, lat, lon)
        if found:
            raise HTTPException(422, found)

    def review_import(self, session: Session, facility_ids: list[str]) -> list[dict]:
        """After a prefecture's import: its facilities are confirmed, except those outside their
        municipality (unconfirmed, with the reason).  Returns those."""
        out = []
        for f in session.scalars(select(Facility).where(Facility.facility_id.in_(facility_ids))
                                 .order_by(Facility.facility_id)) if facility_ids else []:
            found = self.problem(session, f.facility_id, f.municipality_code, f.lat, f.lon)
            f.confirmed, f.unconfirmed_reason = found is None, found or ""
            if found:
                out.append({"facility_id": f.facility_id, "name": f.name, "reason": found})
        return out


def require_confirmed(facility: Facility) -> None:
    if not facility.confirmed:
        raise HTTPException(409, NOT_CONFIRMED.format(id=facility.facility_id, reason=facility.unconfirmed_reason))
