"""Match runs as background jobs: export the scope, run the library, store the results.

A run is recorded before it starts (parameters, scope, who), reports progress
while it works, and keeps its proposals and unmatched roles for re-reading.
Accepted proposals are kept (they count as agreements and their capacity stays
reserved); declined pairs are forbidden; still-open proposals of the facilities
a new run covers are marked ``superseded``.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api import audit
from api.models import MatchRun, Proposal, UnmatchedRole
from api.store import load_from_db
from matching import MatchParameters, match, summary, verify

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


class RunError(RuntimeError):
    """A failure whose message is meant for the user (Japanese, no server detail)."""


def execute_run(sessions: sessionmaker[Session], run_id: int, stage_time_limit: float = 20.0,
                road_networks: dict[str, Path] | None = None) -> None:
    """Run one queued match run to completion (or failure, with the reason recorded)."""
    with sessions() as session:
        run = session.get(MatchRun, run_id)
        run.state = "running"
        _progress(session, run, 0.05, "地域データを準備しています")
        try:
            region, forbidden = load_from_db(session, run.prefecture_code, for_matching=True)
            ids = run.facility_ids
            if run.municipality_code is not None:
                own = set(region.facilities.index[region.facilities["municipality_code"] == run.municipality_code])
                ids = sorted(own if ids is None else own & set(ids))
            if ids is not None:
                region = region.subset(ids)
            params = run_parameters(run.parameters, stage_time_limit, road_networks or {})
            params = params.model_copy(update={"forbidden": params.forbidden + forbidden})
            _progress(session, run, 0.2, "候補を探索し、最適化しています")
            result = match(region, params)
            problems = verify(region, result.proposals, params)
            if problems:
                log.error("run %s: the verifier rejected the proposals: %s", run_id, problems[:20])
                raise RunError("検証で提案に不整合が見つかったため、結果を保存しませんでした")
            _progress(session, run, 0.9, "結果を保存しています")
            covered = list(result.status_before.index)
            session.execute(update(Proposal).where(Proposal.facility_id.in_(covered),
                                                   Proposal.state.in_(("proposed", "contacted")),
                                                   Proposal.run_id != run.id).values(state="superseded"))
            for p in result.proposals.itertuples(index=False):
                session.add(Proposal(run_id=run.id, facility_id=p.facility_id, institution_id=p.institution_id,
                                     roles=p.roles, distance_km=float(p.distance_km),
                                     travel_minutes=float(p.travel_minutes), extends_existing=bool(p.extends_existing),
                                     explanation=p.explanation))
            for u in result.unmatched.itertuples(index=False):
                session.add(UnmatchedRole(run_id=run.id, facility_id=u.facility_id, role=u.role,
                                          reason_code=u.reason_code, reason=u.reason, fix=u.fix))
            run.summary = summary(result)
            run.state = "done"
            audit.record(session, run.created_by, "run_done", "match_run", str(run.id), None,
                         {"proposals": len(result.proposals)})
            _progress(session, run, 1.0, "完了")
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
