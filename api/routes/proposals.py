from datetime import date

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from api import audit
from api.deps import ScopeDep, SessionDep
from api.models import Facility, Institution, Proposal, ProposalContact
from api.readcache import cached_read
from api.schemas import (
    ContactIn,
    ContactOut,
    DbId,
    Limit,
    ManualProposalIn,
    Offset,
    ProposalMove,
    ProposalOut,
)
from api.workflow import STATES, change_state, propose_by_hand, undo_last, withdraw

router = APIRouter(prefix="/proposals", tags=["proposals"])


def _get(session, scope, proposal_id: int) -> Proposal:
    p = session.get(Proposal, proposal_id)
    if p is None:
        raise HTTPException(404, "no such proposal")
    scope.require_facility(session.get(Facility, p.facility_id).municipality_code)
    return p


@router.get("", response_model=list[ProposalOut])
@cached_read(list[ProposalOut])
def list_proposals(request: Request, session: SessionDep, scope: ScopeDep, state: str | None = None, facility_id: str | None = None,
                   institution_id: str | None = None, limit: Limit = 5000, offset: Offset = 0):
    """Proposals for facilities in your area, by state (proposed, contacted, accepted, contracted, declined, superseded)."""
    if state is not None and state not in STATES:
        raise HTTPException(422, f"unknown state {state!r}; expected one of {', '.join(STATES)}")
    q = select(Proposal, Facility.municipality_code).join(Facility).order_by(Proposal.id)
    if state:
        q = q.where(Proposal.state == state)
    if facility_id:
        q = q.where(Proposal.facility_id == facility_id)
    if institution_id:
        q = q.where(Proposal.institution_id == institution_id)
    if scope.municipalities is not None:
        q = q.where(Facility.municipality_code.in_(scope.municipalities))
    rows = [p for p, _ in session.execute(q.offset(max(offset, 0)).limit(max(min(limit, 10000), 0)))]
    return rows


@router.post("", response_model=ProposalOut, status_code=201)
def create_proposal(body: ManualProposalIn, request: Request, session: SessionDep, scope: ScopeDep):
    """Propose a pair by hand (origin ``manual``): a facility of your area and any institution it can
    partner with — a neighbouring prefecture's too, as runs take them (広域).  Every later run of the
    facility keeps the pair as a pinned pair while the proposal is open (proposed or contacted); it then
    moves like any proposal.  Refused (409) when the facility does not miss the roles, the institution
    does not give them, the pair was declined, the pair already has an open proposal, another pinned
    proposal holds a role, or the institution has no room.  Audited."""
    f = session.get(Facility, body.facility_id)
    i = session.get(Institution, body.institution_id)
    if f is None or i is None:
        raise HTTPException(422, "unknown facility_id or institution_id")
    scope.require_facility(f.municipality_code)
    # Every institution in the database, as a run sees them (the neighbours' included).
    region, forbidden = request.app.state.region_cache.get(session, None, for_matching=True)
    p = propose_by_hand(session, region, forbidden, f, i, set(body.roles), body.note, scope.user.id)
    session.commit()
    return p


@router.delete("/{proposal_id}", status_code=204)
def withdraw_proposal(proposal_id: DbId, session: SessionDep, scope: ScopeDep):
    """Withdraw a hand-made proposal not acted on yet (a mistake): deleted, kept in the audit log."""
    p = _get(session, scope, proposal_id)
    withdraw(session, p, scope.user.id)
    session.commit()


@router.get("/{proposal_id}", response_model=ProposalOut)
def get_proposal(proposal_id: DbId, session: SessionDep, scope: ScopeDep):
    return _get(session, scope, proposal_id)


@router.post("/{proposal_id}/state", response_model=ProposalOut)
def move_proposal(proposal_id: DbId, body: ProposalMove, session: SessionDep, scope: ScopeDep):
    """Record the coordinator's step: contacted, accepted (reserves capacity), contracted
    (writes the agreement) or declined (needs a reason; the pair is never proposed again)."""
    # A proposal's steps belong to its facility's area (``_get`` checks it).  Its institution may
    # be in a neighbouring prefecture (広域: runs take institutions across the border in reach);
    # the facility's coordinator is the one who contacts it, and accepting reserves its capacity.
    p = _get(session, scope, proposal_id)
    p = change_state(session, p, body.state, body.reason, scope.user.id)
    session.commit()
    return p


@router.post("/{proposal_id}/undo", response_model=ProposalOut)
def undo_proposal(proposal_id: DbId, session: SessionDep, scope: ScopeDep):
    """Take back the proposal's last step (contacted, accepted or declined), e.g. a mistaken click:
    back to the state before it, audited.  A contract cannot be taken back (409).  As the steps, it
    belongs to the facility's area, whatever the institution's prefecture."""
    p = _get(session, scope, proposal_id)
    p = undo_last(session, p, scope.user.id)
    session.commit()
    return p


@router.get("/{proposal_id}/contacts", response_model=list[ContactOut])
def list_contacts(proposal_id: DbId, session: SessionDep, scope: ScopeDep):
    """The proposal's contact log (date, person, note), oldest first."""
    _get(session, scope, proposal_id)
    return list(session.scalars(select(ProposalContact).where(ProposalContact.proposal_id == proposal_id)
                                .order_by(ProposalContact.contact_date, ProposalContact.id)))


@router.post("/{proposal_id}/contacts", response_model=ContactOut, status_code=201)
def add_contact(proposal_id: DbId, body: ContactIn, session: SessionDep, scope: ScopeDep):
    """Record a contact about the proposal: when, with whom (name and post), what was said."""
    p = _get(session, scope, proposal_id)
    if body.contact_date is not None and body.contact_date > date.today():
        raise HTTPException(422, "contact_date is in the future (連絡日に未来の日付は指定できません)")
    c = ProposalContact(proposal_id=p.id, contact_date=body.contact_date or date.today(), person=body.person,
                        note=body.note, created_by=scope.user.id)
    session.add(c)
    session.flush()
    audit.record(session, scope.user.id, "contact_added", "proposal_contact", str(c.id), None, audit.snapshot(c))
    session.commit()
    return c
