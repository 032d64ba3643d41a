"""Property tests on tiny random regions: the verifier accepts every solution, and the
optimiser's lexicographic objective equals a brute-force enumeration's."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from geopy.distance import geodesic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import MatchParameters, match, verify
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER, Role
from tests.matchkit import fac, inst, make_region

TYPES = ["tokuyo", "roken", "gh", "keihi"]
HOSPITAL_DESIGNATIONS = ["", "zaibyo", "koho_shien", "chiiki_houkatsu_ward"]
CLINIC_DESIGNATIONS = ["", "zaishin", "zaishin_kyoka"]


def random_region(folder: Path, seed: int):
    rng = np.random.default_rng(seed)
    n_fac, n_inst = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    facs = [fac(f"F{k}", str(rng.choice(TYPES)), *rng.uniform(-12, 12, 2).round(2),
                residents=int(rng.choice([20, 45, 70]))) for k in range(n_fac)]
    insts = []
    for k in range(n_inst):
        kind = "hospital" if rng.random() < 0.5 else "clinic"
        desig = str(rng.choice(HOSPITAL_DESIGNATIONS if kind == "hospital" else CLINIC_DESIGNATIONS))
        if kind == "hospital" and not desig:
            desig = "zaibyo"
        if kind == "clinic" and not desig:
            desig = "zaishin"
        insts.append(inst(f"I{k}", kind, *rng.uniform(-12, 12, 2).round(2), desig,
                          accepting=str(rng.choice(["true", "true", "false", ""])),
                          capacity_facilities=str(rng.choice(["", "0", "1", "2"])),
                          capacity_residents=str(rng.choice(["", "", "50", "100"]))))
    partnerships = []
    if rng.random() < 0.4:
        f = facs[0]["facility_id"]
        i = insts[0]["institution_id"]
        roles = "consult" if insts[0]["kind"] == "clinic" else str(rng.choice(["consult", "admit", "consult;admit"]))
        partnerships.append((f, i, roles))
    return make_region(folder, facs, insts, partnerships)


def brute_force(region, params: MatchParameters):
    """Best (obligated_full, effort_full, roles, -agreements, -travel) by enumeration."""
    fac_df, inst_df = region.facilities, region.institutions
    covered: dict[str, set] = {}
    existing = set()
    for f, i, roles in region.partnerships[["facility_id", "institution_id", "roles"]].itertuples(index=False):
        covered.setdefault(f, set()).update(roles)
        existing.add((f, i))
    residents = region.residents()
    slots, options = [], []
    minutes = {}
    for f in fac_df.index:
        missing = set(FACILITY_TYPES[fac_df.at[f, "facility_type"]].required_roles) - covered.get(f, set())
        for r in ROLE_ORDER:
            if r not in missing:
                continue
            opts = [None]
            for i in inst_df.index:
                acc = inst_df.at[i, "accepting"]
                if not pd.isna(acc) and not bool(acc):  # not yet asked (NA) counts as a candidate
                    continue
                flag = {"consult": "consult_24h", "visit": "visit_24h", "admit": "admit"}[r.value]
                if not bool(inst_df.at[i, flag]):
                    continue
                km = geodesic((fac_df.at[f, "lat"], fac_df.at[f, "lon"]), (inst_df.at[i, "lat"], inst_df.at[i, "lon"])).km
                mins = km * 1.3 / 40 * 60
                lim = params.limits[r]
                if mins > lim.minutes or (lim.km is not None and km > lim.km):
                    continue
                minutes[(f, i)] = mins
                opts.append(i)
            slots.append((f, r))
            options.append(opts)
    best = None
    for choice in itertools.product(*options):
        new_pairs = {(f, i) for (f, _), i in zip(slots, choice, strict=True) if i is not None and (f, i) not in existing}
        ok = True
        for i in inst_df.index:
            mine = [p for p in new_pairs if p[1] == i]
            cf, cr = inst_df.at[i, "capacity_facilities"], inst_df.at[i, "capacity_residents"]
            if not pd.isna(cf) and len(mine) > int(cf):
                ok = False
            if not pd.isna(cr) and sum(int(residents[f]) for f, _ in mine) > int(cr):
                ok = False
        if not ok:
            continue
        got: dict[str, int] = {}
        for (f, _), i in zip(slots, choice, strict=True):
            if i is not None:
                got[f] = got.get(f, 0) + 1
        need = {}
        for f, _ in slots:
            need[f] = need.get(f, 0) + 1
        full = [f for f in need if got.get(f, 0) == need[f]]
        obligated = sum(1 for f in full if FACILITY_TYPES[fac_df.at[f, "facility_type"]].obligated)
        travel = sum(np.rint(int(residents[f]) * minutes[(f, i)])
                     for (f, _), i in zip(slots, choice, strict=True) if i is not None)
        key = (obligated, len(full) - obligated, sum(i is not None for i in choice), -len(new_pairs), -travel)
        if best is None or key > best:
            best = key
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9))
def test_optimiser_equals_brute_force_and_verifies(seed):
    params = MatchParameters()
    with tempfile.TemporaryDirectory() as tmp:
        region = random_region(Path(tmp), seed)
        result = match(region, params)
        assert verify(region, result.proposals, params) == []
        assert result.optimal
        best = brute_force(region, params)
    got = (result.stage("obligated_full").objective, result.stage("effort_full").objective,
           result.stage("roles_covered").objective, -result.stage("new_agreements").objective)
    assert got == best[:4]
    # Travel costs are rounded per candidate on both sides; geodesic libraries may differ by ±1.
    assert abs(-result.stage("travel_cost").objective - best[4]) <= 3


def test_admission_is_never_proposed_from_a_clinic(demo_region):
    result = match(demo_region)
    clinics = set(demo_region.institutions.index[demo_region.institutions["kind"] == "clinic"])
    admits = result.proposals[result.proposals["roles"].str.contains(Role.ADMIT.value)]
    assert not admits.empty
    assert not set(admits["institution_id"]) & clinics
