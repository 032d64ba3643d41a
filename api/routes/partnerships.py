from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from api import audit
from api.deps import ScopeDep, SessionDep
from api.models import Facility, Institution, Partnership
from api.readcache import cached_read
from api.schemas import DbId, PartnershipIn, PartnershipOut
from api.workflow import consume_capacity, spare
from matching.vocabulary import Role, format_roles

router = APIRouter(prefix="/partnerships", tags=["partnerships"])


@router.get("", response_model=list[PartnershipOut])
@cached_read(list[PartnershipOut])
def list_partnerships(request: Request, session: SessionDep, scope: ScopeDep, facility_id: str | None = None):
    """Agreements in force for facilities in your area."""
    q = select(Partnership, Facility.municipality_code).join(Facility).order_by(Partnership.id)
    if facility_id:
        f = session.get(Facility, facility_id)
        if f is None:
            raise HTTPException(404, "no such facility")
        scope.require_facility(f.municipality_code)
        q = q.where(Partnership.facility_id == facility_id)
    return [p for p, code in session.execute(q) if scope.can_see_facility_in(code)]


@router.post("", response_model=PartnershipOut, status_code=201)
def create_partnership(body: PartnershipIn, session: SessionDep, scope: ScopeDep):
    """Record an agreement (e.g. from a facility's annual report)."""
    f = session.get(Facility, body.facility_id)
    i = session.get(Institution, body.institution_id)
    if f is None or i is None:
        raise HTTPException(422, "unknown facility_id or institution_id")
    scope.require_facility(f.municipality_code)
    scope.require_institution(i.municipality_code)
    if Role.ADMIT in body.roles and i.kind == "clinic":
        raise HTTPException(422, f"institution {i.institution_id} is a clinic and cannot admit (③ is for hospitals only)")
    if session.scalar(select(Partnership).where(Partnership.facility_id == f.facility_id,
                                                Partnership.institution_id == i.institution_id)):
        raise HTTPException(409, "this agreement already exists (この施設と医療機関の協定は登録済みです)")
    if not body.as_signed:
        offered = {Role.CONSULT: i.consult_24h, Role.VISIT: i.visit_24h, Role.ADMIT: i.admit}
        missing = [r for r in body.roles if not offered[r]]
        if missing:
            raise HTTPException(409, f"医療機関 {i.institution_id} は {'、'.join(r.label_ja for r in missing)} を"
                                     "提供していません（締結済みの協定をそのまま記録するには as_signed を指定してください）")
        if i.accepting is False:
            raise HTTPException(409, f"医療機関 {i.institution_id} は新たな協力を受け付けていません"
                                     "（締結済みの協定をそのまま記録するには as_signed を指定してください）")
        if not consume_capacity(session, i.institution_id, f.facility_id):
            fac_left, res_left = spare(i)
            raise HTTPException(409, f"医療機関 {i.institution_id} の受入枠に空きがありません（残り施設数 {fac_left}、"
                                     f"残り入所者数 {res_left}）。締結済みの協定をそのまま記録するには as_signed を指定してください")
    p = Partnership(facility_id=f.facility_id, institution_id=i.institution_id, roles=format_roles(set(body.roles)))
    session.add(p)
    session.flush()
    audit.record(session, scope.user.id, "create_as_signed" if body.as_signed else "create", "partnership",
                 str(p.id), None, {**audit.snapshot(p), "as_signed": body.as_signed})
    session.commit()
    return p


@router.delete("/{partnership_id}", status_code=204)
def delete_partnership(partnership_id: DbId, session: SessionDep, scope: ScopeDep):
    p = session.get(Partnership, partnership_id)
    if p is None:
        raise HTTPException(404, "no such partnership")
    scope.require_facility(session.get(Facility, p.facility_id).municipality_code)
    audit.record(session, scope.user.id, "delete", "partnership", str(p.id), audit.snapshot(p), None)
    session.delete(p)
    session.commit()
