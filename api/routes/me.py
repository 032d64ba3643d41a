"""Who am I and which labels to show: what the web page needs before it calls anything else."""

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import ScopeDep, SessionDep
from api.models import Area
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER, STATUS_ORDER

router = APIRouter(tags=["service"])


class MunicipalityOut(BaseModel):
    municipality_code: str
    municipality_name: str


class MeOut(BaseModel):
    id: int
    name: str
    role: str
    prefecture_code: str | None
    municipality_code: str | None
    #: Municipalities whose facilities you see and change (your area), in code order.
    municipalities: list[MunicipalityOut]


@router.get("/me", response_model=MeOut)
def me(session: SessionDep, scope: ScopeDep):
    """The signed-in user (from the bearer token): role and the area they may see."""
    q = select(Area).order_by(Area.municipality_code)
    if scope.municipalities is not None:
        q = q.where(Area.municipality_code.in_(scope.municipalities))
    u = scope.user
    return MeOut(id=u.id, name=u.name, role=u.role, prefecture_code=scope.prefecture_code,
                 municipality_code=u.municipality_code,
                 municipalities=[MunicipalityOut(municipality_code=a.municipality_code,
                                                 municipality_name=a.municipality_name)
                                 for a in session.scalars(q)])


@router.get("/vocabulary")
def vocabulary() -> dict:
    """The official Japanese labels (facility types, roles, statuses) from the one vocabulary table."""
    return {
        "facility_types": [{"code": t.code, "name_ja": t.name_ja, "short_ja": t.short_ja,
                            "required_roles": [r.value for r in ROLE_ORDER if r in t.required_roles],
                            "strength": t.strength.value, "strength_ja": t.strength.label_ja}
                           for t in FACILITY_TYPES.values()],
        "roles": [{"code": r.value, "mark": r.mark, "label_ja": r.label_ja} for r in ROLE_ORDER],
        "statuses": [{"code": s.value, "label_ja": s.label_ja, "short_ja": s.short_ja} for s in STATUS_ORDER],
    }
