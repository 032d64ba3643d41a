"""The baseline a coordinator would do by hand: nearest available institution, facility by facility.

Facilities are taken obligated types first, then by id; each missing role goes
to the nearest candidate with spare capacity left.  Same candidates as the
optimiser (same limits, same accepting rules), so the comparison is fair.
"""

from __future__ import annotations

import pandas as pd

from matching.candidates import find_candidates
from matching.optimise.run import proposals_from
from matching.parameters import MatchParameters
from matching.region import Region
from matching.status import facility_status
from matching.vocabulary import ROLE_ORDER, Role


def greedy_match(region: Region, params: MatchParameters | None = None,
                 candidates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Proposals (same columns as the optimiser's, without explanations) from the greedy rule.

    >>> from matching.contract import load_region            # doctest: +SKIP
    >>> greedy_match(load_region("data/demo")).shape          # doctest: +SKIP
    """
    params = params or MatchParameters()
    status = facility_status(region)
    cand = candidates if candidates is not None else find_candidates(region, status, params)
    inst = region.institutions
    residents = region.residents()
    left_fac = inst["capacity_facilities"].astype("Float64").to_dict()
    left_res = inst["capacity_residents"].astype("Float64").to_dict()
    left_role = {(i, r.value, unit): inst.at[i, f"capacity_{unit}_{r.value}"]
                 for i in inst.index for r in ROLE_ORDER for unit in ("facilities", "residents")}

    def has_room(value, need) -> bool:
        return pd.isna(value) or value >= need

    order_role = {r.value: k for k, r in enumerate(ROLE_ORDER)}
    cand = cand.assign(_r=cand["role"].map(order_role)).sort_values(
        ["facility_id", "_r", "minutes", "institution_id"])
    obligated = status["obligated"]
    facilities = sorted(cand["facility_id"].unique(), key=lambda f: (not bool(obligated[f]), f))
    picked = []
    by_fac = dict(tuple(cand.groupby("facility_id", sort=False)))
    for f in facilities:
        n = int(residents[f])
        partners_now: set[str] = set()
        for role in ROLE_ORDER:
            rows = by_fac[f][by_fac[f]["role"] == role.value]
            for row in rows.itertuples(index=False):
                i = row.institution_id
                new_pair = not row.existing and i not in partners_now
                if new_pair and not (has_room(left_fac[i], 1) and has_room(left_res[i], n)):
                    continue
                if not (has_room(left_role[(i, role.value, "facilities")], 1)
                        and has_room(left_role[(i, role.value, "residents")], n)):
                    continue
                if new_pair:
                    left_fac[i] = left_fac[i] - 1 if not pd.isna(left_fac[i]) else left_fac[i]
                    left_res[i] = left_res[i] - n if not pd.isna(left_res[i]) else left_res[i]
                for unit, amount in (("facilities", 1), ("residents", n)):
                    key = (i, role.value, unit)
                    if not pd.isna(left_role[key]):
                        left_role[key] -= amount
                partners_now.add(i)
                picked.append(row)
                break
    chosen = pd.DataFrame(picked, columns=cand.columns) if picked else cand.iloc[0:0]
    return proposals_from(chosen.drop(columns="_r"))


def coverage(region: Region, proposals: pd.DataFrame) -> dict[str, int]:
    """Facilities brought to 'all met' (obligated / effort / all) and roles covered by proposals."""
    add = proposals.assign(roles=proposals["roles"].map(lambda s: frozenset(Role(x) for x in s.split(";") if x)))
    agreed = pd.concat([region.partnerships[["facility_id", "institution_id", "roles"]],
                        add[["facility_id", "institution_id", "roles"]]], ignore_index=True)
    before = facility_status(region)
    after = facility_status(region, agreed)
    newly = (after["status"] == "all_met") & (before["status"] != "all_met")
    return {
        "obligated_full": int((newly & after["obligated"]).sum()),
        "effort_full": int((newly & ~after["obligated"]).sum()),
        "all_full": int(newly.sum()),
        "roles_covered": int(sum(len(b) - len(a) for a, b in zip(after["missing_roles"], before["missing_roles"], strict=True))),
    }
