"""Request and response bodies.

The record bodies (areas, facilities, institutions, partnerships) are built from the data
contract (``matching/contract/schema.py``) by :func:`matching.contract.models.record_fields`:
same columns, bounds, lengths and codes as the CSV loader.  Run parameters mirror
``matching.parameters.MatchParameters``; the rest is the coordinators' workflow.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from matching.contract.models import record_fields
from matching.contract.schema import AREAS, FACILITIES, INSTITUTIONS, PARTNERSHIPS
from matching.parameters import MatchParameters
from matching.roles import CODES as ROLE_CODES
from matching.roles import SLOT_CODES, SLOT_LABELS_JA, SLOTTED
from matching.vocabulary import DESIGNATIONS, FACILITY_TYPES, Role

#: Database ids in paths: positive and within a 32-bit integer (what both databases store).
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=0, le=10000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]

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


def _check_type(v: str) -> str:
    if v not in FACILITY_TYPES:
        raise ValueError(f"unknown facility type {v!r}; expected one of {', '.join(FACILITY_TYPES)}")
    return v


# -- the records: fields from the data contract (matching/contract/schema.py) ------------------
# Bounds, lengths, codes and nullability are the CSV loader's; what is declared here is only
# what the API adds (reservations, status) or deliberately restricts.

AreaIn = create_model("AreaIn", __base__=In, **record_fields(AREAS))
AreaOut = create_model("AreaOut", __base__=ORM, **record_fields(AREAS, stored=True))


FacilityPatch = create_model("FacilityPatch", __base__=In, __doc__="A facility's facts (id and municipality stay).",
                             **record_fields(FACILITIES, exclude=("facility_id", "municipality_code"), optional=True))
FacilityIn = create_model("FacilityIn", __base__=In, **record_fields(FACILITIES))
FacilityOut = create_model("FacilityOut", __base__=ORM, **record_fields(FACILITIES, stored=True))


#: Time slots per slotted role (issue 16): ``{"consult": ["wd_day", …], "visit": […]}``, every role of
#: ``matching.roles.SLOTTED`` present, its slot codes in ``SLOT_CODES`` order (empty: none).
def _role_slots(name: str, base: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        name, __base__=base,
        __doc__="Time slots per role (① consult, ② visit): " + ", ".join(f"{c} = {SLOT_LABELS_JA[c]}" for c in SLOT_CODES),
        **{code: (list[Literal[SLOT_CODES]], Field(default_factory=list)) for code in SLOTTED})


RoleSlots = _role_slots("RoleSlots", ORM)
#: The same in a request body (unknown keys refused): read-only, it may only be sent back unchanged.
RoleSlotsIn = _role_slots("RoleSlotsIn", In)


class FacilityStatusOut(FacilityOut):  # type: ignore[misc, valid-type]
    facility_type_ja: str
    status: str
    status_ja: str
    required_roles: list[str]
    covered_roles: list[str]
    missing_roles: list[str]
    partners: list[str]
    #: The slots the agreements in force give per role together (a role is covered only with all four).
    slots: RoleSlots = Field(default_factory=RoleSlots)  # type: ignore[valid-type]
    #: False while waiting for a prefecture's confirmation (api.placement): not matched.
    confirmed: bool = True
    unconfirmed_reason: str = ""


class _InstitutionRules(In):
    @model_validator(mode="after")
    def _rules(self):
        for d in self.designations:
            kind = DESIGNATIONS[d].kind
            if kind is not None and kind.value != self.kind:
                raise ValueError(f"designation {d} is for {kind.value}s only")
        if self.kind == "clinic" and self.admit:
            raise ValueError("a clinic cannot offer admission (③ is for hospitals only)")
        return self


#: An institution's facts (PUT keeps its id, municipality and reservations).
InstitutionBase = create_model("InstitutionBase", __base__=_InstitutionRules,
                               **record_fields(INSTITUTIONS, exclude=("institution_id", "municipality_code")),
                               # Time slots come with imports (availability.csv); a client that sends back
                               # what it read may keep them in the body, unchanged (else 422).
                               slots=(RoleSlotsIn | None, Field(default=None, description=(  # type: ignore[valid-type]
                                   "read-only: as answered (time slots are imported with availability.csv); "
                                   "a different value is refused"))))
InstitutionIn = create_model("InstitutionIn", __base__=InstitutionBase,
                             **record_fields(INSTITUTIONS, only=("institution_id", "municipality_code")))
InstitutionOut = create_model("InstitutionOut", __base__=ORM, **record_fields(INSTITUTIONS, stored=True),
                              reserved_facilities=(int, ...), reserved_residents=(int, ...),
                              # When it gives ① and ②: its availability.csv row, else its 24-hour flag.
                              slots=(RoleSlots, Field(description="time slots in which the institution gives "
                                                                  "each role (its availability row, else all four "
                                                                  "or none by its 24-hour flag)")))

PartnershipIn = create_model(
    "PartnershipIn", __base__=In,
    **record_fields(PARTNERSHIPS, overrides={
        # Through the API an agreement secures at least one role.
        "roles": (list[Role], Field(min_length=1, max_length=len(Role), description="at least one role"))}),
    #: Record an agreement already signed in reality as it is: the institution's offered roles and
    #: spare capacity are not checked (and not taken); the audit log says so.
    as_signed=(bool, False))
PartnershipOut = create_model("PartnershipOut", __base__=ORM, id=(int, ...),
                              **record_fields(PARTNERSHIPS, stored=True))


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

    limits: dict[Literal[ROLE_CODES], RoleLimitIn] = Field(default_factory=dict)  # the roles of matching.roles
    travel: TravelIn = Field(default_factory=TravelIn)
    facility_types: list[str] | None = Field(default=None, max_length=len(FACILITY_TYPES))
    include_unreported: bool = False
    unknown_accepting: bool = True
    prefer_same: Literal["municipality", "secondary_area"] | None = None
    preference_minutes: float = Field(default=15.0, ge=0, le=600)
    #: With time slots (availability): at most this many institutions together give ① (or ②) of one
    #: facility; 1 = one institution per role, as without slots.  Left out: the library's default.
    max_partners_per_role: int = Field(default=MatchParameters.model_fields["max_partners_per_role"].default,
                                       ge=1, le=4)

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
    #: The run that proposed it; None for a pair proposed by hand (``origin`` manual).
    run_id: int | None
    origin: Literal["run", "manual"] = Field(default="run", description="run = マッチングの実行による提案、"
                                             "manual = 担当者が手動で提案した組合せ（再実行で固定して引き継ぐ）")
    facility_id: str
    institution_id: str
    roles: str
    distance_km: float
    travel_minutes: float
    extends_existing: bool
    explanation: str
    #: The travel limit holds only for part of a point's uncertainty (placed at a municipal office).
    location_uncertain: bool = Field(default=False, description="位置が近似（市区町村役場）のため、移動上限を満たすかは要確認")
    state: str
    decline_reason: str | None
    updated_at: datetime
    #: The slots the proposed partner gives per role of the proposal, as the run saw them.
    slots: RoleSlots = Field(  # type: ignore[valid-type]
        description="time slots the institution gives per proposed role ① ② (empty for a role not proposed)")

    @field_validator("slots", mode="before")
    @classmethod
    def _slots(cls, value, info):
        # Proposals of runs before time slots were stored judged ① ② by the 24-hour flags: all four.
        if value is None:
            roles = (info.data.get("roles") or "").split(";")
            return {code: list(SLOT_CODES) if code in roles else [] for code in SLOTTED}
        return value


class ManualProposalIn(In):
    """A pair proposed by hand: the facility, the institution (any the facility can partner with,
    a neighbouring prefecture's too) and the roles it is to give; later runs keep it as a pinned pair."""
    facility_id: str = Field(min_length=1, max_length=64)
    institution_id: str = Field(min_length=1, max_length=64)
    roles: list[Role] = Field(min_length=1, max_length=len(Role), description="at least one role")
    note: str = Field(default="", max_length=2000, description="why (e.g. 院長と電話で内諾)")


class ProposalMove(In):
    model_config = ConfigDict(extra="forbid")
    state: Literal["contacted", "accepted", "contracted", "declined"]
    reason: str | None = Field(default=None, max_length=2000)


class ContactIn(In):
    """One entry of a proposal's contact log; ``contact_date`` defaults to today."""
    contact_date: date | None = None
    person: str = Field(min_length=1, max_length=100)
    note: str = Field(default="", max_length=2000)


class ContactOut(ORM):
    id: int
    proposal_id: int
    contact_date: date
    person: str
    note: str
    created_at: datetime


class UnmatchedOut(ORM):
    facility_id: str
    role: str
    reason_code: str
    reason: str
    fix: str
    location_uncertain: bool = Field(default=False, description="位置が近似（市区町村役場）のため、"
                                     "上限内に候補がないとは言い切れない（要確認）")


class ImportOut(BaseModel):
    areas: int
    facilities: int
    institutions: int
    partnerships: int
    #: Rows of ``availability.csv`` (time slots of ① and ②); 0 when the file was not given.
    availability: int = 0
    #: Facilities imported unconfirmed because they lie outside their municipality (with the reason).
    unconfirmed: list[dict] = []


class AuditOut(ORM):
    id: int
    at: datetime
    user_id: int | None
    action: str
    entity: str
    entity_id: str
    before: dict | None
    after: dict | None
