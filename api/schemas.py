"""Request and response bodies.  Validation mirrors the data contract (same vocabulary)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from matching.contract.columns import LAT_RANGE, LON_RANGE
from matching.vocabulary import DESIGNATIONS, FACILITY_TYPES, Role

#: Database ids in paths: positive and within a 32-bit integer (what both databases store).
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=0, le=10000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]

Code5 = Field(pattern=r"^[0-9]{5}$", description="5-digit municipality code")


#: NUL and lone surrogates cannot be stored (PostgreSQL refuses NUL, no database stores a lone
#: surrogate as UTF-8); other control characters (but tab and newline) have no place in names.
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_text(value: str) -> str:
    """Refuse text no database stores (NUL, lone surrogates) and other control characters."""
    m = _FORBIDDEN_CHARS.search(value)
    if m:
        ch = m.group()
        raise ValueError(f"文字 U+{ord(ch):04X} は使用できません（{m.start() + 1} 文字目）"
                         "(control characters, NUL and lone surrogates are not allowed)")
    return value


def _walk(value):
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _walk(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk(k)
            _walk(v)
    return value


class In(BaseModel):
    """Every request body: unknown keys, NaN/Infinity, NUL and lone surrogates are refused (422)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, value):
        return _walk(value)


class ORM(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AreaIn(In):
    municipality_code: str = Code5
    municipality_name: str = Field(min_length=1, max_length=100)
    secondary_area_code: str = Field(min_length=1, max_length=20)
    secondary_area_name: str = Field(min_length=1, max_length=100)
    prefecture_code: str = Field(pattern=r"^[0-9]{2}$")


class AreaOut(AreaIn, ORM):
    pass


def _check_type(v: str) -> str:
    if v not in FACILITY_TYPES:
        raise ValueError(f"unknown facility type {v!r}; expected one of {', '.join(FACILITY_TYPES)}")
    return v


class FacilityPatch(In):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    facility_type: str | None = None
    lat: float | None = Field(default=None, ge=LAT_RANGE[0], le=LAT_RANGE[1])
    lon: float | None = Field(default=None, ge=LON_RANGE[0], le=LON_RANGE[1])
    residents: int | None = Field(default=None, ge=0, le=100000)
    reported: bool | None = None

    _type = field_validator("facility_type")(lambda cls, v: v if v is None else _check_type(v))


class FacilityIn(In):
    model_config = ConfigDict(extra="forbid")
    facility_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    facility_type: str
    municipality_code: str = Code5
    lat: float = Field(ge=LAT_RANGE[0], le=LAT_RANGE[1])
    lon: float = Field(ge=LON_RANGE[0], le=LON_RANGE[1])
    residents: int | None = Field(default=None, ge=0, le=100000)
    reported: bool = True

    _type = field_validator("facility_type")(lambda cls, v: _check_type(v))


class FacilityOut(ORM):
    facility_id: str
    name: str
    facility_type: str
    municipality_code: str
    lat: float
    lon: float
    residents: int | None
    reported: bool


class FacilityStatusOut(FacilityOut):
    facility_type_ja: str
    status: str
    status_ja: str
    required_roles: list[str]
    covered_roles: list[str]
    missing_roles: list[str]
    partners: list[str]


class InstitutionBase(In):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["hospital", "clinic"]
    lat: float = Field(ge=LAT_RANGE[0], le=LAT_RANGE[1])
    lon: float = Field(ge=LON_RANGE[0], le=LON_RANGE[1])
    beds: int | None = Field(default=None, ge=0, le=100000)
    designations: list[str] = []
    consult_24h: bool | None = None
    visit_24h: bool | None = None
    admit: bool | None = None
    accepting: bool | None = None
    capacity_facilities: int | None = Field(default=None, ge=0, le=100000)
    capacity_residents: int | None = Field(default=None, ge=0, le=10000000)

    @model_validator(mode="after")
    def _rules(self):
        for d in self.designations:
            if d not in DESIGNATIONS:
                raise ValueError(f"unknown designation {d!r}; expected one of {', '.join(DESIGNATIONS)}")
            kind = DESIGNATIONS[d].kind
            if kind is not None and kind.value != self.kind:
                raise ValueError(f"designation {d} is for {kind.value}s only")
        if self.kind == "clinic" and self.admit:
            raise ValueError("a clinic cannot offer admission (③ is for hospitals only)")
        return self


class InstitutionIn(InstitutionBase):
    institution_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    municipality_code: str = Code5


class InstitutionOut(ORM):
    institution_id: str
    name: str
    kind: str
    municipality_code: str
    lat: float
    lon: float
    beds: int | None
    designations: str
    consult_24h: bool | None
    visit_24h: bool | None
    admit: bool | None
    accepting: bool | None
    capacity_facilities: int | None
    capacity_residents: int | None
    reserved_facilities: int
    reserved_residents: int


class PartnershipIn(In):
    model_config = ConfigDict(extra="forbid")
    facility_id: str = Field(min_length=1, max_length=64)
    institution_id: str = Field(min_length=1, max_length=64)
    roles: list[Role] = Field(min_length=1, max_length=3, description="at least one role")
    #: Record an agreement already signed in reality as it is: the institution's offered roles and
    #: spare capacity are not checked (and not taken); the audit log says so.
    as_signed: bool = False


class PartnershipOut(ORM):
    id: int
    facility_id: str
    institution_id: str
    roles: str


class _StrictParams(In):
    """Run parameters from the API: unknown keys, wrong shapes, NaN and Infinity are refused (422)."""


class RoleLimitIn(_StrictParams):
    minutes: float | None = Field(default=None, gt=0, le=24 * 60, description="travel minutes at most")
    km: float | None = Field(default=None, gt=0, le=1000, description="straight-line km at most")


#: A road network is named by the key it is registered under on the server (setting ROAD_NETWORKS);
#: never a path — anything with a slash, a dot or a backslash is refused.
RoadNetworkKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$",
                                      description="key of a road network registered on the server")]


class TravelIn(_StrictParams):
    speed_kmh: float = Field(default=40.0, gt=0, le=200)
    circuity: float = Field(default=1.3, ge=1.0, le=10)
    road_network: RoadNetworkKey | None = None
    weight: str = Field(default="travel_time", pattern=r"^[A-Za-z0-9_]{1,64}$")
    weight_unit: Literal["seconds", "minutes"] = "seconds"


class RunParametersIn(_StrictParams):
    """What a run may be given through the API (see ``matching.parameters.MatchParameters``);
    pinned and declined pairs come from the workflow, solver effort from the server's settings."""

    limits: dict[Literal["consult", "visit", "admit"], RoleLimitIn] = Field(default_factory=dict)
    travel: TravelIn = Field(default_factory=TravelIn)
    facility_types: list[str] | None = Field(default=None, max_length=len(FACILITY_TYPES))
    include_unreported: bool = False
    unknown_accepting: bool = True
    prefer_same: Literal["municipality", "secondary_area"] | None = None
    preference_minutes: float = Field(default=15.0, ge=0, le=600)

    @field_validator("facility_types")
    @classmethod
    def _types(cls, v):
        return v if v is None else [_check_type(t) for t in v]


class RunIn(In):
    model_config = ConfigDict(extra="forbid")
    prefecture_code: str | None = Field(default=None, pattern=r"^[0-9]{2}$")
    municipality_code: str | None = Field(default=None, pattern=r"^[0-9]{5}$")
    facility_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(default=None, max_length=100000)
    parameters: RunParametersIn = Field(default_factory=RunParametersIn)


class RunOut(ORM):
    id: int
    created_by: int
    created_at: datetime
    prefecture_code: str | None
    municipality_code: str | None
    state: str
    progress: float
    message: str
    parameters: dict
    facility_ids: list | None
    summary: dict | None


class ProposalOut(ORM):
    id: int
    run_id: int
    facility_id: str
    institution_id: str
    roles: str
    distance_km: float
    travel_minutes: float
    extends_existing: bool
    explanation: str
    state: str
    decline_reason: str | None
    updated_at: datetime


class ProposalMove(In):
    model_config = ConfigDict(extra="forbid")
    state: Literal["contacted", "accepted", "contracted", "declined"]
    reason: str | None = Field(default=None, max_length=2000)


class UnmatchedOut(ORM):
    facility_id: str
    role: str
    reason_code: str
    reason: str
    fix: str


class ImportOut(BaseModel):
    areas: int
    facilities: int
    institutions: int
    partnerships: int


class AuditOut(ORM):
    id: int
    at: datetime
    user_id: int | None
    action: str
    entity: str
    entity_id: str
    before: dict | None
    after: dict | None
