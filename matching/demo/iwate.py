"""The demo prefecture: a fictitious population of facilities and institutions on Iwate's map.

Municipalities, their codes and secondary medical areas (二次医療圏) are Iwate's
real ones (33 municipalities, 9 areas); positions are approximate town centres,
populations and land areas rounded 2020 census figures.  Everything placed on
that map — every facility, institution, capacity and agreement — is generated
here from a seed and is fictitious (every name starts with デモ).

Calibration (see ../shared/DOMAIN.md):

* facility counts per type ≈ the national counts scaled to Iwate's population;
* about 12% of facilities have no annual report on file (集計していない, 10–30% nationally);
* among reported facilities, the share with all requirements met is the FY2025
  survey figure for obligated types (特養 67.9%, 老健 83.3%, 介護医療院 84.9%,
  養護 60.4%); for effort types, which the survey does not report, we assume
  55% (an assumption, not a figure from the seeds);
* spare capacity of hospitals is drawn from the facilities-per-hospital
  distribution (median 5, upper quartile 12), less the partners they already have.

Run ``matching demo generate data/demo`` to rebuild the committed files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matching import safecells
from matching.vocabulary import FACILITY_TYPES, Role, format_roles

PREFECTURE_CODE = "03"

SECONDARY_AREAS = {
    "0301": "盛岡", "0302": "岩手中部", "0303": "胆江", "0304": "両磐", "0305": "気仙",
    "0306": "釜石", "0307": "宮古", "0308": "久慈", "0309": "二戸",
}


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    area: str  # secondary area code
    lat: float
    lon: float
    population_k: float
    land_km2: float


M = Municipality
MUNICIPALITIES: tuple[Municipality, ...] = (
    M("03201", "盛岡市", "0301", 39.702, 141.154, 289.0, 886),
    M("03202", "宮古市", "0307", 39.641, 141.957, 50.0, 1259),
    M("03203", "大船渡市", "0305", 39.082, 141.708, 35.0, 323),
    M("03205", "花巻市", "0302", 39.389, 141.113, 94.0, 908),
    M("03206", "北上市", "0302", 39.287, 141.113, 93.0, 437),
    M("03207", "久慈市", "0308", 40.190, 141.776, 33.0, 623),
    M("03208", "遠野市", "0302", 39.328, 141.533, 25.0, 826),
    M("03209", "一関市", "0304", 38.934, 141.126, 112.0, 1256),
    M("03210", "陸前高田市", "0305", 39.015, 141.629, 18.0, 232),
    M("03211", "釜石市", "0306", 39.276, 141.886, 32.0, 441),
    M("03213", "二戸市", "0309", 40.271, 141.305, 25.0, 420),
    M("03214", "八幡平市", "0301", 39.926, 141.095, 24.0, 862),
    M("03215", "奥州市", "0303", 39.144, 141.139, 113.0, 993),
    M("03216", "滝沢市", "0301", 39.735, 141.077, 55.0, 182),
    M("03301", "雫石町", "0301", 39.696, 140.976, 16.0, 609),
    M("03302", "葛巻町", "0301", 40.040, 141.436, 5.8, 435),
    M("03303", "岩手町", "0301", 39.972, 141.212, 12.6, 361),
    M("03321", "紫波町", "0301", 39.556, 141.156, 33.0, 239),
    M("03322", "矢巾町", "0301", 39.605, 141.127, 27.0, 67),
    M("03366", "西和賀町", "0302", 39.352, 140.747, 5.1, 591),
    M("03381", "金ケ崎町", "0303", 39.196, 141.116, 15.5, 180),
    M("03402", "平泉町", "0304", 38.987, 141.115, 7.3, 63),
    M("03441", "住田町", "0305", 39.142, 141.580, 5.0, 335),
    M("03461", "大槌町", "0306", 39.359, 141.900, 11.0, 201),
    M("03482", "山田町", "0307", 39.467, 141.949, 15.0, 263),
    M("03483", "岩泉町", "0307", 39.843, 141.797, 8.7, 993),
    M("03484", "田野畑村", "0307", 39.931, 141.930, 3.2, 156),
    M("03485", "普代村", "0308", 40.003, 141.885, 2.5, 70),
    M("03501", "軽米町", "0309", 40.326, 141.461, 8.6, 246),
    M("03503", "野田村", "0308", 40.110, 141.818, 3.9, 81),
    M("03506", "九戸村", "0309", 40.211, 141.419, 5.5, 134),
    M("03507", "洋野町", "0308", 40.409, 141.656, 15.6, 303),
    M("03524", "一戸町", "0309", 40.206, 141.296, 11.7, 300),
)

#: Facilities per type in the demo (≈ national counts of DOMAIN.md × Iwate's share, rounded).
FACILITY_COUNTS = {
    "tokuyo": 106, "chiiki_tokuyo": 58, "roken": 62, "iryoin": 14, "yogo": 15,
    "keihi": 36, "tokutei": 38, "chiiki_tokutei": 6, "gh": 190,
}

#: Share of reported facilities with all requirements met (FY2025 survey; effort types assumed).
ALL_MET_SHARE = {
    "tokuyo": 0.679, "chiiki_tokuyo": 0.679, "roken": 0.833, "iryoin": 0.849, "yogo": 0.604,
    "keihi": 0.55, "tokutei": 0.55, "chiiki_tokutei": 0.55, "gh": 0.55,
}
NOT_TRACKED_SHARE = 0.12

RESIDENTS = {  # (choices, weights) of 定員 per type
    "tokuyo": ([50, 60, 70, 80, 100, 120], [2, 2, 2, 3, 2, 1]),
    "chiiki_tokuyo": ([20, 29], [1, 4]),
    "roken": ([60, 80, 100, 120], [1, 2, 4, 1]),
    "iryoin": ([30, 48, 60, 100], [1, 2, 2, 1]),
    "yogo": ([50, 60, 80], [2, 2, 1]),
    "keihi": ([20, 30, 50], [2, 3, 1]),
    "tokutei": ([30, 40, 50, 80], [2, 2, 2, 1]),
    "chiiki_tokutei": ([20, 29], [1, 3]),
    "gh": ([9, 18, 27], [3, 6, 1]),
}

# Iwate's Pacific coast, (lat, easternmost lon): generated points stay on land.
_COAST = np.array([(38.90, 141.68), (39.00, 141.70), (39.08, 141.76), (39.30, 141.93),
                   (39.55, 142.02), (39.70, 141.98), (39.95, 141.95), (40.10, 141.85),
                   (40.30, 141.80), (40.45, 141.70)])


def _coast_lon(lat: np.ndarray) -> np.ndarray:
    return np.interp(lat, _COAST[:, 0], _COAST[:, 1]) - 0.015


def _scatter(rng: np.random.Generator, m: Municipality, n: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """n points around a town centre; ``spread`` < 1 keeps them nearer the centre."""
    radius_km = 0.6 * np.sqrt(m.land_km2 / np.pi)
    r = radius_km * rng.random(n) ** (1 / spread)
    theta = rng.random(n) * 2 * np.pi
    lat = m.lat + (r * np.sin(theta)) / 111.0
    lon = m.lon + (r * np.cos(theta)) / (111.0 * np.cos(np.radians(m.lat)))
    lon = np.minimum(lon, _coast_lon(lat))
    return lat.round(5), lon.round(5)


def _allocate(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Largest-remainder allocation of ``total`` items (deterministic)."""
    base = np.full(len(weights), minimum)
    rest = total - base.sum()
    share = weights / weights.sum() * rest
    out = base + np.floor(share).astype(int)
    left = total - out.sum()
    out[np.argsort(-(share - np.floor(share)), kind="stable")[:left]] += 1
    return out


def generate(seed: int = 2027) -> dict[str, pd.DataFrame]:
    """Generate the demo region's tables (same seed, same tables)."""
    rng = np.random.default_rng(seed)
    areas = pd.DataFrame({
        "municipality_code": [m.code for m in MUNICIPALITIES],
        "municipality_name": [m.name for m in MUNICIPALITIES],
        "secondary_area_code": [m.area for m in MUNICIPALITIES],
        "secondary_area_name": [SECONDARY_AREAS[m.area] for m in MUNICIPALITIES],
        "prefecture_code": PREFECTURE_CODE,
    })
    pop = np.array([m.population_k for m in MUNICIPALITIES])
    facilities = _facilities(rng, pop)
    institutions = _institutions(rng, pop)
    partnerships = _partnerships(rng, facilities, institutions)
    _spare_capacity(rng, institutions, partnerships)
    # Time slots from a stream of their own: the other tables stay what they were.
    availability = _availability(np.random.default_rng([seed, 16]), institutions, partnerships)
    return {"areas": areas, "facilities": facilities, "institutions": institutions,
            "partnerships": partnerships, "availability": availability}


#: Slot sets of the demo's part-time cover (``availability.csv``).
_DAY = "wd_day"
_DAY_EVENING = "wd_day;wd_night"
_NIGHTS_HOLIDAYS = "wd_night;hol_day;hol_night"
_HOLIDAYS = "hol_day;hol_night"


def _availability(rng: np.random.Generator, inst: pd.DataFrame, part: pd.DataFrame) -> pd.DataFrame:
    """Who gives ① or ② in part of the week only (issue #16): about a third of the clinics
    without round-the-clock house calls make them by day; some hospitals without a 24-hour
    designation cover nights and holidays (当直); a few pairs of neighbouring clinics split the
    week as a 連携 group.  Only roles an institution does not offer around the clock and gives
    in no agreement in force get a row, so with one partner per role nothing changes."""
    from matching.travel.geodesic import geodesic_km_matrix

    offers = _offers(inst)
    in_force = {(i, r) for i, rs in zip(part["institution_id"], part["roles"], strict=True)
                for r in rs.split(";") if r}
    ids = inst["institution_id"].to_numpy()
    free = {r: np.array([not offers[r][k] and (ids[k], r.value) not in in_force for k in range(len(ids))])
            for r in (Role.CONSULT, Role.VISIT)}
    clinic = (inst["kind"] == "clinic").to_numpy()
    rows: list[tuple[str, str, str]] = []
    taken = np.zeros(len(ids), bool)
    # 連携 groups: a clinic and its nearest clinic split the week (weekdays / holidays).
    pool = np.flatnonzero(clinic & free[Role.VISIT] & free[Role.CONSULT])
    lat, lon = inst["lat"].to_numpy()[pool], inst["lon"].to_numpy()[pool]
    groups = max(6, len(pool) // 100)
    for a in rng.permutation(len(pool))[:4 * groups]:
        if taken[pool[a]]:
            continue
        if len(pool) <= 3000:  # the demo: geodesics to every clinic of the pool
            dist = geodesic_km_matrix(lat[[a]], lon[[a]], lat, lon)[0]
        else:  # national: the 16 nearest by straight line are enough
            from matching.travel.geodesic import geodesic_km
            near16 = np.argsort((lat - lat[a]) ** 2 + ((lon - lon[a]) * np.cos(np.radians(lat[a]))) ** 2)[:16]
            dist = np.full(len(pool), np.inf)
            dist[near16] = geodesic_km(np.full(len(near16), lat[a]), np.full(len(near16), lon[a]),
                                       lat[near16], lon[near16])
        dist[a] = np.inf
        near = [b for b in np.argsort(dist, kind="stable") if not taken[pool[b]] and dist[b] < 15]
        if not near:
            continue
        b = near[0]
        taken[pool[a]] = taken[pool[b]] = True
        for k, slots in ((pool[a], _DAY_EVENING), (pool[b], _HOLIDAYS)):
            rows += [(ids[k], "consult", slots), (ids[k], "visit", slots)]
        if len(rows) >= groups * 4:
            break
    # Clinics that make house calls by day (about a third of those without 24-hour ones).
    for k in np.flatnonzero(clinic & free[Role.VISIT] & ~taken):
        if rng.random() < 1 / 3:
            rows.append((ids[k], "visit", _DAY if rng.random() < 0.7 else "wd_day;hol_day"))
            if free[Role.CONSULT][k]:
                rows.append((ids[k], "consult", _DAY_EVENING if rng.random() < 0.5 else _DAY))
    # Hospitals on call at night and on holidays.
    for k in np.flatnonzero(~clinic & free[Role.CONSULT]):
        u = rng.random()
        if u < 0.4:
            rows.append((ids[k], "consult", _NIGHTS_HOLIDAYS))
            if free[Role.VISIT][k] and u < 0.15:
                rows.append((ids[k], "visit", _NIGHTS_HOLIDAYS))
    df = pd.DataFrame(rows, columns=["institution_id", "role", "slots"])
    return df.sort_values(["institution_id", "role"]).reset_index(drop=True)


def _facilities(rng: np.random.Generator, pop: np.ndarray) -> pd.DataFrame:
    rows = []
    for ftype, total in FACILITY_COUNTS.items():
        minimum = 1 if ftype in ("tokuyo", "gh") else 0
        # Rural towns hold proportionally more care facilities than the city.
        per_town = _allocate(total, pop ** 0.8, minimum)
        for m, n in zip(MUNICIPALITIES, per_town, strict=True):
            if n == 0:
                continue
            lat, lon = _scatter(rng, m, n, spread=1.3)
            choices, weights = RESIDENTS[ftype]
            res = rng.choice(choices, size=n, p=np.array(weights) / sum(weights))
            for k in range(n):
                rows.append((ftype, m, lat[k], lon[k], int(res[k])))
    df = pd.DataFrame(rows, columns=["facility_type", "m", "lat", "lon", "residents"])
    df["facility_id"] = [f"F{i:04d}" for i in range(1, len(df) + 1)]
    short = df["facility_type"].map(lambda t: FACILITY_TYPES[t].short_ja)
    town = df["m"].map(lambda m: m.name)
    df["municipality_code"] = df["m"].map(lambda m: m.code)
    number = df.groupby(["facility_type", "municipality_code"]).cumcount() + 1
    df["name"] = "デモ" + short + "・" + town + number.astype(str)
    # 定員 unknown for a few (blank in the file).
    df["residents"] = df["residents"].astype("Int64").mask(rng.random(len(df)) < 0.03)
    # No annual report on file: a fixed share of each type (a quota keeps small types on target).
    df["reported"] = True
    for _, idx in df.groupby("facility_type", sort=False).groups.items():
        n_missing = int(round(NOT_TRACKED_SHARE * len(idx)))
        df.loc[rng.choice(idx, size=n_missing, replace=False), "reported"] = False
    return df[["facility_id", "name", "facility_type", "municipality_code", "lat", "lon",
               "residents", "reported"]]


def _institutions(rng: np.random.Generator, pop: np.ndarray) -> pd.DataFrame:
    rows = []
    # Hospitals: about one per 13,000 people, concentrated in cities; small towns
    # often have none.  Clinics: home-care support clinics and plain clinics.
    plan = (("hospital", 92, 1.25, 0.7), ("clinic_zaishin", 96, 1.15, 0.9), ("clinic", 150, 1.1, 0.9))
    for kind, total, power, spread in plan:
        per_town = _allocate(total, pop ** power)
        for m, n in zip(MUNICIPALITIES, per_town, strict=True):
            lat, lon = _scatter(rng, m, n, spread=spread)
            for k in range(n):
                rows.append((kind, m, lat[k], lon[k]))
    df = pd.DataFrame(rows, columns=["cls", "m", "lat", "lon"])
    n = len(df)
    df["institution_id"] = [f"I{i:04d}" for i in range(1, n + 1)]
    df["kind"] = np.where(df["cls"] == "hospital", "hospital", "clinic")
    df["municipality_code"] = df["m"].map(lambda m: m.code)
    hosp = df["kind"] == "hospital"
    df["beds"] = np.where(hosp, rng.choice([60, 99, 120, 150, 199, 250, 350, 500], n), 0)
    df["beds"] = df["beds"].astype("Int64").mask(~hosp & (rng.random(n) < 0.9))

    designations = []
    consult = pd.Series(pd.NA, index=df.index, dtype="boolean")
    visit = consult.copy()
    admit = consult.copy()
    for i, cls in enumerate(df["cls"]):
        u = rng.random()
        d: list[str] = []
        if cls == "hospital":
            if u < 0.05:
                d.append("zaibyo_kyoka")
            elif u < 0.16:
                d.append("zaibyo")
            if rng.random() < 0.07:
                d.append("koho_shien")
            if rng.random() < 0.28:
                d.append("chiiki_houkatsu_ward")
            if not d and rng.random() < 0.55:
                admit[i] = True  # an ordinary hospital that admits facility residents
            if "zaibyo" in d and rng.random() < 0.5:
                d.append("sekkyoku")
        elif cls == "clinic_zaishin":
            d.append("zaishin_kyoka" if u < 0.16 else "zaishin")
            if rng.random() < 0.2:
                d.append("sekkyoku")
            if rng.random() < 0.06:
                visit[i] = False  # a filing is not a practice: few house calls
        else:
            if u < 0.04:
                consult[i] = True
                visit[i] = True  # does the work without having filed
        designations.append(";".join(d))
    df["designations"] = designations
    df["consult_24h"], df["visit_24h"], df["admit"] = consult, visit, admit
    u = rng.random(n)
    df["accepting"] = pd.Series(np.where(u < 0.72, True, False), dtype="boolean").mask(u > 0.87)
    town = df["m"].map(lambda m: m.name)
    label = np.where(df["kind"] == "hospital", "病院", "診療所")
    df["name"] = "デモ" + town.str.replace(r"[市町村]$", "", regex=True) + label + (df.groupby("municipality_code").cumcount() + 1).astype(str)
    return df[["institution_id", "name", "kind", "municipality_code", "lat", "lon", "beds",
               "designations", "consult_24h", "visit_24h", "admit", "accepting"]]


def _offers(inst: pd.DataFrame) -> dict[Role, np.ndarray]:
    from matching.vocabulary import InstitutionKind, default_roles

    out = {r: np.zeros(len(inst), bool) for r in Role}
    for i, (kind, d, c, v, a) in enumerate(zip(inst["kind"], inst["designations"], inst["consult_24h"],
                                             inst["visit_24h"], inst["admit"], strict=True)):
        roles = default_roles(InstitutionKind(kind), {x for x in d.split(";") if x})
        for role, flag in ((Role.CONSULT, c), (Role.VISIT, v), (Role.ADMIT, a)):
            out[role][i] = bool(flag) if not pd.isna(flag) else role in roles
    return out


def _partnerships(rng: np.random.Generator, fac: pd.DataFrame, inst: pd.DataFrame) -> pd.DataFrame:
    """Agreements in force, drawn so that each type's all-met share hits its target."""
    from matching.travel.geodesic import geodesic_km_matrix

    dist = geodesic_km_matrix(fac["lat"].to_numpy(), fac["lon"].to_numpy(),
                              inst["lat"].to_numpy(), inst["lon"].to_numpy())
    is_hosp = (inst["kind"] == "hospital").to_numpy()
    offers = _offers(inst)

    def near(i: int, mask: np.ndarray, k: int = 3) -> int:
        idx = np.flatnonzero(mask)
        order = idx[np.argsort(dist[i, idx], kind="stable")][:k]
        return int(rng.choice(order))

    rows: list[tuple[str, str, str]] = []
    for ftype, group in fac.groupby("facility_type", sort=False):
        reported = group[group["reported"]]
        n_all = int(round(ALL_MET_SHARE[ftype] * len(reported)))
        order = rng.permutation(len(reported))
        obligated = FACILITY_TYPES[ftype].obligated
        for rank, pos in enumerate(order):
            i = fac.index.get_loc(reported.index[pos])
            fid = fac.at[reported.index[pos], "facility_id"]
            u = rng.random()
            if rank < n_all:  # all requirements met
                if obligated and u < 0.55:
                    rows.append((fid, inst.iat[near(i, is_hosp), 0], "consult;visit;admit"))
                else:
                    rows.append((fid, inst.iat[near(i, offers[Role.VISIT] & offers[Role.CONSULT]), 0], "consult;visit"))
                    if obligated:
                        rows.append((fid, inst.iat[near(i, is_hosp), 0], "admit"))
            elif u < 0.60:  # some met
                if obligated and u < 0.35:
                    rows.append((fid, inst.iat[near(i, is_hosp), 0], "admit"))
                elif obligated:
                    rows.append((fid, inst.iat[near(i, ~is_hosp), 0], "consult;visit"))
                else:
                    rows.append((fid, inst.iat[near(i, np.ones(len(inst), bool)), 0], "consult"))
            elif u < 0.72:  # designated, but the agreement meets none of the requirements
                rows.append((fid, inst.iat[near(i, np.ones(len(inst), bool)), 0], ""))
            # else: no cooperating institution at all
    df = pd.DataFrame(rows, columns=["facility_id", "institution_id", "roles"])
    # One agreement per pair: merge roles if the same institution was drawn twice.
    df = df.groupby(["facility_id", "institution_id"], as_index=False)["roles"].agg(
        lambda rs: format_roles({Role(x) for r in rs for x in r.split(";") if x}))
    return df.sort_values(["facility_id", "institution_id"]).reset_index(drop=True)


def _spare_capacity(rng: np.random.Generator, inst: pd.DataFrame, part: pd.DataFrame) -> None:
    """Spare capacity = drawn total arrangements − current partners (never negative)."""
    n = len(inst)
    current = part["institution_id"].value_counts().reindex(inst["institution_id"]).fillna(0).to_numpy()
    hosp = (inst["kind"] == "hospital").to_numpy()
    # Facilities per hospital: lognormal with median 5, upper quartile 12 (DOMAIN.md, 000).
    total = np.where(hosp, rng.lognormal(np.log(5), 1.3, n), rng.lognormal(np.log(3), 0.8, n))
    spare = np.maximum(0, np.round(total) - current).astype(int)
    cap = pd.Series(spare, dtype="Int64", index=inst.index).mask(hosp & (rng.random(n) < 0.08))  # a few: no limit stated
    inst["capacity_facilities"] = cap
    # Clinics keep facility residents to a share of their home-care patients (the 70% rule).
    res = pd.Series(rng.choice([40, 60, 90, 120, 150], n), dtype="Int64", index=inst.index)
    inst["capacity_residents"] = res.mask(hosp | (rng.random(n) < 0.5))


def write(folder: str | Path, seed: int = 2027) -> dict[str, int]:
    """Generate and write the demo region's CSV files; returns row counts."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = generate(seed)
    counts = {}
    for name, df in tables.items():
        out = df.copy()
        for col in out.columns:
            if str(out[col].dtype) == "boolean" or out[col].dtype == bool:
                out[col] = out[col].map(lambda v: "" if pd.isna(v) else ("true" if v else "false"))
        safecells.to_csv(out, folder / f"{name}.csv", index=False, lineterminator="\n")
        counts[name] = len(out)
    return counts
