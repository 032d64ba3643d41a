"""Parameters of a matching run, with their defaults, and how to read them from TOML.

Every default here is documented and configurable per run::

    [limits.visit]          # ② house calls: the 16 km rule and 30 minutes
    km = 16
    minutes = 30

    [travel]
    speed_kmh = 40
    circuity = 1.3

    [[forbidden]]            # declined by the institution
    facility_id = "F0012"
    institution_id = "I0040"
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from matching.tomlfile import read_toml, validation_lines
from matching.vocabulary import FACILITY_TYPES, Role, role_choices


class RoleLimit(BaseModel):
    """How far an institution may be for one role: travel minutes and, optionally, straight-line km."""

    model_config = ConfigDict(extra="forbid")
    minutes: float = Field(gt=0)
    km: float | None = Field(default=None, gt=0)


def _default_limits() -> dict[Role, RoleLimit]:
    return {
        Role.CONSULT: RoleLimit(minutes=30),
        # 往診・訪問診療の16km規定: house calls in principle within 16 km straight line.
        Role.VISIT: RoleLimit(minutes=30, km=16),
        Role.ADMIT: RoleLimit(minutes=45),
    }


class TravelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speed_kmh: float = Field(default=40.0, gt=0)
    circuity: float = Field(default=1.3, ge=1.0)
    road_network: Path | None = None  # GraphML road graph; None = straight line × circuity
    weight: str = "travel_time"
    weight_unit: Literal["seconds", "minutes"] = "seconds"


class Pair(BaseModel):
    """A coordinator's decision on one facility–institution pair."""

    model_config = ConfigDict(extra="forbid")
    facility_id: str
    institution_id: str
    roles: frozenset[Role] | None = None  # pinned: the roles agreed (None = any it can take)


class MatchParameters(BaseModel):
    """Everything a run depends on besides the region itself."""

    model_config = ConfigDict(extra="forbid")
    limits: dict[Role, RoleLimit] = Field(default_factory=_default_limits)
    travel: TravelSettings = Field(default_factory=TravelSettings)
    #: Facility types in scope (None = all nine).
    facility_types: list[str] | None = None
    #: Prefectures (2-digit codes) whose facilities are matched (None = every one in the region).
    #: The institutions of the whole region stay candidates, so a region built from several
    #: prefectures gives facilities near a border partners across it (広域, issue 13).
    prefectures: list[str] | None = None
    #: Propose partners for facilities with no annual report on file (status unknown).
    include_unreported: bool = False
    #: Institutions whose willingness has not been asked (accepting blank) are candidates.
    unknown_accepting: bool = True
    pinned: list[Pair] = Field(default_factory=list)
    forbidden: list[Pair] = Field(default_factory=list)
    #: Optional preference for partners in the same area, as minutes added to the
    #: travel cost of pairs that cross it (only breaks ties after the first three goals).
    prefer_same: Literal["municipality", "secondary_area"] | None = None
    preference_minutes: float = Field(default=15.0, ge=0)
    #: Institutions with no capacity set: ``estimate`` (by kind, designation and beds, calibrated
    #: on DOMAIN.md, see matching.capacity), ``unlimited``, or this many facilities each.
    unknown_capacity: Literal["estimate", "unlimited"] | int = "estimate"
    #: At most this many institutions together give ① (or ②) of one facility, agreements in
    #: force included (time slots, ``availability.csv``); 1 = one institution per role, as
    #: without time slots.
    max_partners_per_role: int = Field(default=2, ge=1, le=4)
    #: Solver effort per model stage (CP-SAT deterministic time units ≈ seconds).
    stage_time_limit: float = Field(default=20.0, gt=0)

    def reach_km(self, role: Role | str) -> float:
        """The straight-line distance within which ``role``'s limit can hold: its km limit, or
        its minutes at the travel speed (detour factor removed), whichever is shorter."""
        lim = self.limits[Role(role)]
        return min(lim.km or math.inf, lim.minutes / 60 * self.travel.speed_kmh / self.travel.circuity)

    @field_validator("limits", mode="before")
    @classmethod
    def _merge_limits(cls, value):
        merged = {r.value: lim.model_dump() for r, lim in _default_limits().items()}
        if not isinstance(value, dict | None):
            raise ValueError("limits は役割ごとの表で書いてください（例 [limits.visit] の節に minutes = 30）")
        for role, lim in (value or {}).items():
            key = role.value if isinstance(role, Role) else str(role)
            if key not in merged:
                raise ValueError(f"役割 {key!r} はありません（使える役割: {role_choices()}）")
            if not isinstance(lim, RoleLimit | dict):
                raise ValueError(f"limits.{key} は表で書いてください（例 [limits.{key}] の節に minutes = 30）")
            patch = lim.model_dump() if isinstance(lim, RoleLimit) else dict(lim)
            merged[key] = {**merged[key], **patch}
        return merged

    @field_validator("unknown_capacity", mode="before")
    @classmethod
    def _capacity_mode(cls, value):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int) and value < 0:
            raise ValueError("unknown_capacity は estimate、unlimited または 0 以上の数で書いてください")
        return value

    @field_validator("prefectures")
    @classmethod
    def _prefecture_codes(cls, value):
        if value is not None:
            bad = [c for c in value if not (isinstance(c, str) and len(c) == 2 and c.isdigit() and 1 <= int(c) <= 47)]
            if bad:
                raise ValueError(f"都道府県コードは 01〜47 の 2 桁で書いてください（{bad}）")
        return value

    @field_validator("facility_types")
    @classmethod
    def _known_types(cls, value):
        if value is not None:
            unknown = [t for t in value if t not in FACILITY_TYPES]
            if unknown:
                raise ValueError(f"施設種別のコード {unknown} はありません（使えるコード: {sorted(FACILITY_TYPES)}）")
        return value

    def limit_minutes(self) -> float:
        return max(lim.minutes for lim in self.limits.values())

    @classmethod
    def from_toml(cls, path: str | Path) -> MatchParameters:
        """Read parameters from a TOML file; errors name the file and the offending key."""
        return cls.from_mapping(read_toml(path, ParameterError), source=str(path))

    @classmethod
    def from_mapping(cls, data: dict, source: str = "parameters") -> MatchParameters:
        data = dict(data.get("matching", data))
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ParameterError(validation_lines(source, exc)) from None


class ParameterError(ValueError):
    """Bad run parameters; the message names the file and key."""
