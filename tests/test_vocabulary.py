"""The vocabulary table against the rules of ../shared/DOMAIN.md (003, 002)."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.vocabulary import (
    DESIGNATIONS,
    FACILITY_TYPES,
    STATUS_LABELS_JA,
    STATUS_ORDER,
    InstitutionKind,
    Role,
    Status,
    Strength,
    column_label_ja,
    default_roles,
    facility_type,
    format_roles,
    label_to_column,
    parse_roles,
    role_choices,
    roles_ja,
)

C, V, A = Role.CONSULT, Role.VISIT, Role.ADMIT

# DOMAIN.md, "Which facilities must do what" (003, 000).
EXPECTED_TYPES = {
    "tokuyo": ("介護老人福祉施設", {C, V, A}, Strength.OBLIGATION),
    "chiiki_tokuyo": ("地域密着型介護老人福祉施設入所者生活介護", {C, V, A}, Strength.OBLIGATION),
    "roken": ("介護老人保健施設", {C, V, A}, Strength.OBLIGATION),
    "iryoin": ("介護医療院", {C, V, A}, Strength.OBLIGATION),
    "yogo": ("養護老人ホーム", {C, V, A}, Strength.OBLIGATION),
    "keihi": ("軽費老人ホーム", {C, V}, Strength.EFFORT),
    "tokutei": ("特定施設入居者生活介護", {C, V}, Strength.EFFORT),
    "chiiki_tokutei": ("地域密着型特定施設入居者生活介護", {C, V}, Strength.EFFORT),
    "gh": ("認知症対応型共同生活介護", {C, V}, Strength.EFFORT),
}


def test_exactly_the_nine_facility_types():
    assert set(FACILITY_TYPES) == set(EXPECTED_TYPES)
    assert len(FACILITY_TYPES) == 9


@pytest.mark.parametrize("code", list(EXPECTED_TYPES))
def test_facility_type_roles_and_strength(code):
    name_ja, roles, strength = EXPECTED_TYPES[code]
    t = FACILITY_TYPES[code]
    assert t.code == code
    assert t.name_ja == name_ja
    assert t.required_roles == frozenset(roles)
    assert t.strength is strength
    assert t.obligated is (strength is Strength.OBLIGATION)
    assert t.default_residents > 0


def test_facility_type_lookup_names_valid_codes():
    assert facility_type("gh") is FACILITY_TYPES["gh"]
    with pytest.raises(KeyError, match="unknown facility type 'nursing_home'") as exc:
        facility_type("nursing_home")
    assert "tokuyo" in str(exc.value)


def test_service_codes_map_to_one_type_each():
    """An importer must not be able to read one service code as two types."""
    seen: dict[str, str] = {}
    for t in FACILITY_TYPES.values():
        for code in t.service_codes:
            assert code not in seen, f"service code {code} in both {seen[code]} and {t.code}"
            seen[code] = t.code


# -- designations (002) ---------------------------------------------------------------------

H, K = InstitutionKind.HOSPITAL, InstitutionKind.CLINIC

# Kinds and default roles.  zaishin/zaibyo/koho_shien are stated in DOMAIN.md (002);
# chiiki_houkatsu_ward (③) and sekkyoku (①②, either kind) are the project's documented defaults.
EXPECTED_DESIGNATIONS = {
    "zaishin": (K, {C, V}),
    "zaishin_kyoka": (K, {C, V}),
    "zaibyo": (H, {C, V, A}),
    "zaibyo_kyoka": (H, {C, V, A}),
    "koho_shien": (H, {C, A}),
    "chiiki_houkatsu_ward": (H, {A}),
    "sekkyoku": (None, {C, V}),
}


def test_designation_codes():
    assert set(DESIGNATIONS) == set(EXPECTED_DESIGNATIONS)


@pytest.mark.parametrize("code", list(EXPECTED_DESIGNATIONS))
def test_designation_kind_and_default_roles(code):
    kind, roles = EXPECTED_DESIGNATIONS[code]
    d = DESIGNATIONS[code]
    assert d.kind is kind
    assert d.default_roles == frozenset(roles)
    # Only hospitals' designations may promise admission (③ は病院に限る).
    if A in d.default_roles:
        assert d.kind is InstitutionKind.HOSPITAL


@pytest.mark.parametrize(("kind", "codes", "expected"), [
    (K, {"zaishin"}, {C, V}),
    (K, {"zaishin_kyoka", "sekkyoku"}, {C, V}),
    (H, {"zaibyo"}, {C, V, A}),
    (H, {"koho_shien"}, {C, A}),
    (H, {"chiiki_houkatsu_ward"}, {A}),
    (H, {"chiiki_houkatsu_ward", "sekkyoku"}, {C, V, A}),
    (H, set(), set()),
    (K, set(), set()),
    # A clinic wrongly holding a hospital designation still never admits.
    (K, {"zaibyo"}, {C, V}),
    (K, {"chiiki_houkatsu_ward"}, set()),
])
def test_default_roles_examples(kind, codes, expected):
    assert default_roles(kind, codes) == frozenset(expected)


designation_sets = st.sets(st.sampled_from(sorted(DESIGNATIONS)))


@given(designation_sets)
def test_default_roles_never_admit_for_a_clinic(codes):
    assert Role.ADMIT not in default_roles(InstitutionKind.CLINIC, codes)
    assert Role.ADMIT not in default_roles(InstitutionKind.CLINIC, frozenset(codes))


@given(designation_sets)
def test_default_roles_is_union_of_designations(codes):
    union = frozenset().union(*(DESIGNATIONS[c].default_roles for c in codes))
    assert default_roles(InstitutionKind.HOSPITAL, codes) == union
    assert default_roles(InstitutionKind.CLINIC, codes) == union - {Role.ADMIT}


def test_default_roles_clinic_exhaustive_over_all_subsets():
    codes = sorted(DESIGNATIONS)
    n = 0
    for size in range(len(codes) + 1):
        for subset in combinations(codes, size):
            assert Role.ADMIT not in default_roles(InstitutionKind.CLINIC, set(subset))
            n += 1
    assert n == 2 ** len(codes)


# -- roles -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("consult;visit;admit", {C, V, A}),
    ("consult;visit", {C, V}),
    (" admit ; consult ", {C, A}),
    ("visit;visit", {V}),
    ("", set()),
    (";", set()),
])
def test_parse_roles(text, expected):
    assert parse_roles(text) == frozenset(expected)


@pytest.mark.parametrize(("text", "bad"), [
    ("house_call", "house_call"),
    ("consult;oncall", "oncall"),
    ("admit,visit", "admit,visit"),  # commas are not the separator
    ("③", "③"),
])
def test_parse_roles_rejects_unknown_tokens(text, bad):
    with pytest.raises(ValueError, match="unknown role") as exc:
        parse_roles(text)
    assert repr(bad) in str(exc.value)


@given(st.sets(st.sampled_from(list(Role))))
def test_format_and_parse_roles_round_trip(roles):
    text = format_roles(roles)
    assert parse_roles(text) == frozenset(roles)
    # Always in ①②③ order.
    order = [r.value for r in (C, V, A) if r in roles]
    assert text == ";".join(order)


def test_roles_ja():
    assert roles_ja({A, C}) == "①③"
    assert roles_ja(set()) == "なし"


# -- statuses (003 別紙1) -------------------------------------------------------------------

def test_status_labels_are_the_official_ones():
    assert STATUS_ORDER == (Status.ALL_MET, Status.SOME_MET, Status.NONE_MET,
                            Status.NOT_DESIGNATED, Status.NOT_TRACKED)
    assert set(STATUS_LABELS_JA) == set(Status)
    assert STATUS_LABELS_JA[Status.ALL_MET] == "全ての要件を満たした協力医療機関を定めている"
    assert STATUS_LABELS_JA[Status.SOME_MET].startswith("要件の一部を満たした")
    assert STATUS_LABELS_JA[Status.NONE_MET] == "いずれの要件も満たしていないが、協力医療機関は定めている"
    assert STATUS_LABELS_JA[Status.NOT_TRACKED] == "集計していない"
    assert len(set(STATUS_LABELS_JA.values())) == len(Status)


def test_parse_roles_messages_and_blank_tokens():
    assert parse_roles(";visit;;admit") == frozenset({V, A})
    with pytest.raises(ValueError) as exc:
        parse_roles("consult;x")
    assert str(exc.value) == "unknown role 'x'; expected consult, visit or admit"
    assert [r.mark for r in (C, V, A)] == ["①", "②", "③"]


def test_a_role_is_its_code_as_a_key():
    """A role equals its code, so it hashes as its code: a table keyed by roles is found by codes
    and the other way round (Enum's own hash, of the member's name, broke that)."""
    for role in Role:
        assert role == role.value and hash(role) == hash(role.value)
        assert {role: 1}[role.value] == 1 and {role.value: 2}[role] == 2
    assert len({Role.CONSULT, "consult", Role.VISIT}) == 2


# -- Japanese headers ------------------------------------------------------------------------

def test_japanese_headers_of_output_columns_and_back():
    """An output column's Japanese header is the CLI's own where it has one, else its contract
    column's (the contract's file that names it first), else the name itself; read back, a CLI
    header gives its first column and any other header is left as it is."""
    assert column_label_ja("roles") == "役割コード"
    assert column_label_ja("secondary_area_name") == "二次医療圏"  # the CLI's, not areas.csv's 二次医療圏名
    assert column_label_ja("residents") == "入所者数"  # facilities.csv's
    assert column_label_ja("beds") == "病床数"  # institutions.csv's
    assert column_label_ja("no_such_column") == "no_such_column"
    assert label_to_column("役割コード") == "roles"  # roles and role share it: the first
    assert label_to_column("移動時間（分）") == "travel_minutes"
    assert label_to_column("選定") == "chosen"
    assert label_to_column("入所者数") == "入所者数"  # a contract header: read by the contract, not here
    assert label_to_column("facility_id") == "facility_id"
    for name in ("facility_id", "institution_id", "distance_km", "explanation", "message"):
        assert label_to_column(column_label_ja(name)) == name
    assert role_choices() == "consult, visit or admit"
