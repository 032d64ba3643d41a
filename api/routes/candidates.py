"""Alternatives for one facility: every institution that could take each of its missing roles."""

from typing import Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from api.deps import ScopeDep, SessionDep
from api.models import Facility
from api.schemas import Limit
from matching import MatchParameters
from matching.candidates import find_candidates
from matching.roles import SLOT_CODES, slots_of
from matching.status import facility_status
from matching.vocabulary import ROLE_ORDER

router = APIRouter(prefix="/facilities", tags=["facilities"])


class CandidateOut(BaseModel):
    role: str
    institution_id: str
    institution_name: str
    kind: str
    minutes: float
    km: float
    existing: bool
    not_yet_asked: bool
    #: Facilities the institution can still take (capacity − reserved); None = no limit recorded.
    spare_facilities: int | None
    #: When it gives the role (time slots, ``matching.roles`` codes): all four unless availability says less.
    slots: list[Literal[SLOT_CODES]]


@router.get("/{facility_id}/candidates", response_model=list[CandidateOut])
def facility_candidates(facility_id: str, request: Request, session: SessionDep, scope: ScopeDep,
                        per_role: Limit = 10):
    """Institutions that could take each missing role of the facility under the default run
    parameters (travel limits, 24-hour roles, willingness, declined pairs excluded), nearest first —
    the alternatives a coordinator can approach (or propose by hand, ``POST /proposals``).  As a run,
    every institution in the database is a candidate, a neighbouring prefecture's in reach too (広域).
    Capacity is shown, not applied."""
    f = session.get(Facility, facility_id)
    if f is None:
        raise HTTPException(404, "no such facility")
    scope.require_facility(f.municipality_code)
    regions = request.app.state.region_cache
    region, forbidden = regions.get(session, None, for_matching=True)
    if facility_id not in region.facilities.index:
        # Waiting for the prefecture's confirmation: not matched, but its candidates are shown.
        region, _ = regions.get(session, None)
    region = region.subset([facility_id])
    params = MatchParameters(include_unreported=True,
                             forbidden=[p for p in forbidden if p.facility_id == facility_id])
    cand = find_candidates(region, facility_status(region), params)
    inst = region.institutions
    given = {role: region.slots(role) for role in cand["role"].unique()}  # row, else the 24-hour flag
    out = []
    for _, rows in cand.sort_values(["minutes", "institution_id"]).groupby("role", sort=False):
        for r in rows.head(per_role).itertuples(index=False):
            i = inst.loc[r.institution_id]
            cap = i["capacity_facilities"]
            out.append(CandidateOut(role=r.role, institution_id=r.institution_id, institution_name=i["name"],
                                    kind=i["kind"], minutes=round(float(r.minutes), 1), km=round(float(r.km), 2),
                                    existing=bool(r.existing), not_yet_asked=bool(r.not_yet_asked),
                                    spare_facilities=None if pd.isna(cap) else int(cap),
                                    slots=list(slots_of(given[r.role][r.institution_id]))))
    order = {r.value: k for k, r in enumerate(ROLE_ORDER)}
    return sorted(out, key=lambda c: (order[c.role], c.minutes, c.institution_id))
