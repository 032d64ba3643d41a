"""The meeting workbook (地域医療構想調整会議): ``matching.reports.write_workbook`` for your area."""

import logging
import tempfile
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.deps import ScopeDep, SessionDep
from api.models import Area, Facility, Institution, Proposal, ProposalContact
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
        path = write_workbook(Path(tmp, "meeting.xlsx"), region, result)
        _add_workflow_sheet(session, path, ids)
        data = path.read_bytes()
    name = "協力医療機関_会議資料.xlsx"
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"meeting.xlsx\"; filename*=UTF-8''{quote(name)}"})


#: The sheet of the stored workflow: the proposals as the coordinators moved them, with their contact log.
WORKFLOW_SHEET = "提案の進捗と連絡記録"
STATE_JA = {"proposed": "提案中", "contacted": "連絡済み", "accepted": "承諾（受入枠を確保）", "contracted": "契約済み",
            "declined": "辞退"}


def _add_workflow_sheet(session, path: Path, facility_ids: list[str]) -> None:
    """Append the stored proposals of these facilities (all but those a re-run replaced), with their
    state, its date and the contact log (date, person, note), to the workbook at ``path``."""
    from openpyxl import load_workbook
    from openpyxl.styles import Alignment, Font

    from matching.vocabulary import Role, roles_ja

    wanted = set(facility_ids)
    rows = session.execute(select(Proposal, Facility.name, Area.municipality_name, Institution.name)
                           .join(Facility, Facility.facility_id == Proposal.facility_id)
                           .join(Area, Area.municipality_code == Facility.municipality_code)
                           .join(Institution, Institution.institution_id == Proposal.institution_id)
                           .where(Proposal.state != "superseded").order_by(Proposal.id)).all()
    rows = [r for r in rows if r[0].facility_id in wanted]
    contacts: dict[int, list[ProposalContact]] = {}
    ids = [r[0].id for r in rows]
    for i in range(0, len(ids), 500):
        for c in session.scalars(select(ProposalContact).where(ProposalContact.proposal_id.in_(ids[i:i + 500]))
                                 .order_by(ProposalContact.contact_date, ProposalContact.id)):
            contacts.setdefault(c.proposal_id, []).append(c)
    wb = load_workbook(path)
    ws = wb.create_sheet(WORKFLOW_SHEET)
    ws.append([f"{WORKFLOW_SHEET}（保存された提案の状態と連絡記録。{date.today():%Y年%m月%d日}現在）"])
    ws["A1"].font = Font(bold=True, size=13)
    header = ["提案ID", "施設ID", "施設名", "市区町村", "医療機関ID", "医療機関名", "役割", "状態", "状態の更新日",
              "辞退理由", "連絡記録（日付 相手：内容）"]
    ws.append(header)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for p, fname, muni, iname in rows:
        log = "\n".join(f"{c.contact_date:%Y-%m-%d} {c.person}" + (f"：{c.note}" if c.note else "")
                        for c in contacts.get(p.id, []))
        ws.append([p.id, p.facility_id, fname, muni, p.institution_id, iname,
                   roles_ja({Role(r) for r in p.roles.split(";") if r}), STATE_JA.get(p.state, p.state),
                   p.updated_at.strftime("%Y-%m-%d") if p.updated_at else "", p.decline_reason or "", log])
        ws.cell(ws.max_row, len(header)).alignment = Alignment(wrap_text=True, vertical="top")
    for col, width in zip("ABCDEFGHIJK", (8, 10, 28, 12, 10, 28, 14, 18, 12, 20, 50), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A3"
    wb.save(path)
