"""Who am I and which labels to show: what the web page needs before it calls anything else."""

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import ScopeDep, SessionDep
from api.models import Area
from matching.contract.schema import LOCATION_SOURCES, RECORDS
from matching.region import ROLE_COLUMNS
from matching.roles import SLOT_CODES, SLOT_LABELS_JA, SLOTTED
from matching.vocabulary import (
    DESIGNATIONS,
    FACILITY_TYPES,
    ROLE_ORDER,
    STATUS_ORDER,
    InstitutionKind,
)

router = APIRouter(tags=["service"])


class MunicipalityOut(BaseModel):
    municipality_code: str
    municipality_name: str


class MeOut(BaseModel):
    id: int
    name: str
    role: str
    prefecture_code: str | None
    #: The prefecture by name (岩手県), for the page's header.
    prefecture_name: str | None = None
    municipality_code: str | None
    #: Municipalities whose facilities you see and change (your area), in code order.
    municipalities: list[MunicipalityOut]


def prefecture_name(code: str | None) -> str | None:
    from matching.importers.normalise import PREFECTURES

    return PREFECTURES[int(code) - 1] if code and code.isdigit() and 1 <= int(code) <= len(PREFECTURES) else None


@router.get("/me", response_model=MeOut)
def me(session: SessionDep, scope: ScopeDep):
    """The signed-in user (from the bearer token): role and the area they may see."""
    q = select(Area).order_by(Area.municipality_code)
    if scope.municipalities is not None:
        q = q.where(Area.municipality_code.in_(scope.municipalities))
    u = scope.user
    return MeOut(id=u.id, name=u.name, role=u.role, prefecture_code=scope.prefecture_code,
                 prefecture_name=prefecture_name(scope.prefecture_code),
                 municipality_code=u.municipality_code,
                 municipalities=[MunicipalityOut(municipality_code=a.municipality_code,
                                                 municipality_name=a.municipality_name)
                                 for a in session.scalars(q)])


@router.get("/vocabulary")
def vocabulary() -> dict:
    """Every label the page shows, from their one definition: facility types, roles, statuses,
    institution kinds and designations from ``matching/vocabulary.py``; the records' columns
    (with their Japanese labels) from the data contract, ``matching/contract/schema.py``."""
    return {
        "facility_types": [{"code": t.code, "name_ja": t.name_ja, "short_ja": t.short_ja,
                            "required_roles": [r.value for r in ROLE_ORDER if r in t.required_roles],
                            "strength": t.strength.value, "strength_ja": t.strength.label_ja}
                           for t in FACILITY_TYPES.values()],
        # ``column``: the institution field that says whether the role is offered around the clock.
        "roles": [{"code": r.value, "mark": r.mark, "label_ja": r.label_ja, "column": ROLE_COLUMNS[r]}
                  for r in ROLE_ORDER],
        # Time slots of ① and ② (matching.roles): their codes in order, labels, and the roles they apply to.
        "slots": [{"code": code, "label_ja": SLOT_LABELS_JA[code]} for code in SLOT_CODES],
        "slotted_roles": list(SLOTTED),
        "statuses": [{"code": s.value, "label_ja": s.label_ja, "short_ja": s.short_ja} for s in STATUS_ORDER],
        "kinds": [{"code": k.value, "label_ja": k.label_ja} for k in InstitutionKind],
        "designations": [{"code": d.code, "name_ja": d.name_ja, "kind": d.kind.value if d.kind else None,
                          "default_roles": [r.value for r in ROLE_ORDER if r in d.default_roles]}
                         for d in DESIGNATIONS.values()],
        # Where a point comes from (location_source; blank = "source"), in the outputs' wording.
        "location_sources": [{"code": k, "label_ja": v} for k, v in LOCATION_SOURCES.items()],
        "records": {record: [{"name": c.name, "label_ja": c.label_ja} for c in spec.columns]
                    for record, spec in RECORDS.items()},
    }
