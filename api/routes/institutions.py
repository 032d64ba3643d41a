from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from api import audit, slots
from api.capacity import held, shortfalls
from api.deps import ScopeDep, SessionDep
from api.models import Area, Facility, Institution, Partnership, Proposal
from api.readcache import cached_read
from api.schemas import InstitutionBase, InstitutionIn, InstitutionOut, Limit, Offset
from api.workflow import release_for_deletion
from matching.region import ROLE_COLUMNS
from matching.vocabulary import InstitutionKind, default_roles

router = APIRouter(prefix="/institutions", tags=["institutions"])


def _get(session, scope, institution_id: str) -> Institution:
    i = session.get(Institution, institution_id)
    if i is None:
        raise HTTPException(404, "no such institution")
    scope.require_institution(i.municipality_code)
    return i


def partners_across_the_border(session, scope) -> set[str]:
    """Institutions outside the token's prefecture that a facility of its area works with — an
    open or accepted proposal, or an agreement (広域).  They are readable, never writable, so the
    coordinator who must call them sees their name and contact."""
    if scope.prefecture_municipalities is None:
        return set()
    facilities = select(Facility.facility_id)
    if scope.municipalities is not None:
        facilities = facilities.where(Facility.municipality_code.in_(scope.municipalities))
    outside = select(Institution.institution_id).where(
        Institution.municipality_code.not_in(scope.prefecture_municipalities))
    proposed = select(Proposal.institution_id).where(
        Proposal.facility_id.in_(facilities), Proposal.institution_id.in_(outside),
        Proposal.state.not_in(("superseded", "declined")))
    agreed = select(Partnership.institution_id).where(
        Partnership.facility_id.in_(facilities), Partnership.institution_id.in_(outside))
    return set(session.scalars(proposed)) | set(session.scalars(agreed))


def with_slots(session, institutions: list[Institution]) -> list[dict]:
    """Institutions as answered: their columns and when they give ① and ② (``api.slots``)."""
    rows = slots.stored(session, (i.institution_id for i in institutions))
    return [{**{c.key: getattr(i, c.key) for c in Institution.__table__.columns},
             "slots": slots.institution_slots(i, rows)} for i in institutions]


def _check_slots(body: InstitutionBase, current: dict[str, list[str]]) -> None:
    """``slots`` is read-only (time slots are imported with availability.csv): a body may send back
    what it read, unchanged; anything else is refused rather than silently ignored."""
    if body.slots is not None and body.slots.model_dump() != current:
        raise HTTPException(422, "slots are read-only (対応時間帯はここでは変更できません。availability.csv の取込みで変更してください)")


def _values(body: InstitutionBase) -> dict:
    """Blank role flags are derived from designations, as in the data contract."""
    v = body.model_dump(exclude={"slots"})
    roles = default_roles(InstitutionKind(body.kind), set(body.designations))
    for role, column in ROLE_COLUMNS.items():
        if v[column] is None:
            v[column] = role in roles
    v["designations"] = ";".join(sorted(body.designations))
    return v


def check_capacity(session, i: Institution, values: dict) -> None:
    """Spare capacity may not fall below what accepted proposals hold, in total and per role
    (409 with the numbers).  (Capacity is the spare capacity: contracts have already taken theirs.)"""
    problems = shortfalls(i.institution_id, values, held(session, i))
    if problems:
        raise HTTPException(409, {"message": "。".join(p["message"] for p in problems)
                                             + "（先に該当する提案を辞退にしてください）",
                                  "rows": problems,
                                  "capacity_facilities": values.get("capacity_facilities"),
                                  "reserved_facilities": i.reserved_facilities,
                                  "capacity_residents": values.get("capacity_residents"),
                                  "reserved_residents": i.reserved_residents})


@router.get("", response_model=list[InstitutionOut])
@cached_read(list[InstitutionOut])
def list_institutions(request: Request, session: SessionDep, scope: ScopeDep, municipality_code: str | None = None,
                      accepting: bool | None = None, limit: Limit = 5000, offset: Offset = 0):
    """Institutions of your prefecture (municipal coordinators read them too)."""
    if municipality_code is not None:
        scope.require_institution(municipality_code)
    q = select(Institution).order_by(Institution.institution_id)
    if municipality_code:
        q = q.where(Institution.municipality_code == municipality_code)
    elif scope.prefecture_municipalities is not None:
        q = q.where(Institution.municipality_code.in_(scope.prefecture_municipalities)
                    | Institution.institution_id.in_(partners_across_the_border(session, scope)))
    if accepting is not None:
        q = q.where(Institution.accepting.is_(accepting))
    return with_slots(session, list(session.scalars(q.offset(max(offset, 0)).limit(max(min(limit, 10000), 0)))))


@router.get("/{institution_id}", response_model=InstitutionOut)
def get_institution(institution_id: str, session: SessionDep, scope: ScopeDep):
    i = session.get(Institution, institution_id)
    if i is not None and institution_id in partners_across_the_border(session, scope):
        return with_slots(session, [i])[0]  # read only: writes still go through _get
    return with_slots(session, [_get(session, scope, institution_id)])[0]


@router.post("", response_model=InstitutionOut, status_code=201)
def create_institution(body: InstitutionIn, session: SessionDep, scope: ScopeDep):
    scope.require_institution_write(body.municipality_code)
    if session.get(Area, body.municipality_code) is None:
        raise HTTPException(422, f"unknown municipality_code {body.municipality_code}")
    if session.get(Institution, body.institution_id) is not None:
        raise HTTPException(409, f"institution {body.institution_id} already exists")
    i = Institution(**_values(body), reserved_facilities=0, reserved_residents=0)
    _check_slots(body, slots.institution_slots(i, {}))  # new: no time slots stored, its flags give them
    session.add(i)
    session.flush()
    audit.record(session, scope.user.id, "create", "institution", i.institution_id, None, audit.snapshot(i))
    session.commit()
    return with_slots(session, [i])[0]


@router.put("/{institution_id}", response_model=InstitutionOut)
def replace_institution(institution_id: str, body: InstitutionBase, session: SessionDep, scope: ScopeDep):
    """Replace an institution's facts (willingness, capacity, 24-hour roles …); keeps reservations."""
    i = _get(session, scope, institution_id)
    scope.require_institution_write(i.municipality_code)
    _check_slots(body, with_slots(session, [i])[0]["slots"])
    values = _values(body)
    # Lock the row: an acceptance between this check and the write could otherwise slip in.
    i = session.scalar(select(Institution).where(Institution.institution_id == institution_id).with_for_update())
    check_capacity(session, i, values)
    before = audit.snapshot(i)
    for k, v in values.items():
        setattr(i, k, v)
    session.flush()
    audit.record(session, scope.user.id, "update", "institution", institution_id, before, audit.snapshot(i))
    session.commit()
    return with_slots(session, [i])[0]


@router.delete("/{institution_id}", status_code=204)
def delete_institution(institution_id: str, session: SessionDep, scope: ScopeDep):
    i = _get(session, scope, institution_id)
    scope.require_institution_write(i.municipality_code)
    release_for_deletion(session, institution_id=institution_id, user_id=scope.user.id)
    audit.record(session, scope.user.id, "delete", "institution", institution_id, audit.snapshot(i), None)
    session.delete(i)
    session.commit()
