"""Match runs as background jobs: export the scope, run the library, store the results.

A run is recorded before it starts (parameters, scope, who), reports progress
while it works, and keeps its proposals and unmatched roles for re-reading.
Accepted proposals are kept (they count as agreements and their capacity stays
reserved); contacted proposals, and pairs a coordinator proposed by hand (origin
``manual``) while open, are carried into the new run as pinned pairs (the call was
made, or a person chose the pair: the record stays, and the pair is planned around);
declined pairs are forbidden; only untouched (``proposed``) proposals of earlier runs
for the facilities a new run covers are marked ``superseded``, each in the audit log.  The run's summary lists
what it carried over.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api import audit
from api.models import MatchRun, Proposal, UnmatchedRole, now
from api.runqueue import CANCELLED
from api.store import load_from_db
from api.workflow import MANUAL_OPEN, pinned
from matching import MatchParameters, match, summary, verify
from matching.candidates import facilities_to_match
from matching.optimise.model import InfeasibleError
from matching.optimise.run import SLOT_COLUMNS
from matching.parameters import Pair
from matching.roles import SLOT_CODES, SLOTTED
from matching.status import facility_status
from matching.vocabulary import Role

log = logging.getLogger("api.jobs")


def _progress(session: Session, run: MatchRun, value: float, message: str) -> None:
    run.progress = value
    run.message = message
    session.commit()


def run_parameters(stored: dict, stage_time_limit: float, road_networks: dict[str, Path]) -> MatchParameters:
    """The library's parameters for a stored run: the road network key becomes its registered path."""
    data = {**stored, "stage_time_limit": stage_time_limit}
    key = (data.get("travel") or {}).get("road_network")
    if key is not None:
        if str(key) not in road_networks:
            raise RunError(f"道路網 {key!r} はサーバーに登録されていません")
        data["travel"] = {**data["travel"], "road_network": str(road_networks[str(key)])}
    return MatchParameters.model_validate(data)


def _pins(region, carried: list[Proposal], forbidden: list[Pair], params: MatchParameters) -> list[Pair]:
    """Contacted and open hand-made proposals as pinned pairs of the new run (accepted ones already
    count as agreements in the exported region).  A role is pinned only where the pin can hold: the
    institution still offers it, the facility still misses it and is one the run proposes for (an
    annual report on file, unless the run includes facilities without one), and no earlier pin of
    the facility took it.  The proposals themselves stay as they are."""
    banned = {(p.facility_id, p.institution_id) for p in forbidden}
    missing = facilities_to_match(facility_status(region), params)["missing_roles"]
    taken: dict[str, set[Role]] = {}
    roles_of: dict[tuple[str, str], set[Role]] = {}
    for c in carried:
        if not pinned(c) or c.institution_id not in region.institutions.index \
                or (c.facility_id, c.institution_id) in banned or c.facility_id not in missing.index:
            continue
        want = {Role(r) for r in c.roles.split(";") if r} & set(missing.at[c.facility_id]) \
            & set(region.offered_roles(c.institution_id))
        want -= taken.get(c.facility_id, set())
        if want:
            taken.setdefault(c.facility_id, set()).update(want)
            roles_of.setdefault((c.facility_id, c.institution_id), set()).update(want)
    return [Pair(facility_id=f, institution_id=i, roles=frozenset(r)) for (f, i), r in roles_of.items()]


class RunError(RuntimeError):
    """A failure whose message is meant for the user (Japanese, no server detail)."""


class Cancelled(Exception):
    """The run's cancellation was requested (``POST /runs/{id}/cancel``); nothing is saved."""


def _check_cancel(session: Session, run: MatchRun) -> None:
    """Cancellation takes effect between steps (a solve in progress is not interrupted)."""
    if session.scalar(select(MatchRun.cancel_requested).where(MatchRun.id == run.id)):
        raise Cancelled


def execute_run(sessions: sessionmaker[Session], run_id: int, stage_time_limit: float = 20.0,
                road_networks: dict[str, Path] | None = None, regions=None) -> None:
    """Run one claimed match run (state ``running``, see :mod:`api.runqueue`) to completion, failure
    or cancellation, with the reason recorded.  Its results are written in one transaction at the
    end, so a run interrupted before that leaves nothing behind and can simply be run again."""
    with sessions() as session:
        run = session.get(MatchRun, run_id)
        _progress(session, run, 0.05, "地域データを準備しています")
        try:
            # Every institution in the database is a candidate, the neighbouring prefectures' too
            # (広域: facilities near a border may partner across it, issue 13); the run's own
            # facilities are its prefecture's.  The travel limits decide who is in reach.
            region, forbidden = (regions.get(session, None, for_matching=True) if regions
                                 else load_from_db(session, None, for_matching=True))
            ids = run.facility_ids
            if run.prefecture_code is not None:
                codes = set(region.areas.index[region.areas["prefecture_code"] == run.prefecture_code])
                own = set(region.facilities.index[region.facilities["municipality_code"].isin(codes)])
                ids = sorted(own if ids is None else own & set(ids))
            if run.municipality_code is not None:
                own = set(region.facilities.index[region.facilities["municipality_code"] == run.municipality_code])
                ids = sorted(own if ids is None else own & set(ids))
            if ids is not None:
                region = region.subset(ids)
            params = run_parameters(run.parameters, stage_time_limit, road_networks or {})
            carried = session.scalars(select(Proposal).where(
                Proposal.state.in_(("contacted", "accepted")) | ((Proposal.origin == "manual")
                                                                & Proposal.state.in_(MANUAL_OPEN)),
                Proposal.facility_id.in_(list(region.facilities.index))).order_by(Proposal.id)).all()
            pins = _pins(region, carried, forbidden, params)
            params = params.model_copy(update={"forbidden": params.forbidden + forbidden,
                                               "pinned": params.pinned + pins})
            _check_cancel(session, run)
            _progress(session, run, 0.2, "候補を探索し、最適化しています")
            try:
                result = match(region, params)
            except InfeasibleError:
                raise RunError("固定した組合せ（連絡済みの提案・手動の提案）を医療機関の受入枠の中で両立できません。"
                               "受入枠を見直すか、いずれかの提案を辞退・取り下げてから再実行してください") from None
            problems = verify(region, result.proposals, params)
            if problems:
                log.error("run %s: the verifier rejected the proposals: %s", run_id, problems[:20])
                raise RunError("検証で提案に不整合が見つかったため、結果を保存しませんでした")
            _progress(session, run, 0.9, "結果を保存しています")
            # Done only if no cancellation came first: one conditional update decides (and, on
            # PostgreSQL, locks the run's row against a concurrent cancel until this commit).
            finished = session.execute(update(MatchRun).where(MatchRun.id == run.id,
                                                              MatchRun.cancel_requested.is_(False))
                                       .values(state="done"))
            if finished.rowcount != 1:
                raise Cancelled
            covered = list(result.status_before.index)
            # Only untouched proposals of runs are replaced; contacted, accepted and hand-made ones are
            # carried over.
            for old in session.scalars(select(Proposal).where(
                    Proposal.facility_id.in_(covered), Proposal.state == "proposed", Proposal.origin == "run",
                    Proposal.run_id != run.id).order_by(Proposal.id)).all():
                before = audit.snapshot(old)
                old.state = "superseded"
                old.updated_at = now()
                audit.record(session, run.created_by, "proposal_superseded", "proposal", str(old.id), before,
                             {**audit.snapshot(old), "superseded_by_run": run.id})
            kept: dict[tuple[str, str], set[str]] = {}
            for c in carried:
                kept.setdefault((c.facility_id, c.institution_id), set()).update(r for r in c.roles.split(";") if r)
            # With time slots the proposals say which slots each partner gives per role
            # (consult_slots, visit_slots); without, a partner gives its roles around the clock.
            slotted = set(SLOT_COLUMNS) <= set(result.proposals.columns)
            for p in result.proposals.itertuples(index=False):
                roles = [r for r in p.roles.split(";") if r]
                extra = [r for r in roles if r not in kept.get((p.facility_id, p.institution_id), set())]
                if not extra:
                    continue  # the carried proposal stands for this pair
                given = {code: [s for s in getattr(p, column).split(";") if s] if slotted else list(SLOT_CODES)
                         for code, column in zip(SLOTTED, SLOT_COLUMNS, strict=True)}
                session.add(Proposal(run_id=run.id, facility_id=p.facility_id, institution_id=p.institution_id,
                                     roles=";".join(extra), distance_km=float(p.distance_km),
                                     travel_minutes=float(p.travel_minutes),
                                     extends_existing=bool(p.extends_existing) or len(extra) < len(roles),
                                     explanation=p.explanation,
                                     location_uncertain=bool(getattr(p, "location_uncertain", False)),
                                     slots={code: given[code] if code in extra else [] for code in SLOTTED}))
            for u in result.unmatched.itertuples(index=False):
                session.add(UnmatchedRole(run_id=run.id, facility_id=u.facility_id, role=u.role,
                                          reason_code=u.reason_code, reason=u.reason, fix=u.fix,
                                          location_uncertain=bool(getattr(u, "location_uncertain", False))))
            carried_over = [{"proposal_id": c.id, "run_id": c.run_id, "facility_id": c.facility_id,
                             "institution_id": c.institution_id, "state": c.state, "roles": c.roles,
                             "origin": c.origin,
                             "pinned": any(x.facility_id == c.facility_id and x.institution_id == c.institution_id
                                           for x in pins)} for c in carried]
            run.summary = {**summary(result), "carried_over": carried_over}
            run.state = "done"
            audit.record(session, run.created_by, "run_done", "match_run", str(run.id), None,
                         {"proposals": len(result.proposals), "carried_over": [c.id for c in carried]})
            _progress(session, run, 1.0, f"完了（連絡済み・承諾済み・手動の提案 {len(carried)} 件を引き継ぎました）"
                      if carried else "完了")
        except Cancelled:
            session.rollback()
            run = session.get(MatchRun, run_id)
            before = audit.snapshot(run)
            run.state, run.message = "cancelled", CANCELLED
            audit.record(session, run.created_by, "run_cancelled", "match_run", str(run.id), before,
                         audit.snapshot(run))
            session.commit()
        except Exception as exc:  # the run records why it failed; the service stays up
            session.rollback()
            error_id = uuid.uuid4().hex[:12]
            # The traceback (with server paths) goes to the server log only, under the error id.
            log.exception("match run %s failed (error id %s)", run_id, error_id)
            reason = str(exc) if isinstance(exc, RunError) else "内部エラーが発生しました"
            run = session.get(MatchRun, run_id)
            run.state = "failed"
            run.message = (f"マッチングの実行に失敗しました: {reason}。"
                           f"管理者に問い合わせる際はエラーID {error_id} をお伝えください")
            run.summary = {"error_id": error_id}
            session.commit()
