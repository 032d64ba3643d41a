"""A region: the validated tables of the data contract, held as pandas frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from matching.contract.errors import RowError
from matching.contract.scope import RegionScope
from matching.roles import ALL_SLOTS, COLUMNS, SLOTTED, column
from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER, Role


@dataclass
class Region:
    """The validated contents of a region folder.

    Frames are indexed by their ids (``municipality_code``, ``facility_id``,
    ``institution_id``); ``partnerships`` has one row per agreement with a
    ``roles`` column of ``frozenset[Role]``.  ``skipped`` lists every row the
    lenient loader left out, so nothing is dropped silently.
    """

    areas: pd.DataFrame
    facilities: pd.DataFrame
    institutions: pd.DataFrame
    partnerships: pd.DataFrame
    travel_times: pd.DataFrame | None = None
    source: Path | None = None
    skipped: list[RowError] = field(default_factory=list)
    #: ``availability.csv`` (optional): institution_id, role, slots (a slot mask, ``matching.roles``).
    availability: pd.DataFrame | None = None
    #: Rows skipped beyond the ones listed in ``skipped`` (at most 100 listed per file), per file.
    skipped_omitted: dict[str, int] = field(default_factory=dict)
    #: How the files were read and what was repaired (encoding, restored leading zeros), for people.
    notes: list[str] = field(default_factory=list)
    #: What the region covers (``region_scope.json``): ``scope.clinics_loaded`` is false for a
    #: region imported without clinics, whose ①② gaps are then not proven.
    scope: RegionScope = field(default_factory=RegionScope)

    # -- convenience views -------------------------------------------------
    def as_planned(self, params) -> Region:
        """The region as every rule reads it under ``params`` (a ``MatchParameters``): facilities
        without an annual report counted as reported when ``include_unreported``, and blank
        capacities filled per ``unknown_capacity`` (:mod:`matching.capacity`).  The optimiser,
        the greedy rule and the verifier all start from this one view, so they agree on limits."""
        import dataclasses

        from matching.capacity import apply_unknown_capacity

        region = self
        if params.include_unreported and not region.facilities["reported"].all():
            region = dataclasses.replace(region, facilities=region.facilities.assign(reported=True))
        return dataclasses.replace(region, institutions=apply_unknown_capacity(region.institutions,
                                                                              params.unknown_capacity))

    def offered_roles(self, institution_id: str) -> frozenset[Role]:
        """The roles an institution offers in at least one time slot."""
        return frozenset(r for r in ROLE_ORDER if self.slots(r).get(institution_id, 0))

    @property
    def has_slots(self) -> bool:
        """The region states time slots (``availability.csv`` with at least one row)."""
        return self.availability is not None and len(self.availability) > 0

    def slots(self, role: Role | str) -> pd.Series:
        """Per institution, the slots (mask) it offers ``role`` in: its ``availability.csv`` row,
        else its flag (true = all four, false = none).  ③ is always its flag."""
        role = Role(role)
        flag = self.institutions[role_column(role)].to_numpy(bool)
        out = pd.Series(np.where(flag, ALL_SLOTS, 0).astype(np.int64), index=self.institutions.index)
        if self.has_slots and role.value in SLOTTED:
            rows = self.availability[self.availability["role"] == role.value]
            rows = rows[rows["institution_id"].isin(out.index)]
            out.loc[rows["institution_id"].to_numpy()] = rows["slots"].to_numpy(np.int64)
        return out

    def residents(self) -> pd.Series:
        """Residents per facility, unknown 定員 replaced by the type's documented default."""
        f = self.facilities
        default = f["facility_type"].map(lambda t: FACILITY_TYPES[t].default_residents)
        return f["residents"].fillna(default).astype(int)

    def facility_area(self) -> pd.DataFrame:
        """Facilities with their municipality, secondary area and prefecture names."""
        return self.facilities.join(self.areas, on="municipality_code")

    def subset(self, facility_ids) -> Region:
        """The same region restricted to some facilities (institutions kept)."""
        ids = pd.Index(facility_ids)
        fac = self.facilities.loc[self.facilities.index.intersection(ids)]
        part = self.partnerships[self.partnerships["facility_id"].isin(fac.index)]
        tt = None
        if self.travel_times is not None:
            tt = self.travel_times[self.travel_times["facility_id"].isin(fac.index)]
        return Region(self.areas, fac, self.institutions, part, tt, self.source, list(self.skipped),
                      self.availability, scope=self.scope)


def approximate_points(frame: pd.DataFrame, ids) -> tuple[np.ndarray, np.ndarray]:
    """For the records ``ids`` of ``frame`` (facilities or institutions): whether the point is only
    the municipal office (``location_source=office``), and its uncertainty radius (km, else 0)."""
    ids = list(ids)
    src = (frame["location_source"].reindex(ids).fillna("").to_numpy() if "location_source" in frame
           else np.full(len(ids), ""))
    rad = (pd.to_numeric(frame["location_radius_km"].reindex(ids), errors="coerce").fillna(0.0).to_numpy(float)
           if "location_radius_km" in frame else np.zeros(len(ids)))
    office = src == "office"
    return office, np.where(office, rad, 0.0)


#: The institutions.csv column of each role — defined in :mod:`matching.roles`; the old
#: names stay importable from here.
ROLE_COLUMNS = COLUMNS
role_column = column
