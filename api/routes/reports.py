"""The meeting workbook (地域医療構想調整会議): ``matching.reports.write_workbook`` for your area, read
from the stored runs and workflow (never recomputed)."""

import logging
import tempfile
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.deps import ScopeDep, SessionDep
from api.models import (
    Area,
    AuditEntry,
    Facility,
    Institution,
    MatchRun,
    Proposal,
    ProposalContact,
    UnmatchedRole,
)

router = APIRouter(prefix="/reports", tags=["reports"])

log = logging.getLogger("api.reports")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/workbook", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "the workbook (.xlsx)"}})
def meeting_workbook(request: Request, session: SessionDep, scope: ScopeDep,
                     municipality_code: str | None = Query(default=None, pattern=r"^[0-9]{5}$"),
                     prefecture_code: str | None = Query(default=None, pattern=r"^[0-9]{2}$")):
    """The Excel workbook for a regional meeting, for your area (or one municipality of it), titled
    with the area's name and dated: the status by municipality × facility type now (agreements in
    force) and if every open proposal were agreed, the open proposals, the roles the latest run left
    uncovered with reasons, and the workflow — each proposal's state with its date and contact log.
    Everything is read from what is stored (runs, proposals as the coordinators moved them, hand-made
    ones included); nothing is recomputed and nothing is written."""
    # Imported here: the service starts even while the reports package is missing or broken.
    from matching.reports import write_workbook
    from matching.reports.context import PREFECTURE_NAMES, ReportContext, parameter_lines, run_date

    if scope.role != "admin" and prefecture_code not in (None, scope.prefecture_code):
        raise HTTPException(403, "a workbook of another prefecture")
    if municipality_code is not None:
        area = session.get(Area, municipality_code)
        if area is None:
            raise HTTPException(404, "no such municipality")
        scope.require_facility(municipality_code)
        codes = {municipality_code}
        pref = area.prefecture_code
        place = PREFECTURE_NAMES.get(pref, "") + area.municipality_name
    else:
        pref = scope.prefecture_code or prefecture_code
        q = select(Area.municipality_code)
        if pref:
            q = q.where(Area.prefecture_code == pref)
        codes = {c for c in session.scalars(q) if scope.can_see_facility_in(c)}
        place = (PREFECTURE_NAMES.get(pref, "") + "・".join(session.scalars(
            select(Area.municipality_name).where(Area.municipality_code.in_(codes)).order_by(Area.municipality_code)))
            if scope.role == "municipal" else PREFECTURE_NAMES.get(pref, "全域") if pref else "全域")
    ids = list(session.scalars(select(Facility.facility_id).where(Facility.municipality_code.in_(codes)))) if codes else []
    if not ids:
        raise HTTPException(404, "no facilities in this area (対象区域に施設がありません)")
    # Every institution (a partner may be a neighbouring prefecture's); the area's own areas only.
    region, _ = request.app.state.region_cache.get(session, None)
    region = region.subset(ids)
    region.areas = region.areas[region.areas.index.isin(codes)]
    result, run = _stored_result(session, region, ids, request.app.state.settings)
    ctx = ReportContext(
        title=f"協力医療機関の確保状況とマッチング提案（{place}）", region=place, created=run_date(),
        data_date=_data_date(session),
        parameters=parameter_lines(result.params) + [("提案の出典", _source_text(run))])
    with tempfile.TemporaryDirectory() as tmp:
        path = write_workbook(Path(tmp, "meeting.xlsx"), region, result, context=ctx)
        _add_workflow_sheet(session, path, ids)
        data = path.read_bytes()
    name = f"協力医療機関_会議資料_{place}_{ctx.created:%Y%m%d}.xlsx"
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"meeting.xlsx\"; filename*=UTF-8''{quote(name)}"})


#: Proposals the workbook counts as open (if all were agreed: the 提案後 status).
OPEN = ("proposed", "contacted", "accepted")


def _stored_result(session, region, facility_ids: list[str], settings):
    """What the workbook reads, in the shape of a run's result, from what is stored: the status now
    (agreements in force), the open proposals (as the coordinators moved them, hand-made ones too),
    the status if they were all agreed, and the uncovered roles of each facility's latest run (those
    still missing).  Also the latest finished run of these facilities (None when there is none)."""
    import pandas as pd

    from api.jobs import RunError, run_parameters
    from matching import MatchParameters
    from matching.optimise.run import PROPOSAL_COLUMNS
    from matching.status import facility_status
    from matching.vocabulary import Role, roles_ja

    wanted = set(facility_ids)
    stored = [p for p in session.scalars(select(Proposal).where(Proposal.state.in_(OPEN)).order_by(Proposal.id))
              if p.facility_id in wanted]
    accepting = region.institutions["accepting"]
    proposals = pd.DataFrame([{
        "facility_id": p.facility_id, "institution_id": p.institution_id, "roles": p.roles,
        "distance_km": p.distance_km, "travel_minutes": p.travel_minutes, "extends_existing": p.extends_existing,
        "not_yet_asked": bool(pd.isna(accepting.get(p.institution_id, False))),
        "pinned": p.state == "contacted" or p.origin == "manual", "location_uncertain": p.location_uncertain,
        "explanation": p.explanation} for p in stored], columns=PROPOSAL_COLUMNS)
    before = facility_status(region)
    agreed = pd.concat([region.partnerships[["facility_id", "institution_id", "roles"]],
                        pd.DataFrame({"facility_id": [p.facility_id for p in stored],
                                      "institution_id": [p.institution_id for p in stored],
                                      "roles": [frozenset(Role(r) for r in p.roles.split(";") if r) for p in stored]})],
                       ignore_index=True)
    after = facility_status(region, agreed)
    # Each facility's latest finished run: the one with the highest id that proposed for it or left it uncovered.
    done = set(session.scalars(select(MatchRun.id).where(MatchRun.state == "done")))
    latest: dict[str, int] = {}
    for fid, rid in [*session.execute(select(Proposal.facility_id, Proposal.run_id)),
                     *session.execute(select(UnmatchedRole.facility_id, UnmatchedRole.run_id))]:
        if fid in wanted and rid in done:
            latest[fid] = max(latest.get(fid, 0), rid)
    rows = []
    for u in session.scalars(select(UnmatchedRole).order_by(UnmatchedRole.id)):
        if latest.get(u.facility_id) != u.run_id:
            continue
        missing = set(after.at[u.facility_id, "missing_roles"]) if u.facility_id in after.index else set()
        if u.role and Role(u.role) not in missing and u.reason_code != "not_tracked":
            continue  # covered since (an agreement, or a proposal made after the run)
        rows.append({"facility_id": u.facility_id, "missing_roles": roles_ja(missing), "role": u.role,
                     "reason_code": u.reason_code, "reason": u.reason, "fix": u.fix, "fix_institution_id": "",
                     "fix_amount": None, "location_uncertain": u.location_uncertain})
    unmatched = pd.DataFrame(rows, columns=["facility_id", "missing_roles", "role", "reason_code", "reason", "fix",
                                            "fix_institution_id", "fix_amount", "location_uncertain"])
    run = session.get(MatchRun, max(latest.values())) if latest else None
    params = MatchParameters()
    if run is not None:
        try:
            params = run_parameters(run.parameters, settings.stage_time_limit, settings.road_networks)
        except (RunError, ValueError):
            log.warning("workbook: run %s's parameters no longer load; the defaults are shown", run.id)
    optimal = bool((run.summary or {}).get("optimal")) if run is not None else False
    return SimpleNamespace(params=params, status_before=before, status_after=after, proposals=proposals,
                           unmatched=unmatched, optimal=optimal), run


def _source_text(run) -> str:
    if run is None:
        return "マッチングの実行はまだありません（提案は手動で登録したものだけ）"
    return (f"保存された実行結果（直近の実行 {run.id}、{run.created_at:%Y年%m月%d日}）と、担当者による提案の状態"
            "（連絡済み・承諾・辞退・契約済み）と手動の提案。会議資料のために再計算はしていません")


def _data_date(session):
    """The date of the latest import into the service (the audit log's), else None."""
    at = session.scalar(select(AuditEntry.at).where(AuditEntry.action == "import").order_by(AuditEntry.id.desc()).limit(1))
    return at.date() if at is not None else None


#: The sheet of the stored workflow: the proposals as the coordinators moved them, with their contact log.
WORKFLOW_SHEET = "提案の進捗と連絡記録"
STATE_JA = {"proposed": "提案中", "contacted": "連絡済み", "accepted": "承諾（受入枠を確保）", "contracted": "契約済み",
            "declined": "辞退"}
#: The workflow's steps, each with its date column, and the steps on the path to each state.
STEPS = ("contacted", "accepted", "contracted", "declined")
PATHS = {"contacted": ("contacted",), "accepted": ("contacted", "accepted"),
         "contracted": ("contacted", "accepted", "contracted"), "declined": ("contacted", "accepted", "declined")}


def _add_workflow_sheet(session, path: Path, facility_ids: list[str]) -> None:
    """Append the stored proposals of these facilities (all but those a re-run replaced), with their
    state, its date and the contact log (date, person, note), to the workbook at ``path``."""
    from openpyxl import load_workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    from matching import safecells
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
    # The date of each step (the audit log's latest entry for it), shown for the steps on the path
    # to the proposal's present state (a step taken back is not on it).
    steps: dict[tuple[int, str], object] = {}
    names = {f"proposal_{s}": s for s in STEPS}
    for i in range(0, len(ids), 500):
        for e in session.scalars(select(AuditEntry).where(
                AuditEntry.entity == "proposal", AuditEntry.action.in_(list(names)),
                AuditEntry.entity_id.in_([str(x) for x in ids[i:i + 500]])).order_by(AuditEntry.id)):
            steps[(int(e.entity_id), names[e.action])] = e.at
    wb = load_workbook(path)
    ws = wb.create_sheet(WORKFLOW_SHEET)
    ws.append([f"{WORKFLOW_SHEET}（保存された提案の状態と連絡記録。{date.today():%Y年%m月%d日}現在）"])
    ws["A1"].font = Font(bold=True, size=13)
    header = ["提案ID", "施設ID", "施設名", "市区町村", "医療機関ID", "医療機関名", "役割", "由来", "状態", "状態の更新日",
              *[f"{STATE_JA[s].split('（')[0]}の日" for s in STEPS], "辞退理由", "連絡記録（日付 相手：内容）"]
    ws.append(header)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for p, fname, muni, iname in rows:
        log = "\n".join(f"{c.contact_date:%Y-%m-%d} {c.person}" + (f"：{c.note}" if c.note else "")
                        for c in contacts.get(p.id, []))
        path_to = PATHS.get(p.state, ())
        dates = [steps[(p.id, s)].strftime("%Y-%m-%d") if s in path_to and (p.id, s) in steps else "" for s in STEPS]
        ws.append([p.id, p.facility_id, fname, muni, p.institution_id, iname,
                   roles_ja({Role(r) for r in p.roles.split(";") if r}), "手動" if p.origin == "manual" else f"実行 {p.run_id}",
                   STATE_JA.get(p.state, p.state), p.updated_at.strftime("%Y-%m-%d") if p.updated_at else "",
                   *dates, p.decline_reason or "", log])
        ws.cell(ws.max_row, len(header)).alignment = Alignment(wrap_text=True, vertical="top")
    for col, width in enumerate((8, 10, 28, 12, 10, 28, 14, 10, 18, 12, 12, 12, 12, 12, 20, 50), start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A3"
    safecells.workbook(wb)  # names and notes are user input: no text cell becomes a formula
    wb.save(path)
