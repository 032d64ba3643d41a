"""Closed-form solutions: each facility's best pattern when capacities are ignored.

Without capacities the model falls apart into one tiny problem per facility: cover
every missing role that has a candidate (goals 1–3), with as few new agreements as
possible (4), then least travel (5).  For at most three roles this is a choice
among the five partitions of the role set into blocks, each block served by the
best institution offering all of its roles — computed for all facilities at once.

If that relaxed optimum respects every capacity of a component's institutions, it
is optimal for the component (a relaxation's optimum that is feasible is optimal),
so no solver is needed there.  Where it does not, :func:`repair` turns it into a
feasible assignment, facility by facility — a starting point (hint) for CP-SAT.

>>> import pandas as pd
>>> cand = pd.DataFrame({"facility_id": ["F1", "F1", "F1"], "institution_id": ["C", "H", "Z"],
...                      "role": ["consult", "admit", "admit"], "cost": [5, 9, 30],
...                      "existing": False, "pinned": False})
>>> best_patterns(cand).tolist()       # C for ①, H for ③ (two agreements either way; H is nearer)
[True, True, False]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ROLE_BIT = {"consult": 1, "visit": 2, "admit": 4}


def _partitions(mask: int) -> list[tuple[int, ...]]:
    """All partitions of the role bitmask ``mask`` into non-empty blocks."""
    if mask == 0:
        return [()]
    low = mask & -mask
    rest = mask ^ low
    out = []
    sub = rest
    while True:  # the block holding the lowest role, with any subset of the others
        block = low | sub
        out += [(block,) + p for p in _partitions(rest ^ sub)]
        if sub == 0:
            break
        sub = (sub - 1) & rest
    return out


PARTITIONS = {m: _partitions(m) for m in range(8)}


def pair_table(cand: pd.DataFrame) -> pd.DataFrame:
    """One row per facility–institution pair: role mask and cost per role (cost of a missing role = 0)."""
    bits = cand["role"].map(ROLE_BIT).to_numpy()
    cost = cand["cost"].to_numpy(float)
    df = pd.DataFrame({"f": cand["facility_id"].to_numpy(), "i": cand["institution_id"].to_numpy(),
                       "bit": bits, "existing": cand["existing"].to_numpy(bool),
                       "c1": np.where(bits == 1, cost, 0.0), "c2": np.where(bits == 2, cost, 0.0),
                       "c4": np.where(bits == 4, cost, 0.0)})
    return df.groupby(["f", "i"], sort=True).agg(mask=("bit", "sum"), existing=("existing", "first"),
                                                 c1=("c1", "sum"), c2=("c2", "sum"), c4=("c4", "sum")).reset_index()


def best_patterns(cand: pd.DataFrame) -> np.ndarray:
    """Rows of ``cand`` chosen when every facility takes its best pattern, capacities ignored.

    Ties are broken by institution id, so the result is deterministic.
    """
    if cand.empty:
        return np.zeros(0, bool)
    pairs = pair_table(cand)
    # Best institution for each (facility, block): fewest new agreements, then cost, then id.
    best: dict[tuple[str, int], tuple[int, float, str]] = {}
    for block in range(1, 8):
        ok = (pairs["mask"].to_numpy() & block) == block
        if not ok.any():
            continue
        sub = pairs[ok]
        cost = sum(sub[f"c{b}"].to_numpy() for b in (1, 2, 4) if block & b)
        sub = sub.assign(new=~sub["existing"].to_numpy(bool), cost=cost).sort_values(["f", "new", "cost", "i"])
        first = sub.drop_duplicates("f")
        for f, new, c, i in zip(first["f"], first["new"], first["cost"], first["i"], strict=True):
            best[(f, block)] = (int(new), float(c), i)
    coverable = pairs.groupby("f", sort=True)["mask"].agg(np.bitwise_or.reduce)
    chosen: set[tuple[str, str, int]] = set()  # (facility, institution, role bit)
    for f, mask in coverable.items():
        top = None
        for partition in PARTITIONS[int(mask)]:
            picks = [best.get((f, b)) for b in partition]
            if any(p is None for p in picks):
                continue
            key = (sum(p[0] for p in picks), sum(p[1] for p in picks), sorted(p[2] for p in picks))
            if top is None or key < top[0]:
                top = (key, list(zip(partition, picks, strict=True)))
        for block, (_, _, i) in top[1]:
            for b in (1, 2, 4):
                if block & b:
                    chosen.add((f, i, b))
    bits = cand["role"].map(ROLE_BIT).to_numpy()
    return np.array([(f, i, b) in chosen for f, i, b in
                     zip(cand["facility_id"], cand["institution_id"], bits, strict=True)], bool)


def capacity_load(cand: pd.DataFrame, picked: np.ndarray, residents: pd.Series) -> dict[str, pd.Series]:
    """Capacity each institution would use under ``picked``, per capacity column."""
    c = cand[picked]
    n = residents.reindex(c["facility_id"]).to_numpy(float)
    c = c.assign(_n=n)
    new = c[~c["existing"].to_numpy(bool)].drop_duplicates(["facility_id", "institution_id"])
    load = {"capacity_facilities": new.groupby("institution_id").size().astype(float),
            "capacity_residents": new.groupby("institution_id")["_n"].sum()}
    for role, g in c.groupby("role"):
        load[f"capacity_facilities_{role}"] = g.groupby("institution_id").size().astype(float)
        load[f"capacity_residents_{role}"] = g.groupby("institution_id")["_n"].sum()
    return load


def over_capacity(cand: pd.DataFrame, picked: np.ndarray, residents: pd.Series,
                  institutions: pd.DataFrame) -> set[str]:
    """Institutions whose capacity ``picked`` would exceed."""
    out: set[str] = set()
    for column, used in capacity_load(cand, picked, residents).items():
        if column not in institutions.columns or used.empty:
            continue
        cap = institutions[column].reindex(used.index).astype("Float64")
        bad = (cap.notna() & (used.astype("Float64") > cap)).fillna(False).to_numpy(bool)
        out.update(used.index[bad])
    return out


def repair(cand: pd.DataFrame, relaxed: np.ndarray, facilities: pd.DataFrame,
           institutions: pd.DataFrame) -> np.ndarray:
    """A feasible assignment near the relaxed one: facilities in order (obligated first,
    then by id) keep their relaxed roles while capacity lasts; a role that no longer fits
    goes to the nearest candidate with room left, or stays uncovered.  A hint, not an optimum."""
    res = facilities["residents"].to_dict()
    caps = {col: institutions[col].astype("Float64").to_dict() for col in institutions.columns
            if col.startswith("capacity_")}
    left = {col: {i: (None if pd.isna(v) else float(v)) for i, v in d.items()} for col, d in caps.items()}

    def fits(i, role, n, new_pair) -> bool:
        need = [(f"capacity_facilities_{role}", 1), (f"capacity_residents_{role}", n)]
        if new_pair:
            need += [("capacity_facilities", 1), ("capacity_residents", n)]
        return all(col not in left or left[col].get(i) is None or left[col][i] >= amt for col, amt in need)

    def take(i, role, n, new_pair) -> None:
        need = [(f"capacity_facilities_{role}", 1), (f"capacity_residents_{role}", n)]
        if new_pair:
            need += [("capacity_facilities", 1), ("capacity_residents", n)]
        for col, amt in need:
            if col in left and left[col].get(i) is not None:
                left[col][i] -= amt

    picked = np.zeros(len(cand), bool)
    obligated = facilities["obligated"].to_dict()
    rows_of = cand.groupby("facility_id", sort=False).indices
    iids, roles = cand["institution_id"].to_numpy(), cand["role"].to_numpy()
    cost, existing = cand["cost"].to_numpy(float), cand["existing"].to_numpy(bool)
    for f in sorted(rows_of, key=lambda f: (not bool(obligated[f]), f)):
        rows = rows_of[f]
        n = int(res[f])
        partners: set[str] = set()
        wanted = [k for k in rows if relaxed[k]]
        done_roles: set[str] = set()
        # Relaxed choices first, pair by pair (all roles of a pair, or none).
        for i in dict.fromkeys(iids[k] for k in wanted):
            ks = [k for k in wanted if iids[k] == i]
            new_pair = not existing[ks[0]]
            if all(fits(i, roles[k], n, new_pair and j == 0) for j, k in enumerate(ks)):
                for j, k in enumerate(ks):
                    take(i, roles[k], n, new_pair and j == 0)
                    picked[k] = True
                    done_roles.add(roles[k])
                partners.add(i)
        # Roles still open: nearest candidate with room.
        for k in sorted(rows, key=lambda k: (roles[k], cost[k], iids[k])):
            if roles[k] in done_roles:
                continue
            i = iids[k]
            new_pair = not existing[k] and i not in partners
            if fits(i, roles[k], n, new_pair):
                take(i, roles[k], n, new_pair)
                picked[k] = True
                done_roles.add(roles[k])
                partners.add(i)
    return picked
