import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse

from api.deps import ScopeDep, SessionDep
from api.schemas import ImportOut
from api.store import CapacityConflict, ScopeError, import_region
from matching.contract import RegionValidationError, load_region

router = APIRouter(prefix="/imports", tags=["import"])


def _error_row(e) -> dict:
    """One bad cell: ``message`` in Japanese with its place (as the CLI prints it), ``message_en`` the
    loader's English."""
    return {"file": e.file, "row": e.row, "column": e.column, "message": e.ja or e.message,
            "message_en": e.message, "value": e.value}


@router.post("", response_model=ImportOut, responses={422: {"description": "row-level errors; nothing written"},
                                                    403: {"description": "rows outside your prefecture; nothing written"}})
def import_files(areas: UploadFile, facilities: UploadFile, institutions: UploadFile, partnerships: UploadFile,
                 request: Request, session: SessionDep, scope: ScopeDep, travel_times: UploadFile | None = None,
                 availability: UploadFile | None = None):
    """Import a region (the data contract's CSV files), all or nothing.

    A bad file is rejected with every bad row (file, line, column, value) and
    nothing is written.  Prefecture staff import only their prefecture: every row of every
    file is checked (areas → prefecture, facilities and institutions → municipality, ids that
    already exist elsewhere); any row outside refuses the whole import with 403 listing the
    rows (same shape as the 422), and nothing is written.

    ``availability`` (optional, ``availability.csv``): when ① and ② are given (time slots).  It
    states the slots of every institution in ``institutions``: rows are created or changed, and a
    stored row of such an institution that the file leaves out is removed (the institution is then
    judged by its 24-hour flags again).  Without the file no time slot changes.  A row of an
    institution outside your prefecture refuses the import like the institution's own row."""
    if scope.role == "municipal":
        raise HTTPException(403, "imports are for prefecture staff and administrators")
    request.app.state.rate_limits.hit("imports", scope.user.id)
    with tempfile.TemporaryDirectory() as tmp:
        files = {"areas.csv": areas, "facilities.csv": facilities, "institutions.csv": institutions,
                 "partnerships.csv": partnerships}
        for name, upload in (("travel_times.csv", travel_times), ("availability.csv", availability)):
            if upload is not None:
                files[name] = upload
        for name, upload in files.items():
            Path(tmp, name).write_bytes(upload.file.read())
        try:
            counts = import_region(session, tmp, scope.user.id,
                                   prefecture_code=None if scope.role == "admin" else scope.prefecture_code,
                                   source="upload:" + ",".join(sorted(files)))
        except RegionValidationError as exc:
            session.rollback()
            return JSONResponse(status_code=422, content={"detail": [_error_row(e) for e in exc.errors]})
        except CapacityConflict as exc:
            session.rollback()
            return JSONResponse(status_code=409, content={"detail": exc.rows})
        except ScopeError as exc:
            session.rollback()
            return JSONResponse(status_code=403, content={"detail": exc.rows})
        imported = list(load_region(tmp, strict=True).facilities.index)  # valid: import_region read it
    counts = {**counts, "unconfirmed": request.app.state.placement.review_import(session, imported)}
    session.commit()
    return counts
