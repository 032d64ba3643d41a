"""An independent verifier of proposals.

It shares nothing with the solver path but the data contract (and the role ↔
column map of ``matching.roles``): distances are recomputed here from the
coordinates of each proposal's own facility and institution (Karney's geodesic,
PROJ's implementation called directly — not the solver's helper — and pinned to
geopy's in the tests), travel times pair by pair (networkx Dijkstra for road
graphs, not scipy), and every rule is checked row by row from the vocabulary
table.  Tests run it on every solve they make.

>>> from matching.contract import load_region
>>> from matching.optimise.run import match
>>> region = load_region("data/demo")
>>> verify(region, match(region).proposals)       # or the path of a proposals.csv
[]
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from geographiclib.geodesic import Geodesic
from pyproj import Geod

from matching.capacity import capacity_columns
from matching.contract.schema import capacity_column
from matching.parameters import MatchParameters
from matching.region import Region
from matching.roles import SLOT_CODES, SLOT_LABELS_JA, slots_of
from matching.roles import column as role_column
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER, Role

KM_TOLERANCE = 0.02  # km: proposals round distances to 10 m
MINUTE_TOLERANCE = 0.06  # minutes: proposals round to 0.1
#: A role by its code (``Role(code)`` per cell was a fifth of the verifier's time nationally).
_ROLE = {r.value: r for r in Role}


@dataclass(frozen=True, order=True)
class Violation:
    """One broken rule: its code, the pair (``*`` where it is the institution's total), and what
    is wrong, in English (``message``) and in Japanese for the people who arrange the agreements
    (``message_ja``)."""

    code: str
    facility_id: str
    institution_id: str
    message: str
    message_ja: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"[{self.code}] {self.facility_id}–{self.institution_id}: {self.message}"

    def text_ja(self) -> str:
        """The violation as a line for people: the pair, then what is wrong (the code kept, to look up)."""
        return f"[{self.code}] {self.facility_id}–{self.institution_id}: {self.message_ja or self.message}"


#: A capacity's unit in Japanese: what is counted, and its counter word.
_CAPACITY_UNITS_JA = {"facilities": ("施設数", "施設"), "residents": ("入所者数", "人")}


def _slots_ja(slots) -> str:
    return "・".join(SLOT_LABELS_JA[s] for s in SLOT_CODES if s in slots)


class _Distance(NamedTuple):
    km: float


_WGS84 = Geodesic.WGS84
_PROJ_WGS84 = Geod(ellps="WGS84")


def geodesic_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Geodesic km between points, element-wise, on WGS-84 (Karney, as geopy's ``geodesic``): one
    call for every proposal — geographiclib pair by pair was 1 s of a national run's verifier."""
    _, _, metres = _PROJ_WGS84.inv(np.asarray(lon1, float), np.asarray(lat1, float),
                                   np.asarray(lon2, float), np.asarray(lat2, float))
    return np.asarray(metres, float) / 1000


def _geodesic(a: tuple[float, float], b: tuple[float, float]) -> _Distance:
    """``geopy.distance.geodesic(a, b)`` (WGS-84, Karney), with one ellipsoid object for every pair
    and the distance alone computed: geopy builds a new one per call, which was half the
    verifier's time on a national run."""
    return _Distance(_WGS84.Inverse(float(a[0]), float(a[1]), float(b[0]), float(b[1]), Geodesic.DISTANCE)["s12"] / 1000)


#: The columns the verifier reads from a proposals file (and each role's slots, with time slots).
PROPOSAL_COLUMNS = ("facility_id", "institution_id", "roles", "distance_km", "travel_minutes")
_SLOT_COLUMNS = {r: f"{r.value}_slots" for r in Role}


def read_proposals(path: str | Path):
    """A proposals file (CSV in UTF-8 or CP932, or xlsx; English or Japanese headers) as strings,
    and how it was read.  Raises :class:`~matching.contract.tablefile.TableError` for a file that
    is not a proposals table."""
    from matching.contract.tablefile import TableError, read_frame
    from matching.outputs import english_headers

    df, table = read_frame(path)
    df = english_headers(df)
    missing = [c for c in PROPOSAL_COLUMNS if c not in df.columns]
    if missing:
        raise TableError(f"{table.path.name}: not a proposals file (missing column(s) {', '.join(missing)})",
                         f"{table.path.name} は提案ファイル（proposals.csv）ではありません"
                         f"（列 {'、'.join(missing)} がありません）")
    return df, table


def verify(region: Region, proposals: pd.DataFrame | str | Path,
           params: MatchParameters | None = None) -> list[Violation]:
    """Every violated constraint of ``proposals`` (empty list = all constraints hold)."""
    params = params or MatchParameters()
    if not isinstance(proposals, pd.DataFrame):
        proposals = read_proposals(proposals)[0]
    region = region.as_planned(params)  # estimated capacities hold as the optimiser used them
    out: list[Violation] = []
    fac = _Rows(region.facilities, ["facility_type", "reported", "lat", "lon", "residents", "municipality_code"])
    inst = _Rows(region.institutions, ["accepting", "lat", "lon", "kind", "capacity_estimated"]
                 + [role_column(r) for r in Role] + capacity_columns(region.institutions))
    pinned = {(p.facility_id, p.institution_id): p.roles for p in params.pinned}
    forbidden = {(p.facility_id, p.institution_id) for p in params.forbidden}
    # Time slots, recomputed here from availability.csv as sets of slot codes.
    avail = region.availability if region.availability is not None else pd.DataFrame(
        columns=["institution_id", "role", "slots"])
    timed = len(avail) > 0
    slots_by = {(i, Role(r)): set(slots_of(m)) for i, r, m in zip(*_lists(avail, ["institution_id", "role", "slots"]),
                                                                   strict=True)}
    every = set(SLOT_CODES)

    def offers(i: str, r: Role) -> set[str]:
        """The slots institution i gives role r in (its row, else its flag)."""
        return slots_by.get((i, r), every if bool(inst.at[i, role_column(r)]) else set())

    given: dict[tuple[str, Role], set[str]] = {}  # slots in force per (facility, role)
    n_given: dict[tuple[str, Role], int] = {}
    covered: dict[str, set[Role]] = {}
    for f, i, roles in zip(*_lists(region.partnerships, ["facility_id", "institution_id", "roles"]), strict=True):
        for r in roles:
            key = (f, _ROLE[r])
            slots = slots_by.get((i, key[1]), every)
            have = given.get(key)
            if have is None:
                given[key] = set(slots)
            else:
                have |= slots
            n_given[key] = n_given.get(key, 0) + 1
    for (f, r), s in given.items():
        if s == every:
            covered.setdefault(f, set()).add(r)
    limit = params.max_partners_per_role if timed else 1
    proposed: dict[tuple[str, Role], list[tuple[str, set[str]]]] = {}
    existing = set(zip(*_lists(region.partnerships, ["facility_id", "institution_id"]), strict=True))
    measured = {}
    if region.travel_times is not None:
        measured = {(f, i): m for f, i, m in region.travel_times[["facility_id", "institution_id", "minutes"]]
                    .itertuples(index=False)}
    road = _RoadTimes(region, params) if params.travel.road_network else None

    assigned: dict[tuple[str, Role], str] = {}
    #: Every institution proposed for a facility's role (with time slots several may share it).
    givers: dict[tuple[str, Role], set[str]] = {}
    seen_pairs: set[tuple[str, str]] = set()
    load: dict[str, list[int]] = {}  # institution -> [new facilities, residents]
    role_load: dict[tuple[str, Role], list[int]] = {}

    # Every proposal's geodesic at once, from its own facility's and institution's coordinates.
    ids = [(str(f), str(i)) for f, i in zip(proposals["facility_id"], proposals["institution_id"], strict=True)]
    known = [(f, i) for f, i in ids if f in fac.index and i in inst.index]
    lat, lon = fac.column("lat"), fac.column("lon")
    ilat, ilon = inst.column("lat"), inst.column("lon")
    km_of = dict(zip(known, geodesic_km([lat[f] for f, _ in known], [lon[f] for f, _ in known],
                                        [ilat[i] for _, i in known], [ilon[i] for _, i in known]).tolist(),
                     strict=True))

    read = [c for c in proposals.columns if c in PROPOSAL_COLUMNS or c in _SLOT_COLUMNS.values()]
    Row = namedtuple("Row", read)
    for row in map(Row._make, zip(*_lists(proposals, read), strict=True)):
        f, i = str(row.facility_id), str(row.institution_id)

        def bad(code, msg, ja, f=f, i=i):
            out.append(Violation(code, f, i, msg, ja))

        if f not in fac.index or i not in inst.index:
            bad("unknown_id", "facility or institution not in the region", "施設または医療機関がこの地域のデータにありません")
            continue
        if (f, i) in seen_pairs:
            bad("duplicate_pair", "the same pair appears twice", "同じ施設と医療機関の組が2回あります")
        seen_pairs.add((f, i))
        try:
            roles = {_ROLE[x] for x in str(row.roles).split(";") if x}
        except KeyError:
            bad("bad_roles", f"unreadable roles {row.roles!r}",
                f"役割 {row.roles!r} を読めません（consult・visit・admit を ; で区切ってください）")
            continue
        if not roles:
            bad("bad_roles", "a proposal must carry at least one role", "役割が空です（提案には役割が1つ以上必要です）")
            continue
        ftype = FACILITY_TYPES[fac.at[f, "facility_type"]]
        if params.facility_types is not None and ftype.code not in params.facility_types:
            bad("out_of_scope", f"facility type {ftype.code} is not in this run's scope",
                f"施設種別 {ftype.name_ja} はこの実行の対象外です")
        if params.prefectures is not None and str(fac.at[f, "municipality_code"])[:2] not in params.prefectures:
            bad("out_of_scope", "facility's prefecture is not in this run's scope", "施設の都道府県はこの実行の対象外です")
        if not fac.at[f, "reported"] and not params.include_unreported:
            bad("out_of_scope", "facility has no annual report on file (not tracked)",
                "施設の年次報告がありません（集計していない施設は提案の対象外です）")
        missing = set(ftype.required_roles) - covered.get(f, set())
        is_pinned = (f, i) in pinned
        if (f, i) in forbidden:
            bad("forbidden_pair", "the pair was declined (forbidden)", "この組は断られています（除外の指定）")
        accepting = inst.at[i, "accepting"]
        if not is_pinned and (accepting is False or (pd.isna(accepting) and not params.unknown_accepting)
                              or (not pd.isna(accepting) and not bool(accepting))):
            bad("not_accepting", "institution does not accept new partners", "医療機関が新たな協定を受け入れていません")

        km = km_of[(f, i)]
        if (f, i) in measured:
            minutes = measured[(f, i)]
        elif road is not None:
            minutes = road.minutes(f, i)
        else:
            minutes = km * params.travel.circuity / params.travel.speed_kmh * 60
        try:
            float(row.distance_km), float(row.travel_minutes)
        except (TypeError, ValueError):
            bad("bad_number", f"distance_km {row.distance_km!r} or travel_minutes {row.travel_minutes!r} "
                "is not a number", f"距離 {row.distance_km!r} または移動時間 {row.travel_minutes!r} が数値ではありません")
            continue
        if abs(float(row.distance_km) - km) > KM_TOLERANCE:
            bad("wrong_distance", f"distance_km {row.distance_km} but the geodesic is {km:.3f} km",
                f"距離が {row.distance_km} km とありますが、座標から求めると {km:.3f} km です")
        if abs(float(row.travel_minutes) - minutes) > MINUTE_TOLERANCE:
            bad("wrong_minutes", f"travel_minutes {row.travel_minutes} but recomputed {minutes:.2f}",
                f"移動時間が {row.travel_minutes} 分とありますが、求め直すと {minutes:.2f} 分です")

        res = _residents(fac, f)
        for r in (r for r in ROLE_ORDER if r in roles):  # in the vocabulary's order
            if r not in missing:
                bad("role_not_missing", f"role {r.value} is not missing (required {sorted(x.value for x in ftype.required_roles)}, already covered or not required)",
                    f"{r.label_ja} は不足していません（既存の協定で確保済みか、{ftype.name_ja} には求められていません）")
            if not offers(i, r):
                bad("role_not_offered", f"institution does not offer {r.value}", f"医療機関は {r.label_ja} を担っていません")
            column = _SLOT_COLUMNS[r]
            if timed and hasattr(row, column) and set(filter(None, str(getattr(row, column)).split(";"))) != offers(i, r):
                bad("wrong_slots", f"{column} {getattr(row, column)!r} but the institution gives "
                                   f"{';'.join(sorted(offers(i, r)))}",
                    f"{r.label_ja} の時間帯が {getattr(row, column)!r} とありますが、医療機関が担うのは "
                    f"{_slots_ja(offers(i, r)) or 'なし'} です")
            proposed.setdefault((f, r), []).append((i, offers(i, r)))
            if r is Role.ADMIT and inst.at[i, "kind"] != "hospital":
                bad("admit_by_clinic", "admission (③) is for hospitals only", "③入院受入れは病院に限られます（診療所は担えません）")
            lim = params.limits[r]
            if not is_pinned:
                if minutes > lim.minutes + 1e-6:
                    bad("beyond_limit", f"{r.value}: {minutes:.1f} min exceeds the {lim.minutes:g} min limit",
                        f"{r.label_ja}: 移動時間 {minutes:.1f} 分が上限 {lim.minutes:g} 分を超えています")
                if lim.km is not None and km > lim.km + 1e-6:
                    bad("beyond_limit", f"{r.value}: {km:.2f} km exceeds the {lim.km:g} km limit",
                        f"{r.label_ja}: 距離 {km:.2f} km が上限 {lim.km:g} km を超えています")
            if (f, r) in assigned and limit == 1:
                bad("role_assigned_twice", f"{r.value} already proposed from {assigned[(f, r)]}",
                    f"{r.label_ja} は {assigned[(f, r)]} からも提案されています（1つの役割に1医療機関）")
            assigned[(f, r)] = i
            givers.setdefault((f, r), set()).add(i)
            rl = role_load.setdefault((i, r), [0, 0])
            rl[0] += 1
            rl[1] += res
        if (f, i) not in existing:
            ld = load.setdefault(i, [0, 0])
            ld[0] += 1
            ld[1] += res

    if timed:
        out += _slot_violations(proposed, given, n_given, limit, every)
    for i, (n_fac, n_res) in sorted(load.items()):
        for unit, used in (("facilities", n_fac), ("residents", n_res)):
            column = capacity_column(unit)
            cap = inst.at[i, column]
            if not pd.isna(cap) and used > int(cap):
                estimated = unit == "facilities" and inst.at[i, "capacity_estimated"]
                how = " (estimated: blank in institutions.csv, --unknown-capacity)" if estimated else ""
                how_ja = "（推定値: institutions.csv が空欄、--unknown-capacity）" if estimated else ""
                what, n = _CAPACITY_UNITS_JA[unit]
                out.append(Violation("over_capacity", "*", i, f"{column} {int(cap)}{how} but {used} proposed",
                                     f"受入枠（{what}）{int(cap)} {n}{how_ja}に対し、提案は {used} {n}です"))
    # The per-role capacity columns the institutions state.
    stated = {(r, unit): column for r in ROLE_ORDER for unit in _CAPACITY_UNITS_JA
              if (column := capacity_column(unit, r)) in inst.columns}
    for (i, r), (n_fac, n_res) in role_load.items():  # (the violations are sorted at the end)
        for unit, used in (("facilities", n_fac), ("residents", n_res)):
            column = stated.get((r, unit))
            cap = pd.NA if column is None else inst.at[i, column]
            if not pd.isna(cap) and used > int(cap):
                what, n = _CAPACITY_UNITS_JA[unit]
                out.append(Violation("over_capacity", "*", i, f"{column} {int(cap)} but {used} proposed",
                                     f"{r.label_ja} の受入枠（{what}）{int(cap)} {n}に対し、提案は {used} {n}です"))
    for (f, i), roles in sorted(pinned.items()):
        ftype = FACILITY_TYPES[fac.at[f, "facility_type"]]
        if not (set(ftype.required_roles) - covered.get(f, set())):
            continue  # nothing left to propose for that facility
        if (f, i) not in seen_pairs:
            out.append(Violation("pin_missing", f, i, "pinned pair is not in the proposals",
                                 "固定（必ず使う）と指定した組が提案にありません"))
        elif roles:
            for r in roles:
                if i not in givers.get((f, r), set()):
                    out.append(Violation("pin_missing", f, i, f"pinned role {r.value} not proposed from it",
                                         f"固定と指定した {r.label_ja} がこの医療機関から提案されていません"))
    return sorted(out)


def _slot_violations(proposed, given, n_given, limit, every) -> list[Violation]:
    """Each proposed role must end all four slots, within ``limit`` partners, every proposed
    partner giving a slot no other partner gives."""
    out = []
    for (f, r), partners in sorted(proposed.items()):
        have = given.get((f, r), set())
        union = set(have).union(*(s for _, s in partners))
        if union != every:
            out.append(Violation("slots_missing", f, partners[0][0],
                                 f"{r.value}: slots {';'.join(sorted(every - union))} not given by any partner",
                                 f"{r.label_ja}: {_slots_ja(every - union)} を担う医療機関がありません（常時になりません）"))
        n = n_given.get((f, r), 0) + len(partners)
        if n > limit:
            out.append(Violation("too_many_partners", f, partners[-1][0],
                                 f"{r.value}: {n} partners, at most {limit}",
                                 f"{r.label_ja}: 医療機関が {n} か所です（1つの役割は {limit} か所まで）"))
        for k, (i, s) in enumerate(partners):
            others = set(have).union(*(t for j, (_, t) in enumerate(partners) if j != k))
            if s <= others:
                out.append(Violation("redundant_partner", f, i,
                                     f"{r.value}: gives no slot the other partners do not give",
                                     f"{r.label_ja}: ほかの医療機関が担わない時間帯がありません（不要な協定です）"))
    return out


class _Rows:
    """A table read row by row: ``rows.at[id, column]``, ``id in rows.index``, ``rows.columns``
    as a DataFrame's, from plain dicts (a DataFrame's ``.at`` per proposal was most of the
    verifier's time at national scale), one per column (quicker to build than one per row)."""

    def __init__(self, frame: pd.DataFrame, columns: list[str]):
        kept = [c for c in dict.fromkeys(columns) if c in frame.columns]
        ids = frame.index.tolist()
        self._columns = {c: dict(zip(ids, _values(frame[c]), strict=True)) for c in kept}
        self.index = frozenset(ids)
        self.columns = pd.Index(kept)
        self.at = self

    def column(self, column: str) -> dict:
        """One column as a dict by id."""
        return self._columns[column]

    def __getitem__(self, key: tuple[str, str]):
        row, column = key
        return self._columns[column][row]


def _values(column: pd.Series) -> list:
    """The column's cells as Python values, a missing one of a nullable column as ``None`` (as
    ``DataFrame.to_dict`` gives them; ``tolist`` avoids its cell-by-cell boxing)."""
    values = column.tolist()
    if column.dtype != float and column.isna().any():
        values = [None if pd.isna(v) else v for v in values]
    return values


def _lists(frame: pd.DataFrame, columns: list[str]) -> list[list]:
    """The columns' cells as Python lists (iterating a pandas string column boxes cell by cell)."""
    return [frame[c].tolist() for c in columns]


def _residents(fac: _Rows, f: str) -> int:
    n = fac.at[f, "residents"]
    return FACILITY_TYPES[fac.at[f, "facility_type"]].default_residents if pd.isna(n) else int(n)


class _RoadTimes:
    """Reference road times with networkx's Dijkstra (the solver path uses scipy)."""

    def __init__(self, region: Region, params: MatchParameters):
        import networkx as nx  # only for road graphs (a quarter second at start-up)

        t = params.travel
        path = t.road_network if t.road_network.is_absolute() or region.source is None else region.source / t.road_network
        self.g = nx.read_graphml(path)
        self.scale = 1 / 60 if t.weight_unit == "seconds" else 1.0
        self.weight = t.weight
        self.access = 20.0
        self.region = region
        self.nodes = list(self.g.nodes)

    def _nearest(self, lat, lon):
        best = min(self.nodes, key=lambda n: _geodesic((lat, lon), (float(self.g.nodes[n]["y"]), float(self.g.nodes[n]["x"]))).km)
        km = _geodesic((lat, lon), (float(self.g.nodes[best]["y"]), float(self.g.nodes[best]["x"]))).km
        return best, km / self.access * 60

    def minutes(self, f: str, i: str) -> float:
        import networkx as nx

        fr, ir = self.region.facilities.loc[f], self.region.institutions.loc[i]
        fn, fa = self._nearest(fr["lat"], fr["lon"])
        inn, ia = self._nearest(ir["lat"], ir["lon"])
        try:
            d = nx.shortest_path_length(self.g, inn, fn, weight=lambda u, v, e: min(
                float(x[self.weight]) for x in e.values()) if self.g.is_multigraph() else float(e[self.weight]))
        except nx.NetworkXNoPath:
            return float("inf")
        return d * self.scale + fa + ia
