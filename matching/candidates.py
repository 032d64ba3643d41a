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
from scipy.spatial import cKDTree

from matching.parameters import MatchParameters, ParameterError
from matching.region import Region
from matching.roles import (
    ALL_SLOTS,
    BIT,
    BIT_OF_CODE,
    BLOCKS,
    INDEX_OF_CODE,
    SLOTTED,
    mask_of,
    roles_of,
)
from matching.roles import column as role_column
from matching.status import slot_cover
from matching.travel import (
    GeodesicTravel,
    MatrixOverride,
    Points,
    RoadNetworkTravel,
    TravelTimes,
    geodesic_km,
)
from matching.travel.geodesic import EARTH_RADIUS_KM, unit_vectors
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER, Role

CANDIDATE_COLUMNS = ["facility_id", "institution_id", "role", "minutes", "km", "existing", "pinned",
                     "pinned_role", "not_yet_asked", "truncated"]


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


def in_scope(status: pd.DataFrame, params: MatchParameters) -> pd.Series:
    """Per facility (status rows): of a type and a prefecture the run covers."""
    mask = pd.Series(True, index=status.index)
    if params.facility_types is not None:
        mask &= status["facility_type"].isin(params.facility_types)
    if params.prefectures is not None:
        mask &= status["municipality_code"].astype(str).str[:2].isin(params.prefectures)
    return mask


def facilities_to_match(status: pd.DataFrame, params: MatchParameters) -> pd.DataFrame:
    """Status rows of the facilities the run tries to complete (missing roles, in scope)."""
    st = status[status["missing_roles"].map(bool) & in_scope(status, params)]
    if not params.include_unreported:
        st = st[st["reported"]]
    return st


def uses_slots(region: Region, params: MatchParameters) -> bool:
    """The run assembles roles from time slots: the region states them and a role may have
    more than one partner.  Otherwise every partner gives all four slots or none."""
    return region.has_slots and params.max_partners_per_role > 1


def eligible_institutions(region: Region, params: MatchParameters) -> pd.DataFrame:
    """Accepting institutions that offer a role, with their role columns saying whether it
    can be given to a facility: with time slots, in at least one slot (several partners per
    role) or in all four (one)."""
    inst = region.institutions
    if region.has_slots:
        need = 1 if params.max_partners_per_role > 1 else ALL_SLOTS
        inst = inst.assign(**{role_column(r): region.slots(r).to_numpy() >= need for r in ROLE_ORDER})
    acc = inst["accepting"]
    ok = acc.fillna(params.unknown_accepting).astype(bool)
    offers = inst[[role_column(r) for r in ROLE_ORDER]].any(axis=1)
    return inst[ok & offers]


def find_candidates(region: Region, status: pd.DataFrame, params: MatchParameters,
                    travel: TravelTimes | None = None, nearest: int | None = None) -> pd.DataFrame:
    """All candidate (facility, institution, role) rows, sorted, with minutes and km.

    ``nearest=K`` keeps, for each facility and missing role, only the K nearest
    candidates (by minutes, ties by institution id) — plus every current partner
    and every pinned pair, which are never dropped.  With time slots the K nearest
    are kept per slot set the institutions give the role in (:func:`slot_groups`), so a
    cut list still holds every slot set of the full list.  Column ``truncated`` marks
    the (facility, role) whose list was cut, so the optimiser can say honestly
    what its bound covers.  With the straight-line provider the K nearest are
    found by k-d tree queries, without listing all pairs (the national instance
    has ~6 million pairs within the limits).

    >>> from matching.contract import load_region
    >>> from matching.status import facility_status
    >>> region = load_region("data/demo")
    >>> cand = find_candidates(region, facility_status(region), MatchParameters())
    >>> near = find_candidates(region, facility_status(region), MatchParameters(), nearest=5)
    >>> len(cand), len(near), bool(near["truncated"].any())
    (4826, 1696, True)
    """
    travel = travel or travel_provider(region, params)
    need = facilities_to_match(status, params)
    inst = eligible_institutions(region, params)
    fac = region.facilities.loc[need.index]
    fp, ip = Points.of(fac), Points.of(inst)
    missing_bits = need["missing_roles"].map(mask_of).to_numpy()
    forbidden = {(p.facility_id, p.institution_id) for p in params.forbidden}
    groups = slot_groups(region, inst)
    if nearest is not None and isinstance(travel, GeodesicTravel):
        cand = _nearest_geodesic(fp, ip, inst, missing_bits, params, travel, nearest, forbidden, groups)
    else:
        cand = _all_within(fp, ip, inst, missing_bits, params, travel)
        if forbidden:
            bad = pd.MultiIndex.from_tuples(sorted(forbidden))
            cand = cand[~pd.MultiIndex.from_frame(cand[["facility_id", "institution_id"]]).isin(bad)]
        if nearest is not None:
            cand = _keep_nearest(cand, nearest, groups, ip.ids)
    if nearest is not None:
        cand = pd.concat([cand, _partner_rows(region, fp, ip, inst, missing_bits, params, travel, forbidden)],
                         ignore_index=True)
    cand["pinned"] = False
    cand["pinned_role"] = False
    cand = pd.concat([cand, _pinned_rows(region, status, need, params, travel)], ignore_index=True)
    cand["truncated"] = cand["truncated"].fillna(False).astype(bool)
    cut = cand.groupby(["facility_id", "role"], sort=False)["truncated"].transform("any")
    cand = cand.assign(truncated=cut).drop_duplicates(["facility_id", "institution_id", "role"], keep="last")

    p = region.partnerships
    existing = pd.MultiIndex.from_arrays([p["facility_id"], p["institution_id"]])
    cand["existing"] = pd.MultiIndex.from_arrays([cand["facility_id"], cand["institution_id"]]).isin(existing)
    cand["not_yet_asked"] = region.institutions["accepting"].reindex(cand["institution_id"]).isna().to_numpy()
    if region.has_slots:
        return sort_candidates(_slot_candidates(region, cand, params))
    return sort_candidates(cand[CANDIDATE_COLUMNS])


def _slot_candidates(region: Region, cand: pd.DataFrame, params: MatchParameters) -> pd.DataFrame:
    """Candidates with the ``slots`` (mask) the institution gives the role in, and the
    ``have`` slots and ``room`` (partners still allowed) of their (facility, role), keeping
    only those that can help: room left, a slot the agreements in force do not give, and
    all four together when it would be the last partner the role may have."""
    slots = np.zeros(len(cand), np.int64)
    for r in ROLE_ORDER:
        on = (cand["role"] == r.value).to_numpy()
        slots[on] = region.slots(r).reindex(cand.loc[on, "institution_id"]).fillna(0).to_numpy(np.int64)
    cover = slot_cover(region, region.partnerships)
    key = pd.MultiIndex.from_arrays([cand["facility_id"], cand["role"]])
    have = cover["slots"].reindex(key).fillna(0).to_numpy(np.int64)
    room = params.max_partners_per_role - cover["partners"].reindex(key).fillna(0).to_numpy(np.int64)
    pinned = cand["pinned_role"].to_numpy(bool)
    keep = (room > 0) & ((slots & ~have) != 0) & ((room > 1) | ((slots | have) == ALL_SLOTS))
    cand = cand.assign(slots=slots, have=have, room=room)[keep | pinned]
    return cand[CANDIDATE_COLUMNS + ["slots", "have", "room"]]


def slot_groups(region: Region, inst: pd.DataFrame) -> dict[Role, np.ndarray]:
    """Per role, the slot set (mask) each of ``inst`` (eligible institutions) gives it in: the
    groups a cut candidate list keeps its K nearest of.  Without time slots, or for ③, every
    institution offering the role is in one group.

    Keeping the K nearest (K ≥ 1) of every group keeps every slot set of the full list, so
    which slots and which unions of at most ``max_partners_per_role`` sets the candidates can
    give a (facility, role) — its capacity-free cover — is the same for cut and full lists."""
    out = {}
    for r in ROLE_ORDER:
        offers = inst[role_column(r)].to_numpy(bool)
        if region.has_slots and r.value in SLOTTED:
            out[r] = np.where(offers, region.slots(r).reindex(inst.index).to_numpy(np.int64), 0)
        else:
            out[r] = np.where(offers, ALL_SLOTS, 0).astype(np.int64)
    return out


def straight_line_radius(minutes: float, km: float | None, speed_kmh: float, circuity: float) -> float:
    """The straight-line km within which a candidate can meet a minutes limit (and a km limit)."""
    radius = minutes / 60.0 * speed_kmh / circuity
    return radius if km is None else min(radius, km)


def count_candidates(region: Region, status: pd.DataFrame, params: MatchParameters) -> int:
    """About how many candidate rows the full lists hold, without listing them.

    Straight-line ball counts per role (k-d tree), with the run's speed and
    circuity: exact for the default travel times, an estimate for road networks
    and measured times.  Used to choose how a run is computed
    (:func:`matching.optimise.options.for_size`).
    """
    need = facilities_to_match(status, params)
    inst = eligible_institutions(region, params)
    if need.empty or inst.empty:
        return 0
    fp, ip = Points.of(region.facilities.loc[need.index]), Points.of(inst)
    missing_bits = need["missing_roles"].map(mask_of).to_numpy()
    t = params.travel
    total = 0
    for role in ROLE_ORDER:
        lim = params.limits[role]
        radius = straight_line_radius(lim.minutes, lim.km, t.speed_kmh, t.circuity)
        pool = inst[role_column(role)].to_numpy(bool)
        rows = np.flatnonzero(missing_bits & BIT[role])
        if not pool.any() or len(rows) == 0:
            continue
        tree = cKDTree(unit_vectors(ip.lat[pool], ip.lon[pool]))
        chord = 2 * np.sin(min(np.pi, radius / EARTH_RADIUS_KM) / 2)
        total += int(tree.query_ball_point(unit_vectors(fp.lat[rows], fp.lon[rows]), chord,
                                           return_length=True).sum())
    return total


def sort_candidates(cand: pd.DataFrame) -> pd.DataFrame:
    """Candidates in their canonical order: facility, institution, then roles ①②③."""
    cand = cand.assign(_r=cand["role"].map(INDEX_OF_CODE)).sort_values(["facility_id", "institution_id", "_r"])
    return cand.drop(columns="_r").reset_index(drop=True)


def _all_within(fp: Points, ip: Points, inst: pd.DataFrame, missing_bits: np.ndarray,
                params: MatchParameters, travel: TravelTimes) -> pd.DataFrame:
    """Every (facility, institution, role) within the role's limits."""
    fi, ii, minutes = travel.within(fp, ip, params.limit_minutes())
    km = geodesic_km(fp.lat[fi], fp.lon[fi], ip.lat[ii], ip.lon[ii])
    frames = []
    for role in ROLE_ORDER:
        lim = params.limits[role]
        offers = inst[role_column(role)].to_numpy(bool)
        mask = (missing_bits[fi] & BIT[role]).astype(bool) & offers[ii] & (minutes <= lim.minutes)
        if lim.km is not None:
            mask &= km <= lim.km
        frames.append(pd.DataFrame({
            "facility_id": fp.ids[fi[mask]], "institution_id": ip.ids[ii[mask]], "role": role.value,
            "minutes": minutes[mask], "km": km[mask], "truncated": False,
        }))
    return pd.concat(frames, ignore_index=True)


def block_nearest(k: int) -> int:
    """How many institutions are kept per role set (``matching.roles.BLOCKS``: ①②, ①③, ②③,
    ①②③) when lists are cut to ``k``: a cut list never hides the partner that would
    save an agreement."""
    return max(2, k // 2)


def group_nearest(k: int, slots: int) -> int:
    """How many institutions a cut list keeps of a slot group (:func:`slot_groups`): ``k`` of
    those giving the role round the clock, a quarter as many (at least one) of a part-time
    slot set — enough to keep every slot set (the coverage bound) and a choice of partners,
    without the candidates (and the institutions that can be full) doubling; lengthened
    lists lengthen both."""
    return k if slots == ALL_SLOTS else max(1, k // 4)


def _block_limit(params: MatchParameters, mask: int) -> tuple[float, float | None]:
    """Minutes and km an institution must be within to take every role of ``mask``."""
    limits = [params.limits[r] for r in roles_of(mask)]
    kms = [lim.km for lim in limits if lim.km is not None]
    return min(lim.minutes for lim in limits), (min(kms) if kms else None)


def _keep_nearest(cand: pd.DataFrame, k: int, groups: dict[Role, np.ndarray], ids: np.ndarray) -> pd.DataFrame:
    """The k nearest rows per (facility, role) and slot group (:func:`slot_groups` of the
    institutions ``ids``), ties by institution id; marks cut lists.  Plus, for every role set
    in ``BLOCKS``, the nearest institutions able to take all of it round the clock."""
    group = np.zeros(len(cand), np.int64)
    for r in ROLE_ORDER:
        on = (cand["role"] == r.value).to_numpy()
        group[on] = pd.Series(groups[r], index=ids).reindex(cand.loc[on, "institution_id"]).to_numpy(np.int64)
    cand = cand.assign(_group=group).sort_values(["facility_id", "role", "_group", "minutes", "institution_id"])
    by = cand.groupby(["facility_id", "role", "_group"], sort=False)
    rank = by.cumcount().to_numpy()
    size = by["role"].transform("size").to_numpy()
    limit = np.where(cand["_group"].to_numpy() == ALL_SLOTS, k, group_nearest(k, 0))
    kept = cand[rank < limit].assign(truncated=(size > limit)[rank < limit]).drop(columns="_group")
    cand = cand[cand["_group"] == ALL_SLOTS].drop(columns="_group")  # blocks: round the clock
    bits = cand["role"].map(BIT_OF_CODE)
    mask = bits.groupby([cand["facility_id"], cand["institution_id"]]).transform("sum").to_numpy()
    frames = [kept]
    for block in BLOCKS:
        pairs = cand[((mask & block) == block) & ((bits.to_numpy() & block) > 0)]
        first = pairs.drop_duplicates(["facility_id", "institution_id"]).sort_values(
            ["facility_id", "minutes", "institution_id"])
        near = first[first.groupby("facility_id", sort=False).cumcount() < block_nearest(k)]
        take = pd.MultiIndex.from_frame(near[["facility_id", "institution_id"]])
        frames.append(pairs[pd.MultiIndex.from_frame(pairs[["facility_id", "institution_id"]]).isin(take)]
                      .assign(truncated=False))
    return _list_flags(pd.concat(frames, ignore_index=True))


def _list_flags(cand: pd.DataFrame) -> pd.DataFrame:
    """One row per (facility, institution, role); ``truncated`` is a property of the whole list."""
    cand = cand.drop_duplicates(["facility_id", "institution_id", "role"])
    cut = cand.groupby(["facility_id", "role"], sort=False)["truncated"].transform("any")
    return cand.assign(truncated=cut.astype(bool))


def _nearest_geodesic(fp: Points, ip: Points, inst: pd.DataFrame, missing_bits: np.ndarray,
                      params: MatchParameters, travel: GeodesicTravel, k: int,
                      forbidden: set[tuple[str, str]], groups: dict[Role, np.ndarray]) -> pd.DataFrame:
    """The k nearest candidates per (facility, role) and slot group (:func:`slot_groups`) by
    k-d tree queries, exact — and, per role set in ``BLOCKS``, the ``block_nearest(k)``
    nearest institutions offering all of it round the clock.

    The tree ranks by chord length on a sphere, the limits are geodesic on the
    ellipsoid (< 0.6% apart): we ask for more neighbours than needed and re-ask,
    with more, any facility whose k-th exact distance is not safely inside what
    the tree returned.  Forbidden pairs are skipped before counting to k.
    """
    frames = []
    offers = {r: inst[role_column(r)].to_numpy(bool) for r in ROLE_ORDER}
    for block in [BIT[r] for r in ROLE_ORDER] + list(BLOCKS):
        roles = roles_of(block)
        minutes_limit, km_limit = _block_limit(params, block)
        # A role set is kept by the institutions giving all of it round the clock.
        pool = np.flatnonzero(np.logical_and.reduce([offers[r] if len(roles) == 1 else groups[r] == ALL_SLOTS
                                                     for r in roles]))
        rows = np.flatnonzero((missing_bits & block) == block)
        if len(pool) == 0 or len(rows) == 0:
            continue
        if len(roles) == 1:
            g = groups[roles[0]][pool]
            for m in np.unique(g):
                found = _nearest_in_pool(fp, ip, pool[g == m], rows, minutes_limit, km_limit, travel,
                                         group_nearest(k, m), forbidden)
                frames.append(found.assign(role=roles[0].value))
            continue
        found = _nearest_in_pool(fp, ip, pool, rows, minutes_limit, km_limit, travel, block_nearest(k), forbidden)
        for r in roles:
            frames.append(found.assign(role=r.value, truncated=False))
    if not frames:
        return pd.DataFrame(columns=["facility_id", "institution_id", "role", "minutes", "km", "truncated"])
    return _list_flags(pd.concat(frames, ignore_index=True))


def _nearest_in_pool(fp: Points, ip: Points, pool: np.ndarray, rows: np.ndarray, minutes_limit: float,
                     km_limit: float | None, travel: GeodesicTravel, k: int,
                     forbidden: set[tuple[str, str]]) -> pd.DataFrame:
    """For each facility in ``rows``, the k nearest institutions of ``pool`` within the limits
    (by minutes, ties by id), and whether more were within them (``truncated``)."""
    radius = straight_line_radius(minutes_limit, km_limit, travel.speed_kmh, travel.circuity)
    tree = cKDTree(unit_vectors(ip.lat[pool], ip.lon[pool]))
    chord = 2 * np.sin(min(np.pi, radius * 1.01 / EARTH_RADIUS_KM) / 2)
    want = min(len(pool), k + len(forbidden) + max(4, k // 2))
    todo = rows
    frames = []
    while len(todo):
        q = min(len(pool), want)
        dist, nn = tree.query(unit_vectors(fp.lat[todo], fp.lon[todo]), k=q, distance_upper_bound=chord)
        dist, nn = dist.reshape(len(todo), q), nn.reshape(len(todo), q)
        found = np.isfinite(dist)
        fi = np.repeat(todo, q)[found.ravel()]
        ii = pool[nn[found]]
        km = geodesic_km(fp.lat[fi], fp.lon[fi], ip.lat[ii], ip.lon[ii])
        minutes = travel.minutes_for_km(km)
        ok = (minutes <= minutes_limit) & ((km <= km_limit) if km_limit is not None else True)
        df = pd.DataFrame({"fi": fi[ok], "facility_id": fp.ids[fi[ok]], "institution_id": ip.ids[ii[ok]],
                           "minutes": minutes[ok], "km": km[ok]})
        if forbidden:
            pair = pd.MultiIndex.from_arrays([df["facility_id"], df["institution_id"]])
            df = df[~pair.isin(pd.MultiIndex.from_tuples(sorted(forbidden)))]
        df = df.sort_values(["fi", "minutes", "institution_id"])
        rank = df.groupby("fi", sort=False).cumcount().to_numpy()
        at = np.searchsorted(todo, df["fi"].to_numpy())  # todo is sorted
        # A full tree answer (q neighbours, all in range) may hide more: the list is
        # exact only if the k-th kept is safely nearer than the farthest neighbour asked.
        full = found.all(axis=1) & (q < len(pool))
        kth_km = np.full(len(todo), np.inf)
        kth_km[at[rank == k - 1]] = df["km"].to_numpy()[rank == k - 1]
        far_km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, dist[:, -1] / 2))
        safe = ~full | (kth_km * 1.01 < far_km)
        n_valid = np.bincount(at, minlength=len(todo))
        cut = full | (n_valid > k)  # more candidates exist than the k kept
        keep = safe[at] & (rank < k)
        frames.append(df[keep].assign(truncated=cut[at[keep]]))
        todo = todo[~safe]
        want *= 2
    return pd.concat(frames, ignore_index=True).drop(columns="fi")


def _partner_rows(region: Region, fp: Points, ip: Points, inst: pd.DataFrame, missing_bits: np.ndarray,
                  params: MatchParameters, travel: TravelTimes,
                  forbidden: set[tuple[str, str]]) -> pd.DataFrame:
    """Candidates with current partners, kept whatever their rank: extending costs no agreement."""
    p = region.partnerships
    fpos = pd.Series(np.arange(len(fp)), index=fp.ids)
    ipos = pd.Series(np.arange(len(ip)), index=ip.ids)
    p = p[p["facility_id"].isin(fpos.index) & p["institution_id"].isin(ipos.index)]
    fi = fpos.reindex(p["facility_id"]).to_numpy(int)
    ii = ipos.reindex(p["institution_id"]).to_numpy(int)
    minutes = travel.between(fp, ip, fi, ii)
    km = geodesic_km(fp.lat[fi], fp.lon[fi], ip.lat[ii], ip.lon[ii])
    frames = []
    for role in ROLE_ORDER:
        lim = params.limits[role]
        mask = ((missing_bits[fi] & BIT[role]).astype(bool) & inst[role_column(role)].to_numpy(bool)[ii]
                & (minutes <= lim.minutes))
        if lim.km is not None:
            mask &= km <= lim.km
        frames.append(pd.DataFrame({"facility_id": fp.ids[fi[mask]], "institution_id": ip.ids[ii[mask]],
                                    "role": role.value, "minutes": minutes[mask], "km": km[mask]}))
    out = pd.concat(frames, ignore_index=True)
    if forbidden:
        out = out[[(f, i) not in forbidden for f, i in zip(out["facility_id"], out["institution_id"], strict=True)]]
    return out


def _out_of_scope(facility: pd.Series, params: MatchParameters) -> str:
    """Why a facility with missing roles is outside this run, and how to bring it in (Japanese, then English)."""
    code = facility["facility_type"]
    if params.facility_types is not None and code not in params.facility_types:
        return (f"施設種別 {FACILITY_TYPES[code].name_ja} はこの実行の対象外です（facility_types に加えてください）"
                f" / facility type {code} is not in this run's scope")
    pref = str(facility["municipality_code"])[:2]
    if params.prefectures is not None and pref not in params.prefectures:
        return (f"施設の都道府県（{pref}）はこの実行の対象外です（--prefecture に加えてください）"
                f" / the facility's prefecture {pref} is not in this run's scope")
    return ("施設の年次報告がないため（集計していない）提案の対象外です（--include-unreported で対象にできます）"
            " / the facility has no annual report on file (not tracked)")


def _pinned_rows(region: Region, status: pd.DataFrame, need: pd.DataFrame, params: MatchParameters,
                 travel: TravelTimes) -> pd.DataFrame:
    """The pinned pairs' candidate rows (the roles pinned, else every missing role it offers).  A pin
    that cannot be honoured is refused with the reason, never dropped: the verifier would then
    find it missing and the whole run would write nothing."""
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
            if not status.at[p.facility_id, "missing_roles"]:
                continue  # nothing missing any more: the pin is already satisfied by agreements in force
            raise ParameterError(f"{where}: {_out_of_scope(status.loc[p.facility_id], params)}")
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


