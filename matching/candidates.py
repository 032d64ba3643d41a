"""Candidate assignments: which institution could take which missing role of which facility.

A candidate ``(facility, institution, role)`` exists when the facility lacks the
role, the institution offers it around the clock (③ only hospitals, already
enforced by the contract), is accepting (or has not been asked, if the run
allows), lies within the role's limits, and the pair was not declined.  Pinned
pairs — coordinators' decisions — are added whatever the distance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.parameters import MatchParameters, ParameterError
from matching.region import Region, role_column
from matching.travel import (
    GeodesicTravel,
    MatrixOverride,
    Points,
    RoadNetworkTravel,
    TravelTimes,
    geodesic_km,
)
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER

BIT = {r: 1 << k for k, r in enumerate(ROLE_ORDER)}

CANDIDATE_COLUMNS = ["facility_id", "institution_id", "role", "minutes", "km", "existing", "pinned",
                     "pinned_role", "not_yet_asked"]


def role_bits(roles) -> int:
    return sum(BIT[r] for r in roles)


def travel_provider(region: Region, params: MatchParameters) -> TravelTimes:
    """The provider a run uses: road network if configured, else geodesic; measured minutes override."""
    t = params.travel
    base: TravelTimes
    if t.road_network is not None:
        path = t.road_network if t.road_network.is_absolute() or region.source is None else region.source / t.road_network
        base = RoadNetworkTravel.from_graphml(path, weight=t.weight, unit=t.weight_unit)
    else:
        base = GeodesicTravel(speed_kmh=t.speed_kmh, circuity=t.circuity)
    if region.travel_times is not None and len(region.travel_times):
        return MatrixOverride(base, region.travel_times)
    return base


def facilities_to_match(status: pd.DataFrame, params: MatchParameters) -> pd.DataFrame:
    """Status rows of the facilities the run tries to complete (missing roles, in scope)."""
    st = status[status["missing_roles"].map(bool)]
    if not params.include_unreported:
        st = st[st["reported"]]
    if params.facility_types is not None:
        st = st[st["facility_type"].isin(params.facility_types)]
    return st


def eligible_institutions(region: Region, params: MatchParameters) -> pd.DataFrame:
    inst = region.institutions
    acc = inst["accepting"]
    ok = acc.fillna(params.unknown_accepting).astype(bool)
    offers = inst[[role_column(r) for r in ROLE_ORDER]].any(axis=1)
    return inst[ok & offers]


def find_candidates(region: Region, status: pd.DataFrame, params: MatchParameters,
                    travel: TravelTimes | None = None) -> pd.DataFrame:
    """All candidate (facility, institution, role) rows, sorted, with minutes and km.

    >>> from matching.contract import load_region                     # doctest: +SKIP
    >>> from matching.status import facility_status                    # doctest: +SKIP
    >>> region = load_region("data/demo")                               # doctest: +SKIP
    >>> cand = find_candidates(region, facility_status(region), MatchParameters())  # doctest: +SKIP
    """
    travel = travel or travel_provider(region, params)
    need = facilities_to_match(status, params)
    inst = eligible_institutions(region, params)
    fac = region.facilities.loc[need.index]
    fp, ip = Points.of(fac), Points.of(inst)
    fi, ii, minutes = travel.within(fp, ip, params.limit_minutes())
    km = geodesic_km(fp.lat[fi], fp.lon[fi], ip.lat[ii], ip.lon[ii])

    missing_bits = need["missing_roles"].map(role_bits).to_numpy()
    frames = []
    for role in ROLE_ORDER:
        lim = params.limits[role]
        offers = inst[role_column(role)].to_numpy(bool)
        mask = (missing_bits[fi] & BIT[role]).astype(bool) & offers[ii] & (minutes <= lim.minutes)
        if lim.km is not None:
            mask &= km <= lim.km
        frames.append(pd.DataFrame({
            "facility_id": fp.ids[fi[mask]], "institution_id": ip.ids[ii[mask]], "role": role.value,
            "minutes": minutes[mask], "km": km[mask],
        }))
    cand = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CANDIDATE_COLUMNS[:5])
    cand["pinned"] = False
    cand["pinned_role"] = False

    if params.forbidden:
        bad = pd.MultiIndex.from_tuples([(p.facility_id, p.institution_id) for p in params.forbidden])
        cand = cand[~pd.MultiIndex.from_frame(cand[["facility_id", "institution_id"]]).isin(bad)]
    cand = pd.concat([cand, _pinned_rows(region, need, params, travel)], ignore_index=True)
    cand = cand.drop_duplicates(["facility_id", "institution_id", "role"], keep="last")

    existing = set(zip(region.partnerships["facility_id"], region.partnerships["institution_id"], strict=True))
    cand["existing"] = [(f, i) in existing for f, i in zip(cand["facility_id"], cand["institution_id"], strict=True)]
    cand["not_yet_asked"] = region.institutions["accepting"].reindex(cand["institution_id"]).isna().to_numpy()
    order = {r.value: k for k, r in enumerate(ROLE_ORDER)}
    cand = cand.sort_values(["facility_id", "institution_id", "role"],
                            key=lambda s: s.map(order) if s.name == "role" else s)
    return cand[CANDIDATE_COLUMNS].reset_index(drop=True)


def _pinned_rows(region: Region, need: pd.DataFrame, params: MatchParameters,
                 travel: TravelTimes) -> pd.DataFrame:
    rows = []
    forbidden = {(p.facility_id, p.institution_id) for p in params.forbidden}
    for p in params.pinned:
        where = f"pinned pair {p.facility_id}–{p.institution_id}"
        if p.facility_id not in region.facilities.index:
            raise ParameterError(f"{where}: unknown facility_id {p.facility_id!r}")
        if p.institution_id not in region.institutions.index:
            raise ParameterError(f"{where}: unknown institution_id {p.institution_id!r}")
        if (p.facility_id, p.institution_id) in forbidden:
            raise ParameterError(f"{where}: the same pair is also forbidden")
        if p.facility_id not in need.index:
            continue  # nothing missing any more: the pin is already satisfied by agreements in force
        missing = need.at[p.facility_id, "missing_roles"]
        offered = region.offered_roles(p.institution_id)
        wanted = p.roles if p.roles is not None else missing & offered
        unusable = [r.value for r in wanted if r not in offered or r not in missing]
        if unusable or not wanted:
            ftype = FACILITY_TYPES[region.facilities.at[p.facility_id, "facility_type"]].name_ja
            raise ParameterError(
                f"{where}: institution offers {sorted(r.value for r in offered)}, facility ({ftype}) misses "
                f"{sorted(r.value for r in missing)}; cannot pin roles {unusable or 'any'}")
        fac = region.facilities.loc[[p.facility_id]]
        inst = region.institutions.loc[[p.institution_id]]
        fp, ip = Points.of(fac), Points.of(inst)
        minutes = float(travel.between(fp, ip, np.array([0]), np.array([0]))[0])
        km = float(geodesic_km(fp.lat, fp.lon, ip.lat, ip.lon)[0])
        for r in wanted:
            rows.append((p.facility_id, p.institution_id, r.value, minutes, km, True, p.roles is not None))
    return pd.DataFrame(rows, columns=["facility_id", "institution_id", "role", "minutes", "km", "pinned",
                                       "pinned_role"])


