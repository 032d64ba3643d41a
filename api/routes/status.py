from typing import Literal

from fastapi import APIRouter, Request

from api.deps import ScopeDep, SessionDep
from api.readcache import cached_json
from api.store import load_from_db
from matching.status import facility_status, status_table

router = APIRouter(prefix="/status", tags=["status"])


def _plain(v):  # numpy scalars and NaN → JSON
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and v != v else v


@router.get("", response_model=list[dict])
def status_report(request: Request, session: SessionDep, scope: ScopeDep,
                  by: Literal["prefecture", "secondary_area", "municipality", "none"] = "municipality",
                  by_type: bool = True):
    """The status table (counts per status, share of tracked facilities with all requirements met)
    for your area, by municipality, secondary area, prefecture or in total, per facility type.

    Computed once per data version and served from memory until the data changes."""

    def compute() -> list[dict]:
        if request.app.state.read_cache is None:  # READ_CACHE=false: every read rebuilds the region
            region, _ = load_from_db(session, scope.prefecture_code)
            st, areas = facility_status(region), region.areas
        else:
            region, _ = request.app.state.region_cache.get(session, scope.prefecture_code)
            st, areas = facility_status(region), region.areas
        if scope.municipalities is not None:
            st = st[st["municipality_code"].isin(scope.municipalities)]
        table = status_table(st, areas, by=by, by_type=by_type)
        return [{k: _plain(v) for k, v in row.items()} for row in table.to_dict(orient="records")]

    return cached_json(request, session, scope, list[dict], compute)
