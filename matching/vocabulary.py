"""The one vocabulary table of the product.

Every rule, importer, report and API response reads facility types, roles and
designations from here: code (the data contract), English name (identifiers,
docs) and Japanese name (what Japanese users see).  Sources: ../shared/DOMAIN.md
and the seeds it cites (003 for the roles each type must secure, 002 for what a
designation promises).

>>> FACILITY_TYPES["roken"].required_roles == frozenset({Role.CONSULT, Role.VISIT, Role.ADMIT})
True
>>> FACILITY_TYPES["gh"].strength is Strength.EFFORT
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """The three roles of a cooperating medical institution (協力医療機関)."""

    CONSULT = "consult"  # ① 相談対応を行う体制を常時確保
    VISIT = "visit"  # ② 診療を行う体制を常時確保
    ADMIT = "admit"  # ③ 入院を原則として受け入れる体制 (hospitals only)

    #: Hashed as its code, as ``str`` is: a role equals its code, so it must hash like it (Enum's
    #: own hash, of the member's name, breaks that and is a Python call on every dict lookup).
    __hash__ = str.__hash__

    @property
    def label_ja(self) -> str:
        return ROLE_LABELS_JA[self]

    @property
    def mark(self) -> str:
        return {"consult": "①", "visit": "②", "admit": "③"}[self.value]


ROLE_ORDER: tuple[Role, ...] = (Role.CONSULT, Role.VISIT, Role.ADMIT)

ROLE_LABELS_JA: dict[Role, str] = {
    Role.CONSULT: "①相談対応（常時）",
    Role.VISIT: "②診療（往診・常時）",
    Role.ADMIT: "③入院受入れ",
}


class Strength(StrEnum):
    """Whether designating a compliant institution is an obligation or an effort."""

    OBLIGATION = "obligation"  # 義務（経過措置：令和9年3月31日まで）
    EFFORT = "effort"  # 努力義務

    @property
    def label_ja(self) -> str:
        return {"obligation": "義務", "effort": "努力義務"}[self.value]


class InstitutionKind(StrEnum):
    HOSPITAL = "hospital"  # 病院 (20 beds or more)
    CLINIC = "clinic"  # 診療所

    @property
    def label_ja(self) -> str:
        return {"hospital": "病院", "clinic": "診療所"}[self.value]


class Status(StrEnum):
    """Compliance status of one facility, in the categories of 003 別紙1.

    MHLW's prefecture table has four columns (all / some / none-but-designated /
    not tracked).  A facility that reported having *no* cooperating institution
    fits none of them, so it gets its own category here (NOT_DESIGNATED) rather
    than being hidden inside "none met but designated".
    """

    ALL_MET = "all_met"
    SOME_MET = "some_met"
    NONE_MET = "none_met"
    NOT_DESIGNATED = "not_designated"
    NOT_TRACKED = "not_tracked"

    @property
    def label_ja(self) -> str:
        return STATUS_LABELS_JA[self]

    @property
    def short_ja(self) -> str:
        """A short form for narrow tables (the full label stays in files and reports)."""
        return STATUS_SHORT_JA[self]


STATUS_ORDER: tuple[Status, ...] = (
    Status.ALL_MET,
    Status.SOME_MET,
    Status.NONE_MET,
    Status.NOT_DESIGNATED,
    Status.NOT_TRACKED,
)

STATUS_LABELS_JA: dict[Status, str] = {
    Status.ALL_MET: "全ての要件を満たした協力医療機関を定めている",
    Status.SOME_MET: "要件の一部を満たした協力医療機関を定めている",
    Status.NONE_MET: "いずれの要件も満たしていないが、協力医療機関は定めている",
    Status.NOT_DESIGNATED: "協力医療機関を定めていない",
    Status.NOT_TRACKED: "集計していない",
}

STATUS_SHORT_JA: dict[Status, str] = {
    Status.ALL_MET: "全て満たす",
    Status.SOME_MET: "一部満たす",
    Status.NONE_MET: "いずれも満たさない",
    Status.NOT_DESIGNATED: "定めていない",
    Status.NOT_TRACKED: "集計していない",
}

#: A region imported without clinics (``region_scope.json``, ``clinics_loaded: false``): its
#: ①② gaps are not proven — the clinics that could give them are not in the data.  The reason
#: code of such a gap (explanations, reports) and its Japanese words, long and short.
CLINICS_NOT_LOADED = "clinics_not_loaded"
CLINICS_NOT_LOADED_JA = "診療所が未取込のため{role}の候補は病院のみ（担える医療機関がないとは言えない）"
CLINICS_NOT_LOADED_SHORT_JA = "診療所未取込"

ALL_ROLES = frozenset(Role)
CONSULT_VISIT = frozenset({Role.CONSULT, Role.VISIT})


@dataclass(frozen=True)
class FacilityType:
    """One of the nine elderly-care facility types (高齢者施設等)."""

    code: str
    name_en: str
    name_ja: str
    short_ja: str
    required_roles: frozenset[Role]
    strength: Strength
    # 介護サービス情報公表システム service codes that map to this type (importers).
    service_codes: tuple[str, ...] = ()
    # Median capacity (定員) used when the published 定員 is unknown (documented default).
    default_residents: int = 30

    @property
    def obligated(self) -> bool:
        return self.strength is Strength.OBLIGATION


@dataclass(frozen=True)
class Designation:
    """An institution designation (施設基準の届出 or a prefecture's designation)."""

    code: str
    name_en: str
    name_ja: str
    # Which kind of institution can hold it (None: either).
    kind: InstitutionKind | None
    # Roles the designation promises by default (002); overridable per institution.
    default_roles: frozenset[Role] = field(default_factory=frozenset)
    # 受理記号 prefixes in the Kōseikyoku lists (importers).
    juri_kigo: tuple[str, ...] = ()


_T = FacilityType
FACILITY_TYPES: dict[str, FacilityType] = {
    t.code: t
    for t in (
        _T("tokuyo", "special nursing home", "介護老人福祉施設", "特養",
           ALL_ROLES, Strength.OBLIGATION, ("510",), 80),
        _T("chiiki_tokuyo", "community special nursing home",
           "地域密着型介護老人福祉施設入所者生活介護", "地域密着型特養",
           ALL_ROLES, Strength.OBLIGATION, ("540",), 29),
        _T("roken", "geriatric health services facility", "介護老人保健施設", "老健",
           ALL_ROLES, Strength.OBLIGATION, ("520",), 90),
        _T("iryoin", "integrated care hospital facility", "介護医療院", "介護医療院",
           ALL_ROLES, Strength.OBLIGATION, ("550", "551"), 60),
        _T("yogo", "nursing home for the elderly", "養護老人ホーム", "養護",
           ALL_ROLES, Strength.OBLIGATION, (), 50),
        # 332 / 362 = (地域密着型) 特定施設 in a 軽費老人ホーム: counted only as 軽費 (003 別紙1 notes).
        _T("keihi", "low-cost home", "軽費老人ホーム", "軽費",
           CONSULT_VISIT, Strength.EFFORT, ("332", "362"), 30),
        _T("tokutei", "specified facility", "特定施設入居者生活介護", "特定施設",
           CONSULT_VISIT, Strength.EFFORT, ("331", "334"), 50),
        _T("chiiki_tokutei", "community specified facility",
           "地域密着型特定施設入居者生活介護", "地域密着型特定施設",
           CONSULT_VISIT, Strength.EFFORT, ("361", "364"), 29),
        _T("gh", "dementia group home", "認知症対応型共同生活介護", "グループホーム",
           CONSULT_VISIT, Strength.EFFORT, ("320",), 18),
    )
}

_D = Designation
_H, _C = InstitutionKind.HOSPITAL, InstitutionKind.CLINIC
DESIGNATIONS: dict[str, Designation] = {
    d.code: d
    for d in (
        _D("zaishin", "home-care support clinic", "在宅療養支援診療所", _C,
           CONSULT_VISIT, ("支援診３",)),
        _D("zaishin_kyoka", "enhanced home-care support clinic", "機能強化型在宅療養支援診療所",
           _C, CONSULT_VISIT, ("支援診１", "支援診２")),
        _D("zaibyo", "home-care support hospital", "在宅療養支援病院", _H,
           ALL_ROLES, ("支援病３",)),
        _D("zaibyo_kyoka", "enhanced home-care support hospital", "機能強化型在宅療養支援病院",
           _H, ALL_ROLES, ("支援病１", "支援病２")),
        _D("koho_shien", "home-care back-up hospital", "在宅療養後方支援病院", _H,
           frozenset({Role.CONSULT, Role.ADMIT}), ("在後病",)),
        _D("chiiki_houkatsu_ward", "hospital with a community-based care ward",
           "地域包括ケア病棟を有する病院", _H, frozenset({Role.ADMIT}), ("地包ケア",)),
        _D("sekkyoku", "institution with an active role in home medical care",
           "在宅医療において積極的役割を担う医療機関", None, CONSULT_VISIT, ()),
    )
}

#: Plain hospitals and clinics hold no designation and promise no 24-hour role
#: by default; what they actually do is recorded per institution.
PLAIN_LABELS_JA = {InstitutionKind.HOSPITAL: "病院（届出なし）", InstitutionKind.CLINIC: "診療所（届出なし）"}


def facility_type(code: str) -> FacilityType:
    """Look up a facility type by its contract code; KeyError names the valid codes."""
    try:
        return FACILITY_TYPES[code]
    except KeyError:
        raise KeyError(f"unknown facility type {code!r}; expected one of {sorted(FACILITY_TYPES)}") from None


def default_roles(kind: InstitutionKind, designations: frozenset[str] | set[str]) -> frozenset[Role]:
    """Roles an institution offers around the clock by default, from its designations.

    Admission (③) is never offered by a clinic, whatever its designations.

    >>> sorted(r.value for r in default_roles(InstitutionKind.CLINIC, {"zaishin"}))
    ['consult', 'visit']
    >>> sorted(r.value for r in default_roles(InstitutionKind.HOSPITAL, {"koho_shien"}))
    ['admit', 'consult']
    """
    roles: set[Role] = set()
    for code in designations:
        roles |= DESIGNATIONS[code].default_roles
    if kind is InstitutionKind.CLINIC:
        roles.discard(Role.ADMIT)
    return frozenset(roles)


def parse_roles(text: str) -> frozenset[Role]:
    """Parse ``"consult;visit"`` into roles.  Raises ValueError naming the bad token."""
    roles = set()
    for token in (t.strip() for t in str(text).split(";")):
        if not token:
            continue
        try:
            roles.add(Role(token))
        except ValueError:
            raise ValueError(f"unknown role {token!r}; expected {role_choices()}") from None
    return frozenset(roles)


def role_choices() -> str:
    """The role codes for messages: ``consult, visit or admit``."""
    codes = [r.value for r in ROLE_ORDER]
    return ", ".join(codes[:-1]) + " or " + codes[-1]


def format_roles(roles) -> str:
    """Roles in ①②③ order, ``;``-separated (the contract's form)."""
    return ";".join(r.value for r in ROLE_ORDER if r in roles)


def roles_ja(roles) -> str:
    """Roles as ①②③ marks for Japanese output."""
    return "".join(r.mark for r in ROLE_ORDER if r in roles) or "なし"


#: Japanese headers of the columns the CLI writes (``--labels ja``) that are not contract columns;
#: contract columns use their ``label_ja`` (matching.contract.schema).  Read back by
#: :func:`label_to_column`, so a file written with Japanese headers can be verified.
COLUMN_LABELS_JA: dict[str, str] = {
    "facility_id": "施設ID",
    "institution_id": "医療機関ID",
    "roles": "役割コード",
    "roles_ja": "役割",
    "role": "役割コード",
    "role_ja": "役割",
    "distance_km": "距離（km）",
    "travel_minutes": "移動時間（分）",
    "extends_existing": "既存協定の拡張",
    "not_yet_asked": "受入意向未確認",
    "pinned": "指定済みの組合せ",
    "explanation": "提案理由",
    "facility_name": "施設名",
    "facility_type": "施設種別コード",
    "facility_type_ja": "施設種別",
    "municipality_code": "市区町村コード",
    "municipality_name": "市区町村名",
    "secondary_area_name": "二次医療圏",
    "institution_name": "医療機関名",
    "institution_kind_ja": "病院・診療所",
    "missing_roles": "不足する役割",
    "reason_code": "理由コード",
    "reason": "理由",
    "fix": "解消のための対応",
    "fix_institution_id": "対応先の医療機関ID",
    "fix_institution_name": "対応先の医療機関名",
    "fix_amount": "必要な受入枠",
    "location_uncertain": "位置が近似（要確認）",
    "minutes": "移動時間（分）",
    "km": "距離（km）",
    "chosen": "選定",
    "note": "備考",
    "code": "違反コード",
    "message_ja": "内容",
    "message": "内容（英語）",
}


def column_label_ja(name: str) -> str:
    """The Japanese header of an output column (``name`` itself when none is known)."""
    if name in COLUMN_LABELS_JA:
        return COLUMN_LABELS_JA[name]
    from matching.contract import schema

    for spec in schema.FILES:
        for col in spec.columns:
            if col.name == name and col.label_ja:
                return col.label_ja
    return name


def label_to_column(label: str) -> str:
    """The inverse of :func:`column_label_ja` for the headers it writes (others unchanged).

    Where two columns share a label (``roles``/``role``, ``minutes``/``travel_minutes``) the first
    one in :data:`COLUMN_LABELS_JA` is given."""
    for name, ja in COLUMN_LABELS_JA.items():
        if ja == label:
            return name
    return label
