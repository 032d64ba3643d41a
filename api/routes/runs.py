from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from sqlalchemy import select, update

from api import audit
from api.deps import ScopeDep, SessionDep
from api.models import Facility, MatchRun, Proposal, UnmatchedRole
from api.runqueue import CANCELLED
from api.schemas import DbId, ProposalOut, RunIn, RunOut, UnmatchedOut
from matching.parameters import MatchParameters, ParameterError

router = APIRouter(prefix="/runs", tags=["match runs"])


def _get(session, scope, run_id: int) -> MatchRun:
    run = session.get(MatchRun, run_id)
    if run is None:
        raise HTTPException(404, "no such run")
    if scope.role == "prefecture" and run.prefecture_code != scope.prefecture_code:
        raise HTTPException(403, "a run of another prefecture")
    if scope.role == "municipal" and run.municipality_code not in scope.municipalities:
        raise HTTPException(403, "a run of another area")
    return run


@router.post("", response_model=RunOut, status_code=202)
def start_run(body: RunIn, request: Request, background: BackgroundTasks, session: SessionDep, scope: ScopeDep):
    """Queue a match run for your area (poll it for progress; ``POST /runs/{id}/cancel`` stops it).

    Runs of one area execute one at a time, others wait (state ``queued``).  Accepted proposals are kept and their capacity stays reserved; declined pairs
    are never proposed again.  ``facility_ids`` re-runs only those facilities."""
    pref, muni = body.prefecture_code, body.municipality_code
    if scope.role == "municipal":
        if muni not in (None, scope.user.municipality_code) or pref not in (None, scope.prefecture_code):
            raise HTTPException(403, "municipal coordinators run matching for their own municipality")
        pref, muni = scope.prefecture_code, scope.user.municipality_code
    elif scope.role == "prefecture":
        if pref not in (None, scope.prefecture_code):
            raise HTTPException(403, "a run of another prefecture")
        pref = scope.prefecture_code
        if muni is not None:
            scope.require_facility(muni)
    if body.facility_ids:
        found = dict(session.execute(select(Facility.facility_id, Facility.municipality_code)
                                     .where(Facility.facility_id.in_(body.facility_ids))).all())
        missing = sorted(set(body.facility_ids) - set(found))
        if missing:
            raise HTTPException(422, f"unknown facility_ids: {', '.join(missing[:20])}")
        for code in set(found.values()):
            scope.require_facility(code)
    given = body.parameters.model_dump(exclude_unset=True)
    networks = request.app.state.settings.road_networks
    key = body.parameters.travel.road_network
    if key is not None and key not in networks:
        raise HTTPException(422, f"parameters.travel.road_network: 道路網 {key!r} はサーバーに登録されていません"
                                 f"（登録済み: {', '.join(sorted(networks)) or 'なし'}）")
    if "limits" in given:
        given["limits"] = {r: {k: v for k, v in lim.items() if v is not None} for r, lim in given["limits"].items()}
    try:
        params = MatchParameters.from_mapping(given, source="parameters")
    except ParameterError as exc:
        raise HTTPException(422, str(exc)) from None
    run = MatchRun(created_by=scope.user.id, prefecture_code=pref, municipality_code=muni,
                   parameters=params.model_dump(mode="json", exclude={"stage_time_limit"}),
                   facility_ids=body.facility_ids, state="queued", progress=0.0, message="待機中")
    request.app.state.rate_limits.hit("runs", scope.user.id)
    session.add(run)
    session.flush()
    audit.record(session, scope.user.id, "start", "match_run", str(run.id), None, audit.snapshot(run))
    session.commit()
    # The run waits in the queue (api.runqueue); after the answer, a free worker takes it.
    background.add_task(request.app.state.run_queue.dispatch)
    return run


@router.get("", response_model=list[RunOut])
def list_runs(session: SessionDep, scope: ScopeDep):
    q = select(MatchRun).order_by(MatchRun.id.desc())
    if scope.role == "prefecture":
        q = q.where(MatchRun.prefecture_code == scope.prefecture_code)
    elif scope.role == "municipal":
        q = q.where(MatchRun.municipality_code == scope.user.municipality_code)
    return list(session.scalars(q.limit(200)))


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: DbId, session: SessionDep, scope: ScopeDep):
    return _get(session, scope, run_id)


@router.get("/{run_id}/proposals", response_model=list[ProposalOut])
def run_proposals(run_id: DbId, session: SessionDep, scope: ScopeDep):
    run = _get(session, scope, run_id)
    rows = session.execute(select(Proposal, Facility.municipality_code).join(Facility)
                           .where(Proposal.run_id == run.id).order_by(Proposal.id))
    return [p for p, code in rows if scope.can_see_facility_in(code)]


@router.get("/{run_id}/unmatched", response_model=list[UnmatchedOut])
def run_unmatched(run_id: DbId, session: SessionDep, scope: ScopeDep):
    run = _get(session, scope, run_id)
    rows = session.execute(select(UnmatchedRole, Facility.municipality_code)
                           .join(Facility, Facility.facility_id == UnmatchedRole.facility_id)
                           .where(UnmatchedRole.run_id == run.id).order_by(UnmatchedRole.id))
    return [u for u, code in rows if scope.can_see_facility_in(code)]


@router.post("/{run_id}/cancel", response_model=RunOut)
def cancel_run(run_id: DbId, session: SessionDep, scope: ScopeDep):
    """Cancel a queued or running run.  A queued run is cancelled at once; a running one stops at
    its next step (a solve in progress finishes first) and saves nothing.  409 if it has ended."""
    run = _get(session, scope, run_id)
    if scope.role == "municipal" and run.municipality_code != scope.user.municipality_code:
        raise HTTPException(403, "a run of another area")
    before = audit.snapshot(run)
    queued = session.execute(update(MatchRun).where(MatchRun.id == run.id, MatchRun.state == "queued")
                             .values(state="cancelled", cancel_requested=True, message=CANCELLED))
    if queued.rowcount != 1:
        running = session.execute(update(MatchRun).where(MatchRun.id == run.id, MatchRun.state == "running")
                                  .values(cancel_requested=True, message="取り消しを受け付けました（次の段階で停止します）"))
        if running.rowcount != 1:
            session.rollback()
            session.refresh(run)
            raise HTTPException(409, f"この実行は既に終了しています（状態: {run.state}）")
    session.commit()
    session.refresh(run)
    audit.record(session, scope.user.id, "cancel", "match_run", str(run.id), before, audit.snapshot(run))
    session.commit()
    return run
