"""Capacity each institution would use, and what is left, if every proposal were agreed.

Capacities in ``institutions.csv`` are *spare* capacity for new partner
facilities, so only new agreements use them (adding a role to an agreement in
force does not: the institution already counts the facility).  An institution
is **at full capacity** when it could take new partners under the run's rules
(accepting, or not yet asked and the run allows it; offers a role) and its spare
capacity in facilities or in residents is used up — whether proposals used it or
it had none to begin with (``filled_by_proposals`` tells which).

>>> load = institution_usage(region, result)          # region, result: the demo and its run
>>> row = load.loc["I0001"]
>>> int(row["capacity_facilities"]), int(row["used_facilities"]), int(row["spare_facilities"]), bool(row["full"])
(2, 0, 2, False)
"""

from __future__ import annotations

import pandas as pd

from matching.optimise.run import MatchResult
from matching.region import Region
from matching.roles import column as role_column
from matching.vocabulary import ROLE_ORDER

USAGE_COLUMNS = ["name", "kind", "municipality_code", "accepting", "eligible", "capacity_facilities",
                 "capacity_residents", "used_facilities", "used_residents", "spare_facilities",
                 "spare_residents", "proposals", "full", "filled_by_proposals"]


def institution_usage(region: Region, result: MatchResult) -> pd.DataFrame:
    """One row per institution: capacity, used by new proposals, spare (<NA> = unlimited), full."""
    inst = region.institutions
    props = result.proposals
    new = props[~props["extends_existing"].astype(bool)]
    res = region.residents()
    used_f = new.groupby("institution_id").size().reindex(inst.index, fill_value=0)
    used_r = (new.assign(n=res.reindex(new["facility_id"]).to_numpy()).groupby("institution_id")["n"].sum()
              .reindex(inst.index, fill_value=0))
    n_props = props.groupby("institution_id").size().reindex(inst.index, fill_value=0)
    params = result.params
    offers = inst[[role_column(r) for r in ROLE_ORDER]].any(axis=1)
    eligible = inst["accepting"].fillna(params.unknown_accepting).astype(bool) & offers
    spare_f = (inst["capacity_facilities"] - used_f).astype("Int64")
    spare_r = (inst["capacity_residents"] - used_r).astype("Int64")
    full = eligible & ((spare_f <= 0).fillna(False) | (spare_r <= 0).fillna(False)).astype(bool)
    out = pd.DataFrame({
        "name": inst["name"], "kind": inst["kind"], "municipality_code": inst["municipality_code"],
        "accepting": inst["accepting"], "eligible": eligible,
        "capacity_facilities": inst["capacity_facilities"], "capacity_residents": inst["capacity_residents"],
        "used_facilities": used_f.astype(int), "used_residents": used_r.astype(int),
        "spare_facilities": spare_f, "spare_residents": spare_r, "proposals": n_props.astype(int),
        "full": full, "filled_by_proposals": full & (used_f > 0),
    }, index=inst.index)
    return out[USAGE_COLUMNS]
