"""Monte-Carlo acceptance: what if only some institutions say yes?

The proposals assume every institution asked accepts.  In practice some decline.  Each
institution that could take new partners (accepting, or not yet asked) accepts with a
probability — its own if given, otherwise the highest given for one of its designations,
otherwise the default.  A **draw** decides, with its own seeded random numbers, which of them
accept; the matching is solved again with the others closed to new partners.  Over ``draws``
draws this gives:

* the expected number of facilities (and of obligated facilities) with all requirements met,
  with a 95 % confidence interval (mean ± 1.96 · s / √N);
* per facility, the probability of ending with all requirements met — the facilities of the
  base plan with the lowest probability are the ones a liaison hub should call about first.

Draw ``d`` of seed ``s`` uses ``numpy.random.default_rng([s, d])`` over the institutions in id
order, so the answer is the same whatever the number of workers (``matching.distribute``).

>>> p = acceptance_probabilities(region.institutions, default=0.7, by_key={"zaibyo": 0.9})
>>> float(p["I0001"]), float(p[region.institutions.index[region.institutions["designations"].map(lambda d: "zaibyo" in d)][0]])
(0.7, 0.9)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matching.distribute import run_all
from matching.optimise.run import match
from matching.parameters import MatchParameters
from matching.region import Region
from matching.vocabulary import Status

Z95 = 1.96


def acceptance_probabilities(institutions: pd.DataFrame, default: float,
                             by_key: dict[str, float] | None = None) -> pd.Series:
    """Probability per institution: by institution id, else the highest of its designations', else ``default``."""
    by_key = by_key or {}
    for key, value in by_key.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"確率 {key}={value} は 0 以上 1 以下で指定してください")
    if not 0.0 <= default <= 1.0:
        raise ValueError(f"既定の確率 {default} は 0 以上 1 以下で指定してください")

    def one(iid: str, designations) -> float:
        if iid in by_key:
            return by_key[iid]
        found = [by_key[d] for d in sorted(designations) if d in by_key]
        return max(found) if found else default

    return pd.Series([one(i, d) for i, d in zip(institutions.index, institutions["designations"], strict=True)],
                     index=institutions.index, dtype=float)


def _draw(draw: int, region: Region, params: MatchParameters, probabilities: pd.Series, seed: int) -> dict:
    """One draw: which institutions accept, the matching without the others, who ends all met."""
    inst = region.institutions.sort_index()
    rng = np.random.default_rng([seed, draw])
    says_yes = rng.random(len(inst)) < probabilities.reindex(inst.index).to_numpy()
    asked = inst["accepting"].fillna(True).astype(bool)  # not yet asked: the run may ask them
    declines = inst.index[asked.to_numpy() & ~says_yes]
    changed = region.institutions.copy()
    changed.loc[declines, "accepting"] = False
    result = match(dataclasses.replace(region, institutions=changed), params)
    after = result.status_after
    met = after.index[after["status"] == Status.ALL_MET.value]
    return {"draw": draw, "declined": len(declines), "all_met": len(met),
            "obligated_all_met": int(after.loc[met, "obligated"].astype(bool).sum()),
            "met": sorted(met)}


@dataclass
class AcceptanceAnalysis:
    draws: pd.DataFrame         # one row per draw
    facilities: pd.DataFrame    # per facility: probability of ending all met
    summary: dict

    def write(self, out: str | Path) -> list[Path]:
        from matching.safecells import to_csv

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "montecarlo_draws.csv", out / "montecarlo_facilities.csv"]
        to_csv(self.draws.rename(columns=DRAW_LABELS_JA), paths[0], index=False, encoding="utf-8-sig")
        to_csv(self.facilities.reset_index().rename(columns=FACILITY_LABELS_JA), paths[1], index=False,
               encoding="utf-8-sig")
        return paths


DRAW_LABELS_JA = {"draw": "試行", "declined": "受入を断った医療機関", "all_met": "全要件充足の施設",
                  "obligated_all_met": "うち義務施設"}
FACILITY_LABELS_JA = {"facility_id": "施設ID", "name": "施設名", "municipality_name": "市区町村",
                      "all_met_in_base": "提案どおりなら全要件充足", "probability_all_met": "全要件充足となる確率"}


def acceptance_analysis(region: Region, params: MatchParameters | None = None, *, draws: int = 20,
                        seed: int = 2027, default: float = 0.7, by_key: dict[str, float] | None = None,
                        workers: int = 1, cluster: str | None = None) -> AcceptanceAnalysis:
    """``draws`` seeded draws (see the module docstring); on ``workers`` processes or a Dask ``cluster``."""
    params = params or MatchParameters()
    if draws < 1:
        raise ValueError("試行回数は 1 以上で指定してください")
    probabilities = acceptance_probabilities(region.institutions, default, by_key)
    base = match(region, params)
    base_met = set(base.status_after.index[base.status_after["status"] == Status.ALL_MET.value])
    results = run_all(_draw, range(draws), workers=workers, cluster=cluster, region=region, params=params,
                      probabilities=probabilities, seed=seed)
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "met"} for r in results])
    counts = pd.Series(0, index=base.status_after.index, dtype=int)
    for r in results:
        counts[r["met"]] += 1
    fac = region.facilities
    facilities = pd.DataFrame({
        "name": fac["name"].reindex(counts.index),
        "municipality_name": fac["municipality_code"].reindex(counts.index).map(region.areas["municipality_name"]),
        "all_met_in_base": counts.index.isin(list(base_met)),
        "probability_all_met": (counts / draws).round(4),
    })
    facilities.index.name = "facility_id"
    # The call list first: facilities the plan would complete, least likely to end complete first.
    facilities = facilities.sort_values(["all_met_in_base", "probability_all_met", "facility_id"],
                                        ascending=[False, True, True])
    summary = {"draws": draws, "seed": seed, "default_probability": default, "by_key": dict(by_key or {}),
               "base_all_met": len(base_met)}
    for col in ("all_met", "obligated_all_met"):
        values = table[col].astype(float)
        mean = float(values.mean())
        half = Z95 * float(values.std(ddof=1)) / math.sqrt(draws) if draws > 1 else float("nan")
        summary[col] = {"mean": round(mean, 2), "ci95": [round(mean - half, 2), round(mean + half, 2)]}
    return AcceptanceAnalysis(table, facilities, summary)
