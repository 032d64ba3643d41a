"""The meeting workbook (地域医療構想調整会議): ``matching.reports.write_workbook`` for your area."""

import logging
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.deps import ScopeDep, SessionDep
from api.models import Area, Facility
from api.store import load_from_db
from matching import MatchParameters, match, verify

router = APIRouter(prefix="/reports", tags=["reports"])

log = logging.getLogger("api.reports")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/workbook", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "the workbook (.xlsx)"}})
def meeting_workbook(request: Request, session: SessionDep, scope: ScopeDep,
                     municipality_code: str | None = Query(default=None, pattern=r"^[0-9]{5}$"),
                     prefecture_code: str | None = Query(default=None, pattern=r"^[0-9]{2}$")):
    """The Excel workbook for a regional meeting, for your area (or one municipality of it):
    the status by municipality × facility type now and if every proposal were agreed, the
    proposals, the roles left uncovered with reasons.  The proposals are computed afresh like a
    new run (agreements and accepted proposals kept, declined pairs excluded), verified, and
    not stored."""
    if scope.role != "admin" and prefecture_code not in (None, scope.prefecture_code):
        raise HTTPException(403, "a workbook of another prefecture")
    if municipality_code is not None:
        area = session.get(Area, municipality_code)
        if area is None:
            raise HTTPException(404, "no such municipality")
        scope.require_facility(municipality_code)
        codes = {municipality_code}
        pref = area.prefecture_code
    else:
        pref = scope.prefecture_code or prefecture_code
        q = select(Area.municipality_code)
        if pref:
            q = q.where(Area.prefecture_code == pref)
        codes = {c for c in session.scalars(q) if scope.can_see_facility_in(c)}
    ids = list(session.scalars(select(Facility.facility_id).where(Facility.municipality_code.in_(codes)))) if codes else []
    if not ids:
        raise HTTPException(404, "no facilities in this area (対象区域に施設がありません)")
    # Imported here: the service starts even while the reports package is missing or broken.
    from matching.reports import write_workbook

    region, forbidden = load_from_db(session, pref, for_matching=True)
    region = region.subset(ids)
    params = MatchParameters(stage_time_limit=request.app.state.settings.stage_time_limit, forbidden=forbidden)
    result = match(region, params)
    problems = verify(region, result.proposals, params)
    if problems:
        error_id = uuid.uuid4().hex[:12]
        log.error("workbook: the verifier rejected the proposals (error id %s): %s", error_id, problems[:20])
        raise HTTPException(500, "検証で提案に不整合が見つかったため、会議資料を作成できませんでした"
                                 f"（エラーID {error_id}）")
    with tempfile.TemporaryDirectory() as tmp:
        data = write_workbook(Path(tmp, "meeting.xlsx"), region, result).read_bytes()
    name = "協力医療機関_会議資料.xlsx"
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"meeting.xlsx\"; filename*=UTF-8''{quote(name)}"})
