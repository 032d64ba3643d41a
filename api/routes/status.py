from typing import Literal

from fastapi import APIRouter

from api.deps import ScopeDep, SessionDep
from api.store import load_from_db
from matching.status import facility_status, status_table

router = APIRouter(prefix="/status", tags=["status"])


@router.get("")
def status_report(session: SessionDep, scope: ScopeDep,
                  by: Literal["prefecture", "secondary_area", "municipality", "none"] = "municipality",
                  by_type: bool = True) -> list[dict]:
    """The status table (counts per status, share of tracked facilities with all requirements met)
    for your area, by municipality, secondary area, prefecture or in total, per facility type."""
    region, _ = load_from_db(session, scope.prefecture_code)
    st = facility_status(region)
    if scope.municipalities is not None:
        st = st[st["municipality_code"].isin(scope.municipalities)]
    table = status_table(st, region.areas, by=by, by_type=by_type)
    def plain(v):  # numpy scalars and NaN → JSON
        v = v.item() if hasattr(v, "item") else v
        return None if isinstance(v, float) and v != v else v

    return [{k: plain(v) for k, v in row.items()} for row in table.to_dict(orient="records")]
