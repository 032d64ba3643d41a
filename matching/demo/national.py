"""A national-scale synthetic instance: 47 prefecture-like clusters, about 40,000 facilities.

Everything here is fictitious and generated from a seed (every name starts with デモ);
it exists to benchmark the matching at the size of Japan, and is never committed —
``write(folder, seed, scale)`` creates it on demand in a second or two.

Calibration (see ../shared/DOMAIN.md):

* 47 clusters placed at the prefectural capitals, with each prefecture's rounded
  2020 population and land area, so density runs from metropolitan (Tokyo-like:
  14 M people on 2,200 km²) to depopulated (Hokkaido-, Shimane-, Kōchi-like);
  municipalities ≈ 1,700 nationally, secondary areas ≈ 335;
* facilities by type as the national counts (2023-05): 介護老人福祉施設 8,339,
  地域密着型 2,456, 老健 4,183, 介護医療院 781, 養護 920, 軽費 2,324, グループホーム
  14,306; of the 16,340 有料老人ホーム only part hold the 特定施設 designation —
  we assume 35% (5,719), plus 370 地域密着型特定施設 (an assumption);
* ≈ 8,000 hospitals and ≈ 15,000 home-care support clinics (在支診, 27% 機能強化型);
* facilities per hospital (spare capacity) drawn from the distribution in 000:
  lognormal with median 5 and upper quartile 12, capped at 167 (the largest seen);
* 30–40% of reported obligated facilities lack a role (a fixed quota per type),
  45% of effort-type facilities (an assumption); 10–25% per prefecture have no
  annual report on file (集計していない, "10–30%" nationally).

``scale`` multiplies every count (¼ and ½ instances keep the same 47 clusters, so
they are sparser); :func:`prefecture` gives one Chiba-like cluster of ≈ 2,000
facilities and ≈ 1,100 institutions.

>>> t = generate(seed=1, scale=0.01)
>>> t["areas"]["prefecture_code"].nunique()
47
>>> bool(t["facilities"]["name"].str.startswith("デモ").all())
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from matching import safecells
from matching.demo.iwate import RESIDENTS  # (choices, weights) of 定員 per type, as in the demo
from matching.travel.geodesic import unit_vectors
from matching.vocabulary import FACILITY_TYPES, Role, format_roles

# (code, population in millions, land km², capital lat, capital lon) — rounded public figures.
PREFECTURES: tuple[tuple[str, float, float, float, float], ...] = (
    ("01", 5.22, 83424, 43.06, 141.35), ("02", 1.24, 9646, 40.82, 140.74),
    ("03", 1.21, 15275, 39.70, 141.15), ("04", 2.30, 7282, 38.27, 140.87),
    ("05", 0.96, 11638, 39.72, 140.10), ("06", 1.07, 9323, 38.24, 140.36),
    ("07", 1.83, 13784, 37.75, 140.47), ("08", 2.87, 6097, 36.34, 140.45),
    ("09", 1.93, 6408, 36.57, 139.88), ("10", 1.94, 6362, 36.39, 139.06),
    ("11", 7.34, 3798, 35.86, 139.65), ("12", 6.28, 5158, 35.61, 140.12),
    ("13", 14.05, 2194, 35.69, 139.69), ("14", 9.24, 2416, 35.45, 139.64),
    ("15", 2.20, 12584, 37.90, 139.02), ("16", 1.03, 4248, 36.70, 137.21),
    ("17", 1.13, 4186, 36.59, 136.63), ("18", 0.77, 4191, 36.07, 136.22),
    ("19", 0.81, 4465, 35.66, 138.57), ("20", 2.05, 13562, 36.65, 138.18),
    ("21", 1.98, 10621, 35.39, 136.72), ("22", 3.63, 7777, 34.98, 138.38),
    ("23", 7.54, 5173, 35.18, 136.91), ("24", 1.77, 5774, 34.73, 136.51),
    ("25", 1.41, 4017, 35.00, 135.87), ("26", 2.58, 4612, 35.02, 135.76),
    ("27", 8.84, 1905, 34.69, 135.52), ("28", 5.47, 8401, 34.69, 135.18),
    ("29", 1.32, 3691, 34.69, 135.83), ("30", 0.92, 4725, 34.23, 135.17),
    ("31", 0.55, 3507, 35.50, 134.24), ("32", 0.67, 6708, 35.47, 133.05),
    ("33", 1.89, 7114, 34.66, 133.93), ("34", 2.80, 8480, 34.40, 132.46),
    ("35", 1.34, 6113, 34.19, 131.47), ("36", 0.72, 4147, 34.07, 134.56),
    ("37", 0.95, 1877, 34.34, 134.04), ("38", 1.33, 5676, 33.84, 132.77),
    ("39", 0.69, 7104, 33.56, 133.53), ("40", 5.14, 4987, 33.61, 130.42),
    ("41", 0.81, 2441, 33.25, 130.30), ("42", 1.31, 4131, 32.74, 129.87),
    ("43", 1.74, 7409, 32.79, 130.74), ("44", 1.12, 6341, 33.24, 131.61),
    ("45", 1.07, 7735, 31.91, 131.42), ("46", 1.59, 9187, 31.56, 130.56),
    ("47", 1.47, 2282, 26.21, 127.68),
)
MUNICIPALITIES_NATIONAL = 1741
SECONDARY_AREAS_NATIONAL = 335
PREFECTURE_CODE = "12"  # the prefecture-size instance: Chiba-like, ≈ 2,000 facilities

#: National facility counts by type (DOMAIN.md, 2023-05); tokutei = 35% of 有料 (assumption).
FACILITY_COUNTS = {
    "tokuyo": 8339, "chiiki_tokuyo": 2456, "roken": 4183, "iryoin": 781, "yogo": 920,
    "keihi": 2324, "tokutei": 5719, "chiiki_tokutei": 370, "gh": 14306,
}
HOSPITALS = 8000
CLINICS = 15000  # 在宅療養支援診療所

#: Share of reported facilities lacking at least one required role (a quota per type).
LACKING_SHARE = {
    "tokuyo": 0.35, "chiiki_tokuyo": 0.36, "roken": 0.32, "iryoin": 0.31, "yogo": 0.39,
    "keihi": 0.45, "tokutei": 0.45, "chiiki_tokutei": 0.45, "gh": 0.45,
}


KM_PER_DEG = 111.0


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder allocation of ``total`` items (deterministic)."""
    weights = np.asarray(weights, float)
    share = weights / weights.sum() * total
    out = np.floor(share).astype(int)
    out[np.argsort(-(share - out), kind="stable")[: total - out.sum()]] += 1
    return out


def _municipalities(rng: np.random.Generator, codes) -> pd.DataFrame:
    """Municipalities of each prefecture: a capital at the centre, the rest scattered,
    populations Zipf-like (the capital largest), land shared ∝ population^0.35."""
    prefs = [p for p in PREFECTURES if p[0] in codes]
    pop = np.array([p[1] for p in PREFECTURES])
    area = np.array([p[2] for p in PREFECTURES])
    n_mun = dict(zip([p[0] for p in PREFECTURES],
                     np.maximum(8, _allocate(MUNICIPALITIES_NATIONAL, 0.6 * area / area.sum() + 0.4 * pop / pop.sum())),
                     strict=True))
    n_sec = dict(zip([p[0] for p in PREFECTURES],
                     np.maximum(2, _allocate(SECONDARY_AREAS_NATIONAL, 0.5 * area / area.sum() + 0.5 * pop / pop.sum())),
                     strict=True))
    frames = []
    for code, pop_m, land, lat0, lon0 in prefs:
        n = int(n_mun[code])
        weights = 1.0 / np.arange(1, n + 1) ** 1.1
        mpop = pop_m * 1e6 * weights / weights.sum()
        mland = land * mpop ** 0.35 / (mpop ** 0.35).sum()
        radius = np.sqrt(land / np.pi)
        r = radius * np.sqrt(rng.random(n)) * 0.9
        r[0] = 0.0
        theta = rng.random(n) * 2 * np.pi
        lat = lat0 + r * np.sin(theta) / KM_PER_DEG
        lon = lon0 + r * np.cos(theta) / (KM_PER_DEG * np.cos(np.radians(lat0)))
        # Secondary areas: each municipality joins the nearest of the k most populous.
        k = int(min(n_sec[code], n))
        d2 = (lat[:, None] - lat[None, :k]) ** 2 + (lon[:, None] - lon[None, :k]) ** 2
        sec = np.argmin(d2, axis=1)
        suffix = np.where(mpop >= 50_000, "市", np.where(mpop >= 8_000, "町", "村"))
        frames.append(pd.DataFrame({
            "municipality_code": [f"{code}{100 + j:03d}" for j in range(n)],
            "municipality_name": [f"デモ{code}の{j + 1}{s}" for j, s in enumerate(suffix)],
            "secondary_area_code": [f"{code}{s + 1:02d}" for s in sec],
            "secondary_area_name": [f"デモ{code}第{s + 1}圏" for s in sec],
            "prefecture_code": code,
            "_pop": mpop, "_land": mland, "_lat": lat.round(5), "_lon": lon.round(5),
        }))
    return pd.concat(frames, ignore_index=True)


def _scatter(rng: np.random.Generator, mun: pd.DataFrame, per_mun: np.ndarray, spread: float):
    """Points around their municipality's centre (``spread`` < 1 crowds them in)."""
    idx = np.repeat(np.arange(len(mun)), per_mun)
    lat0, lon0 = mun["_lat"].to_numpy()[idx], mun["_lon"].to_numpy()[idx]
    radius = 0.6 * np.sqrt(mun["_land"].to_numpy()[idx] / np.pi)
    r = radius * rng.random(len(idx)) ** (1 / spread)
    theta = rng.random(len(idx)) * 2 * np.pi
    lat = lat0 + r * np.sin(theta) / KM_PER_DEG
    lon = lon0 + r * np.cos(theta) / (KM_PER_DEG * np.cos(np.radians(lat0)))
    return idx, lat.round(5), lon.round(5)


def generate(seed: int = 2027, scale: float = 1.0, prefectures=None,
             residents_capacity: bool = True, availability: bool = False) -> dict[str, pd.DataFrame]:
    """The instance's tables (same arguments, same tables).

    ``prefectures``: codes to keep (None = all 47; counts stay each prefecture's share).
    ``residents_capacity=False`` leaves ``capacity_residents`` blank (capacities in facilities only).
    ``availability=True`` adds ``availability.csv`` (time slots, issue #16) by the demo's rules,
    from a random stream of its own: the other tables stay the same.
    """
    codes = {p[0] for p in PREFECTURES} if prefectures is None else set(prefectures)
    rng = np.random.default_rng(seed)
    mun = _municipalities(rng, codes)
    # Counts: national totals × scale × the kept prefectures' share of the population.
    share = sum(p[1] for p in PREFECTURES if p[0] in codes) / sum(p[1] for p in PREFECTURES)
    k = scale * share
    facilities = _facilities(rng, mun, k)
    institutions = _institutions(rng, mun, k)
    partnerships = _partnerships(rng, facilities, institutions)
    _capacity(rng, institutions, partnerships, residents_capacity)
    areas = mun[["municipality_code", "municipality_name", "secondary_area_code", "secondary_area_name",
                 "prefecture_code"]]
    tables = {"areas": areas, "facilities": facilities, "institutions": institutions,
              "partnerships": partnerships}
    if availability:
        from matching.demo.iwate import _availability

        tables["availability"] = _availability(np.random.default_rng([seed, 16]), institutions, partnerships)
    return tables


def prefecture(seed: int = 2027, residents_capacity: bool = True) -> dict[str, pd.DataFrame]:
    """The prefecture-size instance: one Chiba-like cluster (≈ 2,000 facilities, ≈ 1,100 institutions)."""
    return generate(seed, 1.0, prefectures=(PREFECTURE_CODE,), residents_capacity=residents_capacity)


def _facilities(rng: np.random.Generator, mun: pd.DataFrame, k: float) -> pd.DataFrame:
    # Care facilities follow the elderly, who are spread more evenly than hospitals.
    weight = mun["_pop"].to_numpy() ** 0.9
    parts = []
    for ftype, national in FACILITY_COUNTS.items():
        per_mun = _allocate(int(round(national * k)), weight)
        idx, lat, lon = _scatter(rng, mun, per_mun, spread=1.2)
        choices, w = RESIDENTS[ftype]
        parts.append(pd.DataFrame({"facility_type": ftype, "_m": idx, "lat": lat, "lon": lon,
                                   "residents": rng.choice(choices, size=len(idx), p=np.array(w) / sum(w))}))
    df = pd.concat(parts, ignore_index=True)
    df["facility_id"] = [f"F{i:06d}" for i in range(1, len(df) + 1)]
    df["municipality_code"] = mun["municipality_code"].to_numpy()[df["_m"]]
    short = df["facility_type"].map({c: t.short_ja for c, t in FACILITY_TYPES.items()})
    number = df.groupby(["facility_type", "municipality_code"]).cumcount() + 1
    df["name"] = "デモ" + short + "・" + mun["municipality_name"].to_numpy()[df["_m"]] + number.astype(str)
    df["residents"] = df["residents"].astype("Int64").mask(rng.random(len(df)) < 0.03)  # 定員 unknown
    # No annual report on file: 10–25% per prefecture.
    pref = df["municipality_code"].str[:2]
    untracked = {p: rng.uniform(0.10, 0.25) for p in sorted(pref.unique())}
    df["reported"] = rng.random(len(df)) >= pref.map(untracked).to_numpy()
    return df[["facility_id", "name", "facility_type", "municipality_code", "lat", "lon",
               "residents", "reported"]]


def _institutions(rng: np.random.Generator, mun: pd.DataFrame, k: float) -> pd.DataFrame:
    pop = mun["_pop"].to_numpy()
    h_idx, h_lat, h_lon = _scatter(rng, mun, _allocate(int(round(HOSPITALS * k)), pop ** 1.15), spread=0.8)
    c_idx, c_lat, c_lon = _scatter(rng, mun, _allocate(int(round(CLINICS * k)), pop ** 1.1), spread=0.9)
    nh, nc = len(h_idx), len(c_idx)
    n = nh + nc
    df = pd.DataFrame({"_m": np.concatenate([h_idx, c_idx]), "lat": np.concatenate([h_lat, c_lat]),
                       "lon": np.concatenate([h_lon, c_lon]),
                       "kind": np.array(["hospital"] * nh + ["clinic"] * nc, dtype=object)})
    df["institution_id"] = [f"I{i:06d}" for i in range(1, n + 1)]
    df["municipality_code"] = mun["municipality_code"].to_numpy()[df["_m"]]
    hosp = (df["kind"] == "hospital").to_numpy()
    df["beds"] = pd.Series(rng.choice([60, 99, 120, 150, 199, 250, 350, 500], n), dtype="Int64").mask(~hosp)

    u, v, w, x = rng.random(n), rng.random(n), rng.random(n), rng.random(n)
    d_zaibyo = np.where(u < 0.07, "zaibyo_kyoka", np.where(u < 0.22, "zaibyo", ""))
    hospital_desig = [";".join(t for t in parts if t) for parts in zip(
        d_zaibyo, np.where(v < 0.06, "koho_shien", ""), np.where(w < 0.33, "chiiki_houkatsu_ward", ""),
        np.where((d_zaibyo != "") & (x < 0.4), "sekkyoku", ""), strict=True)]
    clinic_desig = np.where(u < 0.27, "zaishin_kyoka", "zaishin")
    clinic_desig = np.where(v < 0.15, np.char.add(clinic_desig.astype(str), ";sekkyoku"), clinic_desig)
    df["designations"] = np.where(hosp, np.array(hospital_desig, dtype=object), clinic_desig.astype(object))
    none = pd.Series(pd.NA, index=df.index, dtype="boolean")
    df["consult_24h"], df["visit_24h"], df["admit"] = none.copy(), none.copy(), none.copy()
    # An ordinary hospital that admits facility residents; a 在支診 that does few house calls.
    df.loc[hosp & (df["designations"] == "") & (x < 0.55), "admit"] = True
    df.loc[~hosp & (x < 0.06), "visit_24h"] = False
    a = rng.random(n)
    df["accepting"] = pd.Series(np.where(a < 0.72, True, False), dtype="boolean").mask(a > 0.87)
    label = np.where(hosp, "病院", "診療所")
    number = df.groupby(["municipality_code", "kind"]).cumcount() + 1
    df["name"] = "デモ" + mun["municipality_name"].to_numpy()[df["_m"]] + label + number.astype(str)
    return df[["institution_id", "name", "kind", "municipality_code", "lat", "lon", "beds",
               "designations", "consult_24h", "visit_24h", "admit", "accepting"]]


def _offers(inst: pd.DataFrame) -> dict[Role, np.ndarray]:
    hosp = (inst["kind"] == "hospital").to_numpy()
    d = inst["designations"]
    explicit_admit = inst["admit"].fillna(False).to_numpy(bool)
    visit_off = (inst["visit_24h"] == False).fillna(False).to_numpy(bool)  # noqa: E712 (nullable)
    has = {code: d.str.contains(code, regex=False).to_numpy() for code in
           ("zaishin", "zaibyo", "koho_shien", "chiiki_houkatsu_ward", "sekkyoku")}
    cv = has["zaishin"] | has["zaibyo"] | has["sekkyoku"]
    return {Role.CONSULT: cv | has["koho_shien"], Role.VISIT: cv & ~visit_off,
            Role.ADMIT: hosp & (has["zaibyo"] | has["koho_shien"] | has["chiiki_houkatsu_ward"] | explicit_admit)}


def _near(rng: np.random.Generator, fac: pd.DataFrame, inst: pd.DataFrame, mask: np.ndarray,
          rows: np.ndarray, k: int = 3) -> np.ndarray:
    """For each facility row, one of the k nearest institutions in ``mask`` (institution ids)."""
    pool = np.flatnonzero(mask)
    tree = cKDTree(unit_vectors(inst["lat"].to_numpy()[pool], inst["lon"].to_numpy()[pool]))
    kk = min(k, len(pool))
    _, nn = tree.query(unit_vectors(fac["lat"].to_numpy()[rows], fac["lon"].to_numpy()[rows]), k=kk)
    nn = nn.reshape(len(rows), kk)
    pick = nn[np.arange(len(rows)), rng.integers(0, kk, len(rows))]
    return inst["institution_id"].to_numpy()[pool[pick]]


def _partnerships(rng: np.random.Generator, fac: pd.DataFrame, inst: pd.DataFrame) -> pd.DataFrame:
    """Agreements in force, drawn so that each type's share lacking a role hits its quota."""
    offers = _offers(inst)
    hosp = (inst["kind"] == "hospital").to_numpy()
    cv = offers[Role.CONSULT] & offers[Role.VISIT]
    obligated = fac["facility_type"].map({c: t.obligated for c, t in FACILITY_TYPES.items()}).to_numpy(bool)
    state = np.full(len(fac), "", dtype=object)  # all | some | none_met | none (reported only)
    for ftype, idx in fac[fac["reported"]].groupby("facility_type", sort=False).groups.items():
        pos = fac.index.get_indexer(idx)
        order = rng.permutation(pos)
        n_all = len(pos) - int(round(LACKING_SHARE[ftype] * len(pos)))
        state[order[:n_all]] = "all"
        u = rng.random(len(pos) - n_all)
        state[order[n_all:]] = np.where(u < 0.60, "some", np.where(u < 0.72, "none_met", "none"))
    u = rng.random(len(fac))
    rows: list[pd.DataFrame] = []

    def add(sel: np.ndarray, mask: np.ndarray, roles: str) -> None:
        where = np.flatnonzero(sel)
        if len(where):
            rows.append(pd.DataFrame({"facility_id": fac["facility_id"].to_numpy()[where],
                                      "institution_id": _near(rng, fac, inst, mask, where), "roles": roles}))

    every = np.ones(len(inst), bool)
    full = state == "all"
    add(full & obligated & (u < 0.55), hosp & offers[Role.ADMIT] & cv, "consult;visit;admit")
    add(full & ~(obligated & (u < 0.55)), cv, "consult;visit")
    add(full & obligated & ~(u < 0.55), hosp & offers[Role.ADMIT], "admit")
    some = state == "some"
    add(some & obligated & (u < 0.35), hosp & offers[Role.ADMIT], "admit")
    add(some & obligated & ~(u < 0.35), cv, "consult;visit")
    add(some & ~obligated, offers[Role.CONSULT], "consult")
    add(state == "none_met", every, "")
    df = pd.concat(rows, ignore_index=True)
    # One agreement per pair: merge roles if the same institution was drawn twice.
    dup = df.duplicated(["facility_id", "institution_id"], keep=False)
    merged = df[dup].groupby(["facility_id", "institution_id"], as_index=False)["roles"].agg(
        lambda rs: format_roles({Role(x) for r in rs for x in r.split(";") if x}))
    df = pd.concat([df[~dup], merged], ignore_index=True)
    return df.sort_values(["facility_id", "institution_id"]).reset_index(drop=True)


def _capacity(rng: np.random.Generator, inst: pd.DataFrame, part: pd.DataFrame, residents: bool) -> None:
    """Spare capacity = drawn total arrangements − current partners (never negative)."""
    n = len(inst)
    current = part["institution_id"].value_counts().reindex(inst["institution_id"]).fillna(0).to_numpy()
    hosp = (inst["kind"] == "hospital").to_numpy()
    # Facilities per hospital: lognormal, median 5, upper quartile 12, at most 167 (000).
    total = np.where(hosp, rng.lognormal(np.log(5), 1.3, n), rng.lognormal(np.log(3), 0.8, n))
    spare = np.maximum(0, np.minimum(np.round(total), 167) - current).astype(int)
    inst["capacity_facilities"] = pd.Series(spare, dtype="Int64").mask(hosp & (rng.random(n) < 0.08))
    # Residents: clinics keep facility residents to a share of their patients (the 70% rule);
    # hospitals about 40 residents per facility slot.
    clinic_res = rng.choice([40, 60, 90, 120, 150], n)
    hosp_res = np.round(spare * rng.uniform(30, 60, n)).astype(int)
    res = pd.Series(np.where(hosp, hosp_res, clinic_res), dtype="Int64")
    res = res.mask(~hosp & (rng.random(n) < 0.5)).mask(inst["capacity_facilities"].isna())
    inst["capacity_residents"] = res if residents else pd.Series(pd.NA, index=inst.index, dtype="Int64")


def _csv(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if str(out[col].dtype) == "boolean" or out[col].dtype == bool:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else ("true" if v else "false"))
    return out


def write_tables(folder: str | Path, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, df in tables.items():
        safecells.to_csv(_csv(df), folder / f"{name}.csv", index=False, lineterminator="\n")
        counts[name] = len(df)
    return counts


def write(folder: str | Path, seed: int = 2027, scale: float = 1.0, *, prefectures=None,
          residents_capacity: bool = True, availability: bool = False) -> dict[str, int]:
    """Generate and write the instance's CSV files (a region folder); returns row counts.

    >>> import tempfile; d = tempfile.mkdtemp()
    >>> write(d, seed=1, scale=0.25)["facilities"]
    9849
    """
    return write_tables(folder, generate(seed, scale, prefectures, residents_capacity, availability))
