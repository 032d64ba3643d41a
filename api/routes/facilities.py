from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from api import audit, slots
from api.deps import ScopeDep, SessionDep
from api.models import Area, Facility, Partnership
from api.placement import BY_MUNICIPALITY, MOVED_BY_MUNICIPALITY
from api.readcache import cached_read
from api.schemas import FacilityIn, FacilityOut, FacilityPatch, FacilityStatusOut, Limit, Offset
from api.workflow import release_for_deletion
from matching.contract.schema import FACILITIES, column
from matching.roles import ALL_SLOTS, SLOTTED
from matching.status import classify
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER, Role, Status

router = APIRouter(prefix="/facilities", tags=["facilities"])


def with_status(session, facilities: list[Facility]) -> list[FacilityStatusOut]:
    """Facilities with required / covered / missing roles and their status (same rules as the library:
    with time slots, ① or ② counts only when the agreements together give all four slots)."""
    ids = [f.facility_id for f in facilities]
    covered: dict[str, set[Role]] = {}
    partners: dict[str, list[str]] = {}
    agreements = list(session.scalars(select(Partnership).where(Partnership.facility_id.in_(ids)))) if ids else []
    for p in agreements:
        covered.setdefault(p.facility_id, set()).update(Role(r) for r in p.roles.split(";") if r)
        partners.setdefault(p.facility_id, []).append(p.institution_id)
    given = slots.agreement_slots(agreements, slots.stored(session, (p.institution_id for p in agreements)))
    out = []
    for f in facilities:
        t = FACILITY_TYPES[f.facility_type]
        have = given.get(f.facility_id, {})
        cov = (frozenset(covered.get(f.facility_id, set())) - {Role(code) for code in SLOTTED if have.get(code) != ALL_SLOTS}
               ) & t.required_roles
        status = classify(t.required_roles, cov, reported=f.reported, designated=bool(partners.get(f.facility_id)))
        out.append(FacilityStatusOut(
            **{name: getattr(f, name) for name in FacilityOut.model_fields}, facility_type_ja=t.name_ja,
            status=status.value, status_ja=Status(status).label_ja,
            required_roles=[r.value for r in ROLE_ORDER if r in t.required_roles],
            covered_roles=[r.value for r in ROLE_ORDER if r in cov],
            missing_roles=[r.value for r in ROLE_ORDER if r in t.required_roles - cov],
            partners=sorted(partners.get(f.facility_id, [])), slots=slots.as_codes(have), confirmed=f.confirmed,
            unconfirmed_reason=f.unconfirmed_reason))
    return out


def _get(session, scope, facility_id: str) -> Facility:
    f = session.get(Facility, facility_id)
    if f is None:
        raise HTTPException(404, "no such facility")
    scope.require_facility(f.municipality_code)
    return f


@router.get("", response_model=list[FacilityStatusOut])
@cached_read(list[FacilityStatusOut])
def list_facilities(request: Request, session: SessionDep, scope: ScopeDep, municipality_code: str | None = None,
                    facility_type: str | None = None, status: str | None = None,
                    limit: Limit = 1000, offset: Offset = 0):
    """Facilities in your area with their status; filter by municipality, type or status."""
    if municipality_code is not None:
        scope.require_facility(municipality_code)
    q = select(Facility).order_by(Facility.facility_id)
    if municipality_code:
        q = q.where(Facility.municipality_code == municipality_code)
    elif scope.municipalities is not None:
        q = q.where(Facility.municipality_code.in_(scope.municipalities))
    if facility_type:
        q = q.where(Facility.facility_type == facility_type)
    rows = with_status(session, list(session.scalars(q)))
    if status:
        rows = [r for r in rows if r.status == status]
    return rows[max(offset, 0): max(offset, 0) + max(min(limit, 10000), 0)]


@router.get("/{facility_id}", response_model=FacilityStatusOut)
def get_facility(facility_id: str, session: SessionDep, scope: ScopeDep):
    return with_status(session, [_get(session, scope, facility_id)])[0]


@router.post("", response_model=FacilityStatusOut, status_code=201)
def create_facility(body: FacilityIn, request: Request, session: SessionDep, scope: ScopeDep):
    """Register a facility in your area.  Its coordinates must lie in its municipality (422
    otherwise); one registered by a municipal coordinator waits for a prefecture's confirmation
    (``confirmed`` false: not matched, no proposal for it can be accepted)."""
    scope.require_facility(body.municipality_code)
    if session.get(Area, body.municipality_code) is None:
        raise HTTPException(422, f"unknown municipality_code {body.municipality_code}")
    if session.get(Facility, body.facility_id) is not None:
        raise HTTPException(409, f"facility {body.facility_id} already exists")
    request.app.state.placement.require(session, body.facility_id, body.municipality_code, body.lat, body.lon)
    f = Facility(**body.model_dump())
    if scope.role == "municipal":  # a prefecture confirms what a municipality registers
        f.confirmed, f.unconfirmed_reason = False, BY_MUNICIPALITY
    session.add(f)
    session.flush()
    audit.record(session, scope.user.id, "create", "facility", f.facility_id, None, audit.snapshot(f))
    session.commit()
    return with_status(session, [f])[0]


@router.patch("/{facility_id}", response_model=FacilityStatusOut)
def update_facility(facility_id: str, body: FacilityPatch, request: Request, session: SessionDep,
                    scope: ScopeDep):
    """Change a facility.  A move must stay in its municipality; a move by a municipal
    coordinator needs the prefecture's confirmation again."""
    f = _get(session, scope, facility_id)
    before = audit.snapshot(f)
    changes = body.model_dump(exclude_unset=True)
    for k, v in changes.items():
        if v is None and not column(FACILITIES, k).type.nullable:
            raise HTTPException(422, f"{k} cannot be null")
    lat, lon = changes.get("lat", f.lat), changes.get("lon", f.lon)
    moved = (lat, lon) != (f.lat, f.lon)
    if moved:
        request.app.state.placement.require(session, f.facility_id, f.municipality_code, lat, lon)
    for k, v in changes.items():
        setattr(f, k, v)
    if moved and scope.role == "municipal":
        f.confirmed, f.unconfirmed_reason = False, MOVED_BY_MUNICIPALITY
    session.flush()
    audit.record(session, scope.user.id, "update", "facility", facility_id, before, audit.snapshot(f))
    session.commit()
    return with_status(session, [f])[0]


@router.delete("/{facility_id}", status_code=204)
def delete_facility(facility_id: str, session: SessionDep, scope: ScopeDep):
    f = _get(session, scope, facility_id)
    # Accepted proposals give their reservation back; every proposal and agreement deleted with
    # the facility is in the audit log.
    release_for_deletion(session, facility_id=facility_id, user_id=scope.user.id)
    audit.record(session, scope.user.id, "delete", "facility", facility_id, audit.snapshot(f), None)
    session.delete(f)
    session.commit()


@router.post("/{facility_id}/confirm", response_model=FacilityStatusOut)
def confirm_facility(facility_id: str, session: SessionDep, scope: ScopeDep):
    """Prefecture staff confirm a facility registered or moved by a municipal coordinator (or
    imported outside its municipality, after checking the place): from now on it is matched."""
    if scope.role == "municipal":
        raise HTTPException(403, "施設の確認は都道府県の担当者が行います")
    f = _get(session, scope, facility_id)
    before = audit.snapshot(f)
    f.confirmed, f.unconfirmed_reason = True, ""
    session.flush()
    audit.record(session, scope.user.id, "confirm", "facility", facility_id, before, audit.snapshot(f))
    session.commit()
    return with_status(session, [f])[0]
