"""What a scenario file says: changes layered on a region for a what-if run.

A scenario is a TOML file.  Every table is optional; an empty file is the base
case (the region as it is).  Changes are applied in the order listed here (see
:mod:`matching.scenarios.apply`)::

    extends = "2040.toml"                  # build on another scenario file (optional)
    name = "closure"                       # identifier (default: the file name)
    label = "診療所の閉院"                   # shown in reports (default: name)
    description = "医師の引退で後継者のいない診療所が閉院する"

    [parameters]                           # run parameters: the keys of `matching match --config`
    facility_types = ["tokuyo", "roken"]   # facility types in scope
    [parameters.limits.visit]              # travel limit per role (consult, visit, admit)
    km = 20

    [[close]]                              # institutions that close: removed with their agreements
    ids = ["I0101", "I0102"]
    [[close]]                              # or chosen by a rule: 20 % of the clinics of one area
    kind = "clinic"
    secondary_areas = ["0307"]
    share = 0.2                            # picked by a stable hash of (seed, id): reproducible
    seed = 2040

    [[stop_accepting]]                     # keep their agreements, take no new partners
    ids = ["I0005"]
    [[start_accepting]]                    # agreed to take new partners
    kind = "hospital"
    designations = ["chiiki_houkatsu_ward"]

    [[capacity]]                           # spare capacity (空き枠), see CapacityChange
    ids = ["I0001"]
    facilities = 5                         # spare capacity in new partner facilities becomes 5
    residents_add = 20                     # spare capacity in residents +20 (blank = unlimited stays)
    [[capacity]]
    designations = ["zaibyo"]
    facilities_total_percent = 50          # + 50 % of the total (spare + partners in force)

    [[new_institutions]]
    id = "N001"
    name = "新設病院"
    kind = "hospital"
    municipality_code = "03202"
    lat = 39.64
    lon = 141.95
    designations = ["zaibyo"]
    capacity_facilities = 5

    [[growth]]                             # demand growth: residents × factor
    facility_types = ["tokuyo", "roken"]
    factor = 1.62

    [[new_facilities]]
    id = "NF001"
    name = "新設特養"
    facility_type = "tokuyo"
    municipality_code = "03201"
    lat = 39.70
    lon = 141.15
    residents = 80

``new_institutions`` and ``new_facilities`` take the columns of institutions.csv and
facilities.csv (``id`` for the id): their models are built from the data contract
(``matching/contract/schema.py``), so a column added there is accepted here too.

Errors name the file and the key (``closure.toml: close[0].share: ...``);
ids that are not in the region are named when the scenario is applied.

>>> s = Scenario.from_mapping({"close": [{"ids": ["I0001"]}]}, source="x.toml")
>>> s.name, s.close[0].ids
('x', ['I0001'])
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from matching.contract.models import record_fields
from matching.contract.schema import FACILITIES, INSTITUTIONS
from matching.tomlfile import read_toml, validation_lines
from matching.vocabulary import DESIGNATIONS, FACILITY_TYPES


class ScenarioError(ValueError):
    """A bad scenario: the message names the file and the key (and unknown ids)."""


def _check_designations(value):
    if value:
        unknown = [d for d in value if d not in DESIGNATIONS]
        if unknown:
            raise ValueError(f"届出・指定のコード {unknown} はありません（使えるコード: {sorted(DESIGNATIONS)}）")
    return value


def _check_types(value):
    if value:
        unknown = [t for t in value if t not in FACILITY_TYPES]
        if unknown:
            raise ValueError(f"施設種別のコード {unknown} はありません（使えるコード: {sorted(FACILITY_TYPES)}）")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstitutionSelector(_Model):
    """Which institutions a change applies to: explicit ids, or a rule (all conditions must hold).

    ``share`` < 1 picks that fraction of the matching institutions (rounded to the
    nearest whole number) by a stable hash of ``seed`` and the id, so the same file
    always picks the same institutions.
    """

    ids: list[str] | None = None
    kind: Literal["hospital", "clinic"] | None = None
    municipalities: list[str] | None = None
    secondary_areas: list[str] | None = None
    #: Any of these designation codes; ``[]`` = institutions with no designation at all.
    designations: list[str] | None = None
    share: float = Field(default=1.0, gt=0, le=1)
    seed: int = 0

    @field_validator("designations")
    @classmethod
    def _known_designations(cls, value):
        return _check_designations(value)

    @model_validator(mode="after")
    def _something_selected(self):
        if (self.ids is None and self.kind is None and self.municipalities is None
                and self.secondary_areas is None and self.designations is None):
            raise ValueError("対象の医療機関を ids、kind、municipalities、secondary_areas または designations "
                             "で指定してください")
        return self


class CapacityChange(InstitutionSelector):
    """A change of spare capacity (空き枠: new partner facilities / residents an institution can
    still take).  Per unit (``facilities``, ``residents``) give one of:

    * ``facilities = N`` — the spare capacity **becomes** N;
    * ``facilities_add = N`` — N is **added** to the spare capacity (negative removes; never below 0);
    * ``facilities_total_percent = P`` — P % of the institution's **total** capacity is added:
      total = spare + what its agreements in force already use (partner facilities, or their
      residents), so an institution with no spare capacity but ten partners gets +P % of ten;
    * ``facilities_percent = P`` — the **spare** capacity is scaled by (1 + P/100): an institution
      with no spare capacity stays at 0 (use ``*_total_percent`` to grow with the total).

    Results are rounded to the nearest whole number, halves up; blank (unlimited) stays unlimited.
    What each institution had before and after is written to the run's change log.
    """

    facilities: int | None = Field(default=None, ge=0)
    residents: int | None = Field(default=None, ge=0)
    facilities_add: int | None = None
    residents_add: int | None = None
    facilities_total_percent: float | None = Field(default=None, ge=-100)
    residents_total_percent: float | None = Field(default=None, ge=-100)
    facilities_percent: float | None = Field(default=None, ge=-100)
    residents_percent: float | None = Field(default=None, ge=-100)

    @model_validator(mode="after")
    def _one_per_unit(self):
        given = []
        for unit in ("facilities", "residents"):
            keys = [k for k in (unit, f"{unit}_add", f"{unit}_total_percent", f"{unit}_percent")
                    if getattr(self, k) is not None]
            if len(keys) == 2:
                raise ValueError(f"{keys[0]} と {keys[1]} はどちらか一方だけ書いてください")
            if len(keys) > 2:
                raise ValueError(f"{'、'.join(keys)} はどれか一つだけ書いてください")
            given += keys
        if not given:
            raise ValueError("facilities、facilities_add、facilities_total_percent、facilities_percent "
                             "（または residents の同じ項目）のどれかを書いてください")
        return self


class _NewInstitution(_Model):
    @model_validator(mode="after")
    def _clinic_never_admits(self):
        if self.kind == "clinic" and self.admit:
            raise ValueError("診療所に admit = true は書けません（③入院受入れは病院のみ）")
        return self


#: An institution that does not exist yet: the columns of institutions.csv (from the data
#: contract, ``id`` for ``institution_id``); role columns default from its designations, and it
#: takes new partners unless ``accepting = false``.
NewInstitution = create_model(
    "NewInstitution", __base__=_NewInstitution,
    __doc__="An institution that does not exist yet (role columns default from its designations).",
    **record_fields(INSTITUTIONS, rename={"institution_id": "id"},
                    overrides={"accepting": (bool | None, Field(default=True))}))


class FacilitySelector(_Model):
    """Which facilities a change applies to (all conditions must hold; nothing given = all)."""

    ids: list[str] | None = None
    facility_types: list[str] | None = None
    municipalities: list[str] | None = None
    secondary_areas: list[str] | None = None

    @field_validator("facility_types")
    @classmethod
    def _known_types(cls, value):
        return _check_types(value)


class Growth(FacilitySelector):
    """Demand growth: residents × factor (rounded to the nearest whole resident, halves up)."""

    factor: float = Field(gt=0)


#: A facility that does not exist yet: the columns of facilities.csv (``id`` for ``facility_id``);
#: it files its annual report unless ``reported = false`` (otherwise it would be 集計していない).
NewFacility = create_model("NewFacility", __base__=_Model, __doc__="A facility that does not exist yet.",
                           **record_fields(FACILITIES, rename={"facility_id": "id"}))


class Scenario(_Model):
    """One what-if scenario (see the module docstring for the file format)."""

    name: str = ""
    label: str = ""
    description: str = ""
    #: Run-parameter overrides, merged onto the base parameters (same keys as run.toml).
    parameters: dict = Field(default_factory=dict)
    close: list[InstitutionSelector] = Field(default_factory=list)
    stop_accepting: list[InstitutionSelector] = Field(default_factory=list)
    start_accepting: list[InstitutionSelector] = Field(default_factory=list)
    capacity: list[CapacityChange] = Field(default_factory=list)
    new_institutions: list[NewInstitution] = Field(default_factory=list)
    growth: list[Growth] = Field(default_factory=list)
    new_facilities: list[NewFacility] = Field(default_factory=list)
    #: Another scenario file this one builds on (a path relative to this file): its changes
    #: come first, then this file's; lists add up, ``parameters`` merge, other keys override.
    extends: str | None = None
    #: Where the scenario came from (file path), for error messages.
    source: str = Field(default="scenario", exclude=True)

    @property
    def title(self) -> str:
        return self.label or self.name

    @classmethod
    def from_mapping(cls, data: dict, source: str = "scenario") -> Scenario:
        """Validate a parsed mapping; errors name ``source`` and the key."""
        if "source" in data:
            raise ScenarioError(f"{source}: source: この項目は使えません（シナリオの項目ではありません）")
        try:
            s = cls.model_validate({**data, "source": source})
        except ValidationError as exc:
            raise ScenarioError(validation_lines(source, exc, extra=lambda e: _valid_keys(cls, e))) from None
        if not s.name:
            s.name = Path(source).stem
        if not s.label:
            s.label = s.name
        # Parameters are checked now (not only when applied), so a typo fails early.
        from matching.scenarios.apply import scenario_parameters
        scenario_parameters(s)
        return s


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file (and the files it ``extends``).

    >>> load_scenario("data/demo/scenarios/closure.toml").name    # doctest: +SKIP
    'closure'
    """
    data = _read_extended(Path(path), [])
    return Scenario.from_mapping(data, source=str(path))


#: Keys that are never inherited from the scenario a file extends.
_OWN_KEYS = ("name", "label", "description")


def _read_extended(path: Path, chain: list[Path]) -> dict:
    data = read_toml(path, ScenarioError)
    parent = data.get("extends")
    if not parent:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: give the path of another scenario file (a string)")
    target = (path.parent / parent).resolve()
    if target in chain or target == path.resolve():
        raise ScenarioError(f"{path}: extends: {parent!r} extends this file again (a cycle)")
    if not target.is_file():
        raise ScenarioError(f"{path}: extends: no such scenario file {parent!r} (relative to {path.parent})")
    base = _read_extended(target, [*chain, path.resolve()])
    merged = {k: v for k, v in base.items() if k not in _OWN_KEYS and k != "extends"}
    for key, value in data.items():
        if key == "extends":
            continue
        if isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + value
        elif key == "parameters" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            from matching.scenarios.apply import _deep_merge

            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    merged["extends"] = str(parent)
    return merged


def _valid_keys(model: type[BaseModel], error: dict) -> str:
    """For an unknown key: ``（使える項目: …）`` of the table it appeared in; else ``""``."""
    if error.get("type") != "extra_forbidden":
        return ""
    current = model
    for part in list(error["loc"])[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return ""
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        inner = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if inner is None:
            return ""
        current = inner
    keys = [k for k in current.model_fields if k != "source"]
    return f"（使える項目: {', '.join(keys)}）"

