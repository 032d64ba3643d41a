"""Unknown capacity is not unlimited: an estimate by kind, designation and beds, and a check
of how many facilities each institution ends up with.

Calibration (``../shared/DOMAIN.md``, seed 000): hospitals' prior arrangements with care
facilities, facilities per hospital — median 5–7, 75th percentile 10–16, maxima 71–167 by
hospital type.  A blank ``capacity_facilities`` (with no other capacity column set) gets the
75th percentile of the institution's best designation: a planning figure most institutions of
that type already reach, not the rare maximum.  Hospitals without a designation get the
median (5); small hospitals (< 100 beds) are scaled down with their beds; clinics fewer
(機能強化型在支診 5, 在支診 3, others 2).

>>> estimate_facilities("hospital", frozenset({"zaibyo_kyoka"}), 300)
16
>>> estimate_facilities("hospital", frozenset({"zaibyo_kyoka"}), 64)
10
>>> estimate_facilities("clinic", frozenset({"zaishin"}), None)
3
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: designation → (median, 75th percentile, max) facilities per hospital (DOMAIN.md, 000).
CALIBRATION: dict[str, tuple[float, float, float]] = {
    "chiiki_houkatsu_ward": (5, 12, 127),
    "zaibyo_kyoka": (7, 16, 167),
    "zaibyo": (5, 10, 80),
    "koho_shien": (6, 13.5, 71),
}
HOSPITAL_DEFAULT = 5
CLINIC_ESTIMATE = {"zaishin_kyoka": 5, "zaishin": 3}
CLINIC_DEFAULT = 2
SMALL_HOSPITAL_BEDS = 100
#: Above this many facilities per institution a run is warned about (the largest p75).
P75_MAX = max(p75 for _, p75, _ in CALIBRATION.values())


def estimate_facilities(kind: str, designations, beds) -> int:
    """Estimated spare capacity in partner facilities of one institution."""
    designations = set(designations or ())
    if kind == "clinic":
        return max([CLINIC_ESTIMATE.get(d, CLINIC_DEFAULT) for d in designations] or [CLINIC_DEFAULT])
    value = max([CALIBRATION[d][1] for d in designations if d in CALIBRATION] or [HOSPITAL_DEFAULT])
    if beds is not None and not pd.isna(beds) and 0 < int(beds) < SMALL_HOSPITAL_BEDS:
        value = max(2, value * int(beds) / SMALL_HOSPITAL_BEDS)
    return int(math.ceil(value)) if value < 10 else int(round(value))


def capacity_columns(institutions: pd.DataFrame) -> list[str]:
    return [c for c in institutions.columns if c.startswith("capacity_") and c != "capacity_estimated"]


def apply_unknown_capacity(institutions: pd.DataFrame, mode: str | int) -> pd.DataFrame:
    """``institutions`` with blank capacities filled per ``mode`` (``estimate``, ``unlimited`` or a
    number) and ``capacity_estimated`` marking the filled rows.  A frame already filled (it has
    ``capacity_estimated``) is returned as it is, so applying twice changes nothing."""
    if "capacity_estimated" in institutions.columns:
        return institutions
    out = institutions.copy()
    cols = capacity_columns(out)
    unknown = out[cols].isna().all(axis=1) if cols else pd.Series(True, index=out.index)
    out["capacity_estimated"] = False
    if mode == "unlimited" or not unknown.any():
        return out
    if isinstance(mode, int) or str(mode).isdigit():
        values = pd.Series(int(mode), index=out.index)
    else:
        values = pd.Series([estimate_facilities(k, d, b) for k, d, b in
                            zip(out["kind"], out["designations"], out["beds"], strict=True)], index=out.index)
    if "capacity_facilities" not in out.columns:
        out["capacity_facilities"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out["capacity_facilities"] = out["capacity_facilities"].astype("Int64").mask(unknown, values.astype("Int64"))
    out["capacity_estimated"] = unknown
    return out


def facilities_per_institution(partnerships: pd.DataFrame, proposals: pd.DataFrame) -> dict:
    """Facilities per institution after the run (agreements in force + proposals): max, p90 and
    the institutions above the calibration's largest 75th percentile, with a warning each."""
    pairs = pd.concat([partnerships[["facility_id", "institution_id"]],
                       proposals[["facility_id", "institution_id"]]], ignore_index=True).drop_duplicates()
    counts = pairs.groupby("institution_id")["facility_id"].nunique()
    if counts.empty:
        return {"institutions": 0, "max": 0, "p90": 0.0, "calibration_p75_max": P75_MAX, "outliers": {}}
    outliers = counts[counts > P75_MAX].sort_values(ascending=False)
    return {"institutions": int(len(counts)), "max": int(counts.max()),
            "p90": float(np.percentile(counts, 90)), "calibration_p75_max": P75_MAX,
            "outliers": {str(k): int(v) for k, v in outliers.items()}}
