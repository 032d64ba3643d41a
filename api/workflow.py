"""The proposal workflow: proposed → contacted → accepted → contracted, or → declined.

Accepting reserves the institution's capacity with one conditional UPDATE, so two
coordinators accepting at the same moment can never over-allocate it (the
database re-checks the condition on the row it actually updates).  Contracting
writes the agreement; declining forbids the pair in future runs.
"""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from api import audit
from api.capacity import COLUMNS as CAPACITY_COLUMNS
from api.capacity import UNITS, held, shortfalls
from api.models import Facility, ForbiddenPair, Institution, Partnership, Proposal, now
from api.placement import require_confirmed
from matching.contract.schema import INSTITUTIONS, capacity_column, column
from matching.vocabulary import FACILITY_TYPES, Role, format_roles

TRANSITIONS: dict[str, set[str]] = {
    "proposed": {"contacted", "accepted", "declined"},
    "contacted": {"accepted", "declined"},
    "accepted": {"contracted", "declined"},
}
STATES = ("proposed", "contacted", "accepted", "contracted", "declined", "superseded")


def _claim(session: Session, proposal: Proposal, old: str, new: str) -> None:
    """Move the proposal from ``old`` to ``new`` in one conditional update: of two concurrent
    requests on the same proposal, the second finds it moved and gets 409."""
    claimed = session.execute(update(Proposal).where(Proposal.id == proposal.id, Proposal.state == old)
                              .values(state=new, updated_at=now()))
    if claimed.rowcount != 1:
        raise HTTPException(409, "the proposal was changed by someone else; reload it")


def change_state(session: Session, proposal: Proposal, new_state: str, reason: str | None,
                 user_id: int) -> Proposal:
    """Move one proposal; raises 409 for an impossible move or exhausted capacity."""
    old = proposal.state
    if new_state not in TRANSITIONS.get(old, set()):
        raise HTTPException(409, f"cannot move a proposal from {old} to {new_state}")
    if new_state == "declined" and not (reason and reason.strip()):
        raise HTTPException(422, "a reason is required to decline (辞退理由を入力してください)")
    if new_state == "accepted":
        require_confirmed(session.get(Facility, proposal.facility_id))
    before = audit.snapshot(proposal)
    # Claim the transition first: a concurrent request on the same proposal loses here.
    _claim(session, proposal, old, new_state)
    if new_state == "accepted":
        _reserve(session, proposal)
    elif new_state == "contracted":
        _contract(session, proposal)
    elif new_state == "declined":
        if old == "accepted":
            _release(session, proposal, consume=False)
        proposal.decline_reason = reason.strip()
        if session.scalar(select(ForbiddenPair).where(ForbiddenPair.facility_id == proposal.facility_id,
                                                      ForbiddenPair.institution_id == proposal.institution_id)) is None:
            session.add(ForbiddenPair(facility_id=proposal.facility_id, institution_id=proposal.institution_id,
                                      reason=reason.strip()))
    session.flush()
    session.refresh(proposal)
    audit.record(session, user_id, f"proposal_{new_state}", "proposal", str(proposal.id), before,
                 audit.snapshot(proposal))
    return proposal


#: What "take back" (``undo_last``) can undo: the last step, back to the state before it.
UNDOABLE = ("contacted", "accepted", "declined")


def undo_last(session: Session, proposal: Proposal, user_id: int) -> Proposal:
    """Take back a proposal's last step (a mistaken click): contacted, accepted (its reservation is
    given back) or declined (the pair may be proposed again; an accepted proposal's reservation is
    taken again, 409 when the capacity has gone meanwhile).  A contract is not taken back here: it
    wrote the agreement and used the capacity (the page asks before it is made).  Audited as
    ``proposal_undo`` with the states before and after."""
    from api.models import AuditEntry

    current = proposal.state
    if current not in UNDOABLE:
        raise HTTPException(409, f"cannot undo a proposal in state {current} "
                                 "(この状態の提案は取り消せません。契約締結は取り消せません)")
    last = session.scalar(select(AuditEntry).where(
        AuditEntry.entity == "proposal", AuditEntry.entity_id == str(proposal.id),
        AuditEntry.action.in_([f"proposal_{s}" for s in STATES] + ["proposal_undo"]))
        .order_by(AuditEntry.id.desc()).limit(1))
    if last is None or last.action != f"proposal_{current}" or not last.before \
            or (last.after or {}).get("state") != current:
        raise HTTPException(409, "nothing to undo for this proposal (取り消せる直前の操作がありません)")
    previous = last.before["state"]
    before = audit.snapshot(proposal)
    _claim(session, proposal, current, previous)
    if current == "accepted":
        _release(session, proposal, consume=False)
    elif current == "declined":
        session.execute(update(Proposal).where(Proposal.id == proposal.id).values(decline_reason=None))
        still_declined = session.scalar(select(Proposal.id).where(
            Proposal.facility_id == proposal.facility_id, Proposal.institution_id == proposal.institution_id,
            Proposal.id != proposal.id, Proposal.state == "declined").limit(1))
        if still_declined is None:
            pair = session.scalar(select(ForbiddenPair).where(ForbiddenPair.facility_id == proposal.facility_id,
                                                              ForbiddenPair.institution_id == proposal.institution_id))
            if pair is not None:
                session.delete(pair)
        if previous == "accepted":
            require_confirmed(session.get(Facility, proposal.facility_id))
            _reserve(session, proposal)
    session.flush()
    session.refresh(proposal)
    audit.record(session, user_id, "proposal_undo", "proposal", str(proposal.id), before, audit.snapshot(proposal))
    return proposal


def _residents(session: Session, facility_id: str) -> int:
    f = session.get(Facility, facility_id)
    return f.residents if f.residents else FACILITY_TYPES[f.facility_type].default_residents


def _holder(session: Session, p: Proposal) -> Proposal | None:
    """Another accepted proposal of the same pair that holds the pair's reservation (one pair =
    one agreement = capacity counted once, however many runs proposed it)."""
    return session.scalar(select(Proposal).where(
        Proposal.facility_id == p.facility_id, Proposal.institution_id == p.institution_id,
        Proposal.id != p.id, Proposal.state == "accepted",
        (Proposal.reserved_facility.is_(True)) | (Proposal.reserved_residents > 0)).limit(1))


def _reserve(session: Session, p: Proposal) -> None:
    new_partner = session.scalar(
        select(Partnership.id).where(Partnership.facility_id == p.facility_id,
                                     Partnership.institution_id == p.institution_id)) is None \
        and _holder(session, p) is None
    df = 1 if new_partner else 0
    dr = _residents(session, p.facility_id) if new_partner else 0
    inst = Institution.__table__.c
    done = session.execute(
        update(Institution)
        .where(Institution.institution_id == p.institution_id,
               (inst.capacity_facilities.is_(None)) | (inst.capacity_facilities - inst.reserved_facilities >= df),
               (inst.capacity_residents.is_(None)) | (inst.capacity_residents - inst.reserved_residents >= dr))
        .values(reserved_facilities=inst.reserved_facilities + df,
                reserved_residents=inst.reserved_residents + dr))
    if done.rowcount != 1:
        raise HTTPException(409, f"institution {p.institution_id} has no spare capacity left "
                                 "(受入枠を使い切っています)")
    session.execute(update(Proposal).where(Proposal.id == p.id)
                    .values(reserved_facility=bool(df), reserved_residents=dr))
    # Per role: the institution's row is locked by the update above, so this sum is not raced.
    inst_row = session.get(Institution, p.institution_id, populate_existing=True)
    over = shortfalls(p.institution_id, {c: getattr(inst_row, c) for c in CAPACITY_COLUMNS[2:]},
                      held(session, inst_row))
    if over:
        raise HTTPException(409, "。".join(
            f"医療機関 {p.institution_id} の{column(INSTITUTIONS, o['column']).label_ja} {o['value']} を"
            f"超えるため承諾できません（承諾済みの提案で {o['held']}{UNITS[o['column'].split('_')[1]]}）"
            for o in over))


def _release(session: Session, p: Proposal, consume: bool) -> None:
    """Give back (declined, deleted) or use up (contracted) what accepting reserved.  A declined
    proposal's reservation passes to another accepted proposal of the same pair, if there is one."""
    df = 1 if p.reserved_facility else 0
    dr = p.reserved_residents
    if not consume and (df or dr):
        heir = session.scalar(select(Proposal).where(
            Proposal.facility_id == p.facility_id, Proposal.institution_id == p.institution_id,
            Proposal.id != p.id, Proposal.state == "accepted").limit(1))
        if heir is not None:
            session.execute(update(Proposal).where(Proposal.id == heir.id)
                            .values(reserved_facility=bool(df), reserved_residents=dr))
            session.execute(update(Proposal).where(Proposal.id == p.id)
                            .values(reserved_facility=False, reserved_residents=0))
            return
    inst = Institution.__table__.c
    values = {"reserved_facilities": inst.reserved_facilities - df,
              "reserved_residents": inst.reserved_residents - dr}
    if consume:  # the spare capacity is now taken by the agreement itself (never below 0)
        values["capacity_facilities"] = case((inst.capacity_facilities - df < 0, 0),
                                             else_=inst.capacity_facilities - df)
        values["capacity_residents"] = case((inst.capacity_residents - dr < 0, 0),
                                            else_=inst.capacity_residents - dr)
        # Per-role spare capacity of the roles agreed (export_region subtracts them while accepted).
        for role in {Role(r) for r in p.roles.split(";") if r}:
            for unit, amount in (("facilities", df), ("residents", dr)):
                column = inst[capacity_column(unit, role)]
                values[column.name] = case((column - amount < 0, 0), else_=column - amount)
    session.execute(update(Institution).where(Institution.institution_id == p.institution_id).values(**values))
    session.execute(update(Proposal).where(Proposal.id == p.id).values(reserved_facility=False, reserved_residents=0))


def _contract(session: Session, p: Proposal) -> None:
    holder = _holder(session, p)
    if holder is not None and not (p.reserved_facility or p.reserved_residents):
        # The pair's reservation is held by another accepted proposal: this agreement uses it.
        session.execute(update(Proposal).where(Proposal.id == p.id).values(
            reserved_facility=holder.reserved_facility, reserved_residents=holder.reserved_residents))
        session.execute(update(Proposal).where(Proposal.id == holder.id)
                        .values(reserved_facility=False, reserved_residents=0))
        session.refresh(p)
    _release(session, p, consume=True)
    row = session.scalar(select(Partnership).where(Partnership.facility_id == p.facility_id,
                                                   Partnership.institution_id == p.institution_id))
    roles = {Role(r) for r in p.roles.split(";") if r}
    if row is None:
        session.add(Partnership(facility_id=p.facility_id, institution_id=p.institution_id, roles=format_roles(roles)))
    else:
        before = audit.snapshot(row)
        row.roles = format_roles(roles | {Role(r) for r in row.roles.split(";") if r})
        audit.record(session, None, "update", "partnership", str(row.id), before, audit.snapshot(row))


def release_for_deletion(session: Session, facility_id: str | None = None, institution_id: str | None = None,
                         user_id: int | None = None) -> None:
    """Before a facility (or institution) is deleted: give back what its accepted proposals reserved
    and record every proposal that goes with it in the audit log (they are cascade-deleted)."""
    q = select(Proposal)
    q = q.where(Proposal.facility_id == facility_id) if facility_id else q.where(Proposal.institution_id == institution_id)
    for p in session.scalars(q.order_by(Proposal.id)).all():
        before = audit.snapshot(p)
        if p.state == "accepted" and facility_id is not None:
            _release(session, p, consume=False)
        audit.record(session, user_id, "proposal_deleted", "proposal", str(p.id), before, None)
    q = select(Partnership)
    q = q.where(Partnership.facility_id == facility_id) if facility_id else q.where(Partnership.institution_id == institution_id)
    for row in session.scalars(q.order_by(Partnership.id)).all():
        audit.record(session, user_id, "partnership_deleted", "partnership", str(row.id), audit.snapshot(row), None)
    session.flush()


def spare(inst: Institution) -> tuple[int | None, int | None]:
    """Facilities and residents the institution can still take (None = no limit recorded)."""
    return (None if inst.capacity_facilities is None else inst.capacity_facilities - inst.reserved_facilities,
            None if inst.capacity_residents is None else inst.capacity_residents - inst.reserved_residents)


def consume_capacity(session: Session, institution_id: str, facility_id: str) -> bool:
    """Take one facility's worth of spare capacity for a new agreement, atomically; False when full."""
    dr = _residents(session, facility_id)
    inst = Institution.__table__.c
    done = session.execute(
        update(Institution)
        .where(Institution.institution_id == institution_id,
               (inst.capacity_facilities.is_(None)) | (inst.capacity_facilities - inst.reserved_facilities >= 1),
               (inst.capacity_residents.is_(None)) | (inst.capacity_residents - inst.reserved_residents >= dr))
        .values(capacity_facilities=inst.capacity_facilities - 1, capacity_residents=inst.capacity_residents - dr))
    return done.rowcount == 1


#: A hand-made proposal's roles are pinned in later runs while it is open (api.jobs._pins).
MANUAL_OPEN = ("proposed", "contacted")


def pinned(p: Proposal) -> bool:
    """Whether a run keeps the proposal's pair as a pinned pair: contacted, or proposed by hand and open."""
    return p.state == "contacted" or (p.origin == "manual" and p.state in MANUAL_OPEN)


def propose_by_hand(session: Session, region, forbidden, facility: Facility, institution: Institution,
                    roles: set[Role], note: str, user_id: int) -> Proposal:
    """Store a pair a coordinator proposes by hand (``origin`` manual, no run), after the checks a
    run's pin must pass: the facility misses the roles, the institution gives them (③ hospitals
    only), the pair was not declined, no open proposal of the pair and no other pin of the facility
    holds a role, and the institution has room for a new partner.  The travel limits and the
    institution's stated willingness do not bind it (a pinned pair, as in a run); the explanation
    says where it goes beyond them.  ``region``: the database's region for matching (every
    institution, the neighbouring prefectures' too: 広域), ``forbidden``: the declined pairs."""
    from matching import MatchParameters
    from matching.candidates import find_candidates
    from matching.parameters import Pair
    from matching.region import approximate_points
    from matching.roles import SLOTTED, slots_of
    from matching.status import facility_status
    from matching.vocabulary import roles_ja

    fid, iid = facility.facility_id, institution.institution_id
    if Role.ADMIT in roles and institution.kind == "clinic":
        raise HTTPException(422, f"institution {iid} is a clinic and cannot admit (③ is for hospitals only)")
    if any(p.facility_id == fid and p.institution_id == iid for p in forbidden):
        raise HTTPException(409, "この組合せは辞退されています（辞退が誤りだった場合は、その提案の「取り消す」で戻してください）")
    require_confirmed(facility)
    if fid not in region.facilities.index or iid not in region.institutions.index:
        raise HTTPException(409, "この施設または医療機関はマッチングの対象データにありません")
    region = region.subset([fid])
    status = facility_status(region)
    missing = set(status.at[fid, "missing_roles"])
    not_missing = sorted(roles - missing, key=lambda r: r.value)
    if not_missing:
        raise HTTPException(409, f"{roles_ja(set(not_missing))} はこの施設で既に確保済みか、承諾済みの提案があるか、施設種別に不要な役割です")
    offered = region.offered_roles(iid)
    not_offered = roles - offered
    if not_offered:
        raise HTTPException(409, f"医療機関 {iid} は {roles_ja(not_offered)} を提供していません")
    for p in session.scalars(select(Proposal).where(Proposal.facility_id == fid).order_by(Proposal.id)):
        held_roles = {Role(r) for r in p.roles.split(";") if r}
        if p.institution_id == iid and p.state in ("proposed", "contacted", "accepted"):
            raise HTTPException(409, f"この組合せの提案 {p.id} が対応中です")
        if pinned(p) and held_roles & roles:
            raise HTTPException(409, f"提案 {p.id} が {roles_ja(held_roles & roles)} で対応中です（固定された組合せ。先にその提案を辞退してください）")
    partner = session.scalar(select(Partnership.id).where(Partnership.facility_id == fid,
                                                          Partnership.institution_id == iid)) is not None
    if not partner:  # (an accepted proposal of the pair was refused above)
        fac_left, _ = spare(institution)
        if fac_left is not None and fac_left < 1:
            raise HTTPException(409, f"institution {iid} has no spare capacity left (受入枠を使い切っています)")
    params = MatchParameters(include_unreported=True, pinned=[Pair(facility_id=fid, institution_id=iid,
                                                                   roles=frozenset(roles))])
    cand = find_candidates(region, status, params)
    row = cand[(cand["institution_id"] == iid) & cand["pinned"]].iloc[0]
    minutes, km = float(row["minutes"]), float(row["km"])
    notes = ["担当者が手動で提案した組合せです（再実行でも固定して引き継ぎます）。"]
    beyond = [r for r in sorted(roles, key=lambda r: r.value)
              if minutes > params.limits[r].minutes + 1e-6 or (params.limits[r].km and km > params.limits[r].km + 1e-6)]
    if beyond:
        notes.append(f"{roles_ja(set(beyond))} は移動上限を超えます（移動 約{minutes:.0f}分・直線 {km:.1f}km）。")
    if institution.accepting is False:
        notes.append("医療機関は調査で新たな協力を「受入不可」と回答しています。")
    if note:
        notes.append(f"メモ：{note}")
    office_f, _ = approximate_points(region.facilities, [fid])
    office_i, _ = approximate_points(region.institutions, [iid])
    p = Proposal(run_id=None, origin="manual", facility_id=fid, institution_id=iid, roles=format_roles(roles),
                 distance_km=km, travel_minutes=minutes, extends_existing=partner, explanation="".join(notes),
                 location_uncertain=bool(office_f[0] or office_i[0]), state="proposed",
                 slots={code: list(slots_of(int(region.slots(code)[iid]))) if Role(code) in roles else []
                        for code in SLOTTED})
    session.add(p)
    session.flush()
    audit.record(session, user_id, "proposal_manual", "proposal", str(p.id), None, audit.snapshot(p))
    return p


def withdraw(session: Session, proposal: Proposal, user_id: int) -> None:
    """Take back a hand-made proposal nobody has acted on yet (state proposed): it is deleted, the
    audit log keeps it.  A run's proposal is not withdrawn (a re-run replaces it), an acted-on one
    is declined or its step taken back instead (409)."""
    if proposal.origin != "manual" or proposal.state != "proposed":
        raise HTTPException(409, "取り下げられるのは、まだ連絡していない手動の提案だけです（連絡後は辞退か取り消しを使ってください）")
    before = audit.snapshot(proposal)
    gone = session.execute(delete(Proposal).where(Proposal.id == proposal.id, Proposal.state == "proposed"))
    if gone.rowcount != 1:
        raise HTTPException(409, "the proposal was changed by someone else; reload it")
    audit.record(session, user_id, "proposal_withdrawn", "proposal", str(proposal.id), before, None)
