"""The candidate table as integer arrays: what every step of the solver reads.

Facilities and institutions become codes (their ids in sorted order, so comparing
codes compares ids), roles become bits (① 1, ② 2, ③ 4) and candidates that share a
facility and an institution share a *pair* code.  Everything downstream —
reductions, closed form, the CP-SAT formulation — works on these arrays, never on
per-row Python objects.

>>> import pandas as pd
>>> cand = pd.DataFrame({"facility_id": ["F1", "F1", "F2"], "institution_id": ["H", "H", "H"],
...                      "role": ["consult", "admit", "admit"], "cost": [10, 10, 5],
...                      "existing": False, "pinned": False})
>>> fac = pd.DataFrame({"residents": [50, 80], "obligated": [True, True], "missing": [3, 1]},
...                    index=["F1", "F2"])
>>> inst = pd.DataFrame({"capacity_facilities": [1]}, index=["H"])
>>> x = Instance.from_frames(cand, fac, inst)
>>> x.bit.tolist(), x.pair.tolist(), x.caps["capacity_facilities"].tolist()
([1, 4, 4], [0, 0, 1], [1.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching import roles

ROLES = roles.CODES  # role codes by index: consult, visit, admit
#: Capacity columns an institution may state (NA = unlimited), in the order they are checked.
CAPACITY_COLUMNS = ("capacity_facilities", "capacity_residents",
                    *(f"capacity_{unit}_{r}" for r in ROLES for unit in ("facilities", "residents")))


@dataclass
class Instance:
    """Integer view of a candidate table (one entry per row unless said otherwise)."""

    f: np.ndarray            # facility code
    i: np.ndarray            # institution code
    role: np.ndarray         # role index (``matching.roles.INDEX``: 0 ①, 1 ②, 2 ③)
    cost: np.ndarray         # travel cost (integer-valued float)
    existing: np.ndarray     # the pair is an agreement in force
    pinned: np.ndarray       # the pair must be used
    pinned_role: np.ndarray  # this very role must be assigned
    truncated: np.ndarray    # the (facility, role) list was cut to the nearest K
    pair: np.ndarray         # pair code (facility, institution)
    facility_ids: np.ndarray     # per facility code
    institution_ids: np.ndarray  # per institution code
    residents: np.ndarray        # per facility code
    obligated: np.ndarray        # per facility code
    missing: np.ndarray          # per facility code: number of missing roles
    caps: dict[str, np.ndarray]  # per capacity column, per institution code (NaN = unlimited)
    minutes: np.ndarray | None = None  # travel minutes (the greedy's order); None = by cost
    #: Time slots (``matching.optimise.slots``; None = every partner gives all four): the row's
    #: slot mask, and its (facility, role)'s slots in force and partners still allowed.
    slots: np.ndarray | None = None
    have: np.ndarray | None = None
    room: np.ndarray | None = None

    @property
    def bit(self) -> np.ndarray:
        return np.left_shift(1, self.role)

    @property
    def n_facilities(self) -> int:
        return len(self.facility_ids)

    @property
    def n_institutions(self) -> int:
        return len(self.institution_ids)

    @classmethod
    def from_frames(cls, cand: pd.DataFrame, facilities: pd.DataFrame,
                    institutions: pd.DataFrame) -> Instance:
        """``cand`` as :meth:`CooperationModel.from_frames` documents; ``facilities`` indexed by
        id with residents, obligated, missing; ``institutions`` with optional capacity columns."""
        f, fids = pd.factorize(cand["facility_id"], sort=True)
        i, iids = pd.factorize(cand["institution_id"], sort=True)
        role = pd.Series(cand["role"].to_numpy()).map(roles.INDEX_OF_CODE).to_numpy(np.int64)
        pair, _ = pd.factorize(f.astype(np.int64) * max(len(iids), 1) + i, sort=True)

        def flag(column: str) -> np.ndarray:
            if column not in cand.columns:
                return np.zeros(len(cand), bool)
            return cand[column].fillna(False).to_numpy(bool)

        fac = facilities.reindex(fids)
        caps = {}
        for column in CAPACITY_COLUMNS:
            if column in institutions.columns:
                caps[column] = institutions[column].reindex(iids).astype("Float64").to_numpy(float, na_value=np.nan)
        return cls(f=f.astype(np.int64), i=i.astype(np.int64), role=role,
                   cost=np.rint(cand["cost"].to_numpy(float)), existing=flag("existing"),
                   pinned=flag("pinned"), pinned_role=flag("pinned_role"), truncated=flag("truncated"),
                   pair=pair.astype(np.int64), facility_ids=np.asarray(fids, object),
                   institution_ids=np.asarray(iids, object),
                   residents=fac["residents"].to_numpy(np.int64), obligated=fac["obligated"].to_numpy(bool),
                   missing=fac["missing"].to_numpy(np.int64), caps=caps,
                   minutes=cand["minutes"].to_numpy(float) if "minutes" in cand.columns else None,
                   **({k: cand[k].to_numpy(np.int64) for k in ("slots", "have", "room")}
                      if "slots" in cand.columns else {}))


def usage(x: Instance, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Capacity the candidate rows ``rows`` (a boolean mask or indices) would use, per column.

    New partner facilities count once per pair (an institution taking several roles
    for a facility is one agreement); existing partners use no facility or resident
    capacity.  Per-role columns count every assigned role, existing partner or not,
    as the model's per-role constraints do.

    >>> import pandas as pd
    >>> cand = pd.DataFrame({"facility_id": ["F1", "F1"], "institution_id": ["H", "H"],
    ...                      "role": ["consult", "admit"], "cost": [1, 1], "existing": False})
    >>> fac = pd.DataFrame({"residents": [50], "obligated": [True], "missing": [2]}, index=["F1"])
    >>> u = usage(Instance.from_frames(cand, fac, pd.DataFrame(index=["H"])), slice(None))
    >>> u["capacity_facilities"].tolist(), u["capacity_residents"].tolist()
    ([1.0], [50.0])
    """
    n_i = x.n_institutions
    sel = np.zeros(len(x.f), bool)
    sel[rows] = True
    new = sel & ~x.existing
    _, first = np.unique(x.pair[new], return_index=True)
    new_rows = np.flatnonzero(new)[first]
    res = x.residents[x.f]
    out = {"capacity_facilities": np.bincount(x.i[new_rows], minlength=n_i).astype(float),
           "capacity_residents": np.bincount(x.i[new_rows], weights=res[new_rows], minlength=n_i)}
    for k, r in enumerate(ROLES):
        on = sel & (x.role == k)
        out[f"capacity_facilities_{r}"] = np.bincount(x.i[on], minlength=n_i).astype(float)
        out[f"capacity_residents_{r}"] = np.bincount(x.i[on], weights=res[on], minlength=n_i)
    return out


def over(caps: dict[str, np.ndarray], used: dict[str, np.ndarray]) -> np.ndarray:
    """Per institution: does ``used`` exceed any stated capacity?"""
    bad = np.zeros(len(next(iter(used.values()))), bool)
    for column, cap in caps.items():
        bad |= ~np.isnan(cap) & (used[column] > cap)
    return bad
