from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from api import audit
from api.deps import ScopeDep, SessionDep
from api.models import Area, Facility, Institution
from api.readcache import cached_read
from api.schemas import AreaIn, AreaOut
from matching.boundaries import CREDIT

router = APIRouter(prefix="/areas", tags=["areas"])


@router.get("", response_model=list[AreaOut])
@cached_read(list[AreaOut])
def list_areas(request: Request, session: SessionDep, scope: ScopeDep, prefecture_code: str | None = None):
    """Areas (市区町村 with 二次医療圏) you may see: your prefecture's, or all for administrators."""
    q = select(Area).order_by(Area.municipality_code)
    if prefecture_code:
        q = q.where(Area.prefecture_code == prefecture_code)
    return [a for a in session.scalars(q) if scope.can_see_institution_in(a.municipality_code)]



def _boundary_features(request: Request) -> dict[str, dict]:
    """code → GeoJSON feature (coordinates rounded to ~10 m, a label point), built once per process
    from the boundaries the server checks placements against (``MUNICIPAL_BOUNDARIES``)."""
    cached = getattr(request.app.state, "boundary_features", None)
    if cached is None:
        from shapely.geometry import mapping

        def rounded(c):
            return [rounded(x) for x in c] if isinstance(c[0], (list, tuple)) else [round(c[0], 4), round(c[1], 4)]

        cached = {}
        for code, geom in request.app.state.placement.boundaries.polygons.items():
            g = mapping(geom)
            label = geom.representative_point()
            cached[code] = {"type": "Feature", "geometry": {"type": g["type"], "coordinates": rounded(g["coordinates"])},
                            "properties": {"municipality_code": code,
                                           "label_lat": round(label.y, 4), "label_lon": round(label.x, 4)}}
        request.app.state.boundary_features = cached
    return cached


@router.get("/boundaries")
@cached_read(dict)
def area_boundaries(request: Request, session: SessionDep, scope: ScopeDep) -> dict:
    """The municipal boundaries of the areas you may see, as GeoJSON (the page's offline base map):
    one feature per municipality with its name and a point for its label, and the credit to show."""
    features = _boundary_features(request)
    out = []
    for a in session.scalars(select(Area).order_by(Area.municipality_code)):
        if a.municipality_code in features and scope.can_see_institution_in(a.municipality_code):
            f = features[a.municipality_code]
            out.append({**f, "properties": {**f["properties"], "municipality_name": a.municipality_name,
                                            "in_your_area": scope.municipalities is None
                                            or a.municipality_code in scope.municipalities}})
    return {"type": "FeatureCollection", "features": out, "credit": CREDIT}


@router.get("/{municipality_code}", response_model=AreaOut)
def get_area(municipality_code: str, session: SessionDep, scope: ScopeDep):
    area = session.get(Area, municipality_code)
    if area is None:
        raise HTTPException(404, "no such municipality")
    scope.require_institution(area.municipality_code)
    return area


@router.put("/{municipality_code}", response_model=AreaOut)
def put_area(municipality_code: str, body: AreaIn, session: SessionDep, scope: ScopeDep):
    """Create or replace an area (administrators)."""
    scope.require_admin()
    if body.municipality_code != municipality_code:
        raise HTTPException(422, "municipality_code in the body differs from the path")
    area = session.get(Area, municipality_code)
    before = audit.snapshot(area)
    area = session.merge(Area(**body.model_dump()))
    session.flush()
    audit.record(session, scope.user.id, "put", "area", municipality_code, before, audit.snapshot(area))
    session.commit()
    return area


@router.delete("/{municipality_code}", status_code=204)
def delete_area(municipality_code: str, session: SessionDep, scope: ScopeDep):
    scope.require_admin()
    area = session.get(Area, municipality_code)
    if area is None:
        raise HTTPException(404, "no such municipality")
    used = session.scalar(select(Facility.facility_id).where(Facility.municipality_code == municipality_code).limit(1)) \
        or session.scalar(select(Institution.institution_id).where(Institution.municipality_code == municipality_code).limit(1))
    if used:
        raise HTTPException(409, "facilities or institutions still lie in this municipality")
    audit.record(session, scope.user.id, "delete", "area", municipality_code, audit.snapshot(area), None)
    session.delete(area)
    session.commit()
