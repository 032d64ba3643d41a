"""Moving regions between the data contract (CSV folders) and the database.

Import is all-or-nothing: the folder is validated with the contract's loader
first (every bad row reported), then written in one transaction.  Export writes
a region folder the library can load, so matching runs in the service use
exactly the same code path as the CLI.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import audit
from api.models import Area, Facility, ForbiddenPair, Institution, Partnership, Proposal
from matching.contract import load_region
from matching.contract.schema import AREAS, FACILITIES, INSTITUTIONS, PARTNERSHIPS
from matching.parameters import Pair
from matching.region import Region
from matching.vocabulary import Role, format_roles


class ScopeError(PermissionError):
    """The folder holds areas outside the importing user's prefecture."""


def import_region(session: Session, folder: str | Path, user_id: int | None = None,
                  prefecture_code: str | None = None) -> dict[str, int]:
    """Validate ``folder`` strictly and upsert it; the caller commits (or rolls back).

    Raises :class:`matching.contract.RegionValidationError` with every bad row, or
    :class:`ScopeError` when ``prefecture_code`` is given and an area lies outside it.
    """
    region = load_region(folder, strict=True)
    if prefecture_code is not None:
        outside = sorted(set(region.areas.index[region.areas["prefecture_code"] != prefecture_code]))
        if outside:
            raise ScopeError(f"areas outside prefecture {prefecture_code}: {', '.join(outside[:10])}")
    for code, a in region.areas.iterrows():
        session.merge(Area(municipality_code=code, **{k: a[k] for k in
                                                      ("municipality_name", "secondary_area_code",
                                                       "secondary_area_name", "prefecture_code")}))
    session.flush()
    for fid, f in region.facilities.iterrows():
        session.merge(Facility(facility_id=fid, name=f["name"], facility_type=f["facility_type"],
                               municipality_code=f["municipality_code"], lat=float(f["lat"]), lon=float(f["lon"]),
                               residents=None if pd.isna(f["residents"]) else int(f["residents"]),
                               reported=bool(f["reported"])))
    for iid, i in region.institutions.iterrows():
        existing = session.get(Institution, iid)
        values = dict(name=i["name"], kind=i["kind"], municipality_code=i["municipality_code"],
                      lat=float(i["lat"]), lon=float(i["lon"]),
                      beds=None if pd.isna(i["beds"]) else int(i["beds"]),
                      designations=";".join(sorted(i["designations"])),
                      consult_24h=bool(i["consult_24h"]), visit_24h=bool(i["visit_24h"]), admit=bool(i["admit"]),
                      accepting=None if pd.isna(i["accepting"]) else bool(i["accepting"]),
                      capacity_facilities=None if pd.isna(i["capacity_facilities"]) else int(i["capacity_facilities"]),
                      capacity_residents=None if pd.isna(i["capacity_residents"]) else int(i["capacity_residents"]))
        if existing is None:
            session.add(Institution(institution_id=iid, reserved_facilities=0, reserved_residents=0, **values))
        else:
            for k, v in values.items():
                setattr(existing, k, v)
    session.flush()
    for p in region.partnerships.itertuples(index=False):
        row = session.scalar(select(Partnership).where(Partnership.facility_id == p.facility_id,
                                                       Partnership.institution_id == p.institution_id))
        if row is None:
            session.add(Partnership(facility_id=p.facility_id, institution_id=p.institution_id,
                                    roles=format_roles(p.roles)))
        else:
            row.roles = format_roles(p.roles)
    counts = {"areas": len(region.areas), "facilities": len(region.facilities),
              "institutions": len(region.institutions), "partnerships": len(region.partnerships)}
    audit.record(session, user_id, "import", "region", str(folder), None, counts)
    session.flush()
    return counts


def _b(v: bool | None) -> str:
    return "" if v is None else ("true" if v else "false")


def export_region(session: Session, folder: str | Path, prefecture_code: str | None = None,
                  for_matching: bool = False) -> list[tuple[str, str]]:
    """Write the region (one prefecture, or everything) as a contract folder.

    With ``for_matching``: spare capacity is what is left after accepted proposals'
    reservations, and accepted proposals count as agreements (their roles are no
    longer missing, and they are kept — the coordinators' decisions are pinned).
    Returns the forbidden (declined) pairs for the run's parameters.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    q = select(Area)
    if prefecture_code:
        q = q.where(Area.prefecture_code == prefecture_code)
    areas = session.scalars(q.order_by(Area.municipality_code)).all()
    codes = {a.municipality_code for a in areas}
    facilities = [f for f in session.scalars(select(Facility).order_by(Facility.facility_id)) if f.municipality_code in codes]
    institutions = [i for i in session.scalars(select(Institution).order_by(Institution.institution_id))
                    if i.municipality_code in codes]
    fac_ids = {f.facility_id for f in facilities}
    inst_ids = {i.institution_id for i in institutions}
    agreements: dict[tuple[str, str], set[Role]] = {}
    for p in session.scalars(select(Partnership).order_by(Partnership.id)):
        if p.facility_id in fac_ids and p.institution_id in inst_ids:
            agreements.setdefault((p.facility_id, p.institution_id), set()).update(
                Role(r) for r in p.roles.split(";") if r)
    if for_matching:
        for p in session.scalars(select(Proposal).where(Proposal.state == "accepted")):
            if p.facility_id in fac_ids and p.institution_id in inst_ids:
                agreements.setdefault((p.facility_id, p.institution_id), set()).update(
                    Role(r) for r in p.roles.split(";") if r)

    _write(folder / AREAS.name, [c.name for c in AREAS.columns], [
        [a.municipality_code, a.municipality_name, a.secondary_area_code, a.secondary_area_name, a.prefecture_code]
        for a in areas])
    _write(folder / FACILITIES.name, [c.name for c in FACILITIES.columns], [
        [f.facility_id, f.name, f.facility_type, f.municipality_code, f.lat, f.lon,
         "" if f.residents is None else f.residents, _b(f.reported)] for f in facilities])
    inst_cols = [c.name for c in INSTITUTIONS.columns if c.required]
    rows = []
    for i in institutions:
        cap_f, cap_r = i.capacity_facilities, i.capacity_residents
        if for_matching:
            cap_f = None if cap_f is None else max(0, cap_f - i.reserved_facilities)
            cap_r = None if cap_r is None else max(0, cap_r - i.reserved_residents)
        rows.append([i.institution_id, i.name, i.kind, i.municipality_code, i.lat, i.lon,
                     "" if i.beds is None else i.beds, i.designations, _b(i.consult_24h), _b(i.visit_24h),
                     _b(i.admit), _b(i.accepting), "" if cap_f is None else cap_f, "" if cap_r is None else cap_r])
    _write(folder / INSTITUTIONS.name, inst_cols, rows)
    _write(folder / PARTNERSHIPS.name, [c.name for c in PARTNERSHIPS.columns],
           [[f, i, format_roles(r)] for (f, i), r in sorted(agreements.items())])
    forbidden = [(p.facility_id, p.institution_id) for p in
                 session.scalars(select(ForbiddenPair).order_by(ForbiddenPair.id))
                 if p.facility_id in fac_ids and p.institution_id in inst_ids]
    return forbidden


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def load_from_db(session: Session, prefecture_code: str | None = None,
                 for_matching: bool = False) -> tuple[Region, list[Pair]]:
    """The database's region (one prefecture, or everything) as the library loads it, through the
    data contract (same validation and typing as the CLI), and the declined pairs as ``Pair``s."""
    with tempfile.TemporaryDirectory() as tmp:
        forbidden = export_region(session, tmp, prefecture_code, for_matching=for_matching)
        region = load_region(tmp)
    return region, [Pair(facility_id=f, institution_id=i) for f, i in forbidden]
