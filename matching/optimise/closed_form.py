"""Closed-form solutions: each facility's best pattern when capacities are ignored.

Without capacities the model falls apart into one tiny problem per facility: cover
every missing role that has a candidate (goals 1–3), with as few new agreements as
possible (4), then least travel (5).  This is a choice among the partitions of
the role set into blocks (``matching.roles.PARTITIONS``: five for three roles),
each block served by the best institution offering all of its roles — computed
for all facilities at once, with arrays.

If that relaxed optimum respects every capacity of a component's institutions, it
is optimal for the component (a relaxation's optimum that is feasible is optimal),
so no solver is needed there.

>>> import pandas as pd
>>> from matching.optimise.instance import Instance
>>> cand = pd.DataFrame({"facility_id": ["F1", "F1", "F1"], "institution_id": ["C", "H", "Z"],
...                      "role": ["consult", "admit", "admit"], "cost": [5, 9, 30],
...                      "existing": False, "pinned": False})
>>> fac = pd.DataFrame({"residents": [50], "obligated": [True], "missing": [2]}, index=["F1"])
>>> x = Instance.from_frames(cand, fac, pd.DataFrame(index=["C", "H", "Z"]))
>>> best_patterns(x).tolist()       # C for ①, H for ③ (two agreements either way; H is nearer)
[True, True, False]
"""

from __future__ import annotations

import numpy as np

from matching.optimise.instance import Instance
from matching.roles import N_MASKS, N_ROLES, PARTITIONS, indices_of

_NONE = np.iinfo(np.int64).max  # "no institution offers this block"


def pair_masks(x: Instance, rows: np.ndarray) -> dict[str, np.ndarray]:
    """One entry per pair among ``rows`` (indices): facility, institution, role mask,
    existing, pinned, and cost per role (inf where the pair cannot take the role); with
    time slots also the slots per role (0 where it cannot)."""
    order = rows[np.lexsort((x.role[rows], x.pair[rows]))]
    p = x.pair[order]
    start = np.flatnonzero(np.r_[True, p[1:] != p[:-1]]) if len(p) else np.zeros(0, int)
    cost = np.full((len(start), N_ROLES), np.inf)
    owner = np.repeat(np.arange(len(start)), np.diff(np.r_[start, len(p)]))
    cost[owner, x.role[order]] = x.cost[order]
    slots = np.zeros((len(start), N_ROLES), np.int64)
    if x.slots is not None:
        slots[owner, x.role[order]] = x.slots[order]
    return {"pair": p[start], "f": x.f[order][start], "i": x.i[order][start], "slots": slots,
            "mask": np.bitwise_or.reduceat(x.bit[order], start) if len(start) else np.zeros(0, int),
            "existing": x.existing[order][start],
            "pinned": np.logical_or.reduceat(x.pinned[order], start) if len(start) else np.zeros(0, bool),
            "cost": cost}


def _lex_less(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """Element-wise lexicographic a < b over parallel key arrays."""
    less = np.zeros(len(a[0]), bool)
    equal = np.ones(len(a[0]), bool)
    for u, v in zip(a, b, strict=True):
        less |= equal & (u < v)
        equal &= u == v
    return less


def best_patterns(x: Instance, rows: np.ndarray | None = None) -> np.ndarray:
    """Rows (a mask over all of ``x``) chosen when every facility among ``rows`` takes
    its best pattern, capacities ignored.

    The best pattern: most roles covered, then fewest new agreements, then least
    travel; ties broken by institution id, so the result is deterministic.
    """
    rows = np.arange(len(x.f)) if rows is None else np.asarray(rows)
    picked = np.zeros(len(x.f), bool)
    if len(rows) == 0:
        return picked
    pm = pair_masks(x, rows)
    n_f = x.n_facilities
    # Best pair for each (facility, block): fewest new agreements, then cost, then id.
    best_new = np.full((n_f, N_MASKS), _NONE)
    best_cost = np.full((n_f, N_MASKS), np.inf)
    best_i = np.full((n_f, N_MASKS), _NONE)
    best_pair = np.full((n_f, N_MASKS), -1)
    new = (~pm["existing"]).astype(np.int64)
    for block in range(1, N_MASKS):
        ok = np.flatnonzero((pm["mask"] & block) == block)
        if len(ok) == 0:
            continue
        cost = pm["cost"][ok][:, list(indices_of(block))].sum(axis=1)
        order = ok[np.lexsort((pm["i"][ok], cost, new[ok], pm["f"][ok]))]
        f_sorted = pm["f"][order]
        first = np.r_[True, f_sorted[1:] != f_sorted[:-1]]
        top = order[first]
        f = pm["f"][top]
        best_new[f, block] = new[top]
        best_cost[f, block] = cost[np.searchsorted(ok, top)]
        best_i[f, block] = pm["i"][top]
        best_pair[f, block] = pm["pair"][top]
    coverable = np.zeros(n_f, np.int64)
    np.bitwise_or.at(coverable, pm["f"], pm["mask"])
    assign = np.full((n_f, N_ROLES), -1)  # chosen pair per (facility, role)
    for mask in range(1, N_MASKS):
        fs = np.flatnonzero(coverable == mask)
        if len(fs) == 0:
            continue
        top_key = None
        top_part = np.full(len(fs), -1)
        for k, partition in enumerate(PARTITIONS[mask]):
            blocks = list(partition)
            valid = np.all([best_pair[fs, b] >= 0 for b in blocks], axis=0)
            ids = np.sort(np.stack([best_i[fs, b] for b in blocks], axis=1), axis=1)
            # Shorter id lists first on a tie, as Python compares lists: pad with -1.
            pad = [ids[:, j] if j < len(blocks) else np.full(len(fs), -1) for j in range(N_ROLES)]
            key = [np.where(valid, sum(best_new[fs, b] for b in blocks), _NONE),
                   np.where(valid, sum(best_cost[fs, b] for b in blocks), np.inf), *pad]
            if top_key is None:
                better = valid
            else:
                better = valid & _lex_less(key, top_key)
            top_part[better] = k
            top_key = key if top_key is None else [np.where(better, u, v) for u, v in zip(key, top_key, strict=True)]
        for k, partition in enumerate(PARTITIONS[mask]):
            on = fs[top_part == k]
            for block in partition:
                for b in indices_of(block):
                    assign[on, b] = best_pair[on, block]
    picked[rows] = assign[x.f[rows], x.role[rows]] == x.pair[rows]
    return picked
