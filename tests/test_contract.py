"""The data contract: loading, typing and validating a region folder."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from matching.contract import RegionValidationError, RowError, load_region
from matching.vocabulary import Role
from tests.regionkit import (
    DEFAULT_AREAS,
    DEFAULT_FACILITIES,
    DEFAULT_INSTITUTIONS,
    DEFAULT_PARTNERSHIPS,
    DEFAULT_TRAVEL_TIMES,
    OMIT,
    append,
    drop_column,
    edit,
    facility,
    institution,
    line_of,
    partnership,
    write_csv,
    write_region,
)

# Indexes of rows in the default tables (see regionkit's docstring).
F1, F2, F3, F4 = range(4)
H1, C1, H2, C2 = range(4)


def errors_of(folder, **kw) -> list[RowError]:
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder, **kw)
    return exc.value.errors


def matching(errors, file, row, column, fragment):
    return [e for e in errors
            if e.file == file and e.row == row and e.column == column and fragment in e.message]


# -- a valid region --------------------------------------------------------------------------

@pytest.fixture
def region(tmp_path):
    return load_region(write_region(tmp_path))


def test_valid_region_loads_without_skips(region):
    assert region.skipped == []
    assert list(region.areas.index) == ["03201", "03202"]
    assert list(region.facilities.index) == ["F1", "F2", "F3", "F4"]
    assert list(region.institutions.index) == ["H1", "C1", "H2", "C2"]
    assert len(region.partnerships) == len(DEFAULT_PARTNERSHIPS)
    assert region.travel_times is None


def test_codes_stay_text_with_leading_zeros(region):
    assert region.facilities.loc["F1", "municipality_code"] == "03201"
    assert region.areas.loc["03201", "prefecture_code"] == "03"
    assert region.areas.loc["03202", "secondary_area_code"] == "0307"


def test_residents_are_nullable_integers_with_blank_and_zero_unknown(region):
    res = region.facilities["residents"]
    assert str(res.dtype) == "Int64"
    assert res["F1"] == 80
    assert res["F2"] == 18
    assert pd.isna(res["F3"])  # blank
    assert pd.isna(res["F4"])  # 0 means unknown
    # Unknown 定員 falls back to the type's documented default (roken 90, keihi 30).
    assert region.residents().to_dict() == {"F1": 80, "F2": 18, "F3": 90, "F4": 30}


def test_coordinates_are_floats(region):
    assert region.facilities["lat"].dtype == float
    assert region.institutions.loc["H2", "lon"] == pytest.approx(141.96)


def test_reported_is_boolean(region):
    assert region.facilities["reported"].dtype == bool
    assert region.facilities["reported"].to_dict() == {"F1": True, "F2": True, "F3": True,
                                                       "F4": False}


@pytest.mark.parametrize(("text", "expected"), [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), (" y ", True),
    ("false", False), ("0", False), ("No", False), ("f", False),
])
def test_boolean_spellings(tmp_path, text, expected):
    region = load_region(write_region(tmp_path, facilities=edit(DEFAULT_FACILITIES, F1,
                                                                reported=text)))
    assert bool(region.facilities.loc["F1", "reported"]) is expected


def test_designations_are_frozensets(tmp_path):
    inst = edit(DEFAULT_INSTITUTIONS, C1, designations="zaishin_kyoka; sekkyoku")
    region = load_region(write_region(tmp_path, institutions=inst))
    d = region.institutions["designations"]
    assert d["H1"] == frozenset({"zaibyo"})
    assert d["C1"] == frozenset({"zaishin_kyoka", "sekkyoku"})
    assert d["H2"] == frozenset()
    assert all(isinstance(x, frozenset) for x in d)


def test_role_flags_derived_from_designations(region):
    inst = region.institutions
    flags = ["consult_24h", "visit_24h", "admit"]
    for col in flags:
        assert inst[col].dtype == bool
    # zaibyo hospital, all flags blank → ①②③
    assert inst.loc["H1", flags].tolist() == [True, True, True]
    # zaishin clinic, flags blank → ①②, never ③
    assert inst.loc["C1", flags].tolist() == [True, True, False]
    # plain hospital with only admit=true → the blanks are false (no designation)
    assert inst.loc["H2", flags].tolist() == [False, False, True]
    # plain clinic with explicit consult=true, visit=false
    assert inst.loc["C2", flags].tolist() == [True, False, False]
    assert region.offered_roles("C1") == frozenset({Role.CONSULT, Role.VISIT})
    assert region.offered_roles("H1") == frozenset(Role)


def test_explicit_false_overrides_a_designation_default(tmp_path):
    inst = edit(DEFAULT_INSTITUTIONS, H1, admit="false")
    inst = edit(inst, C1, visit_24h="no")  # a filing is not a practice
    region = load_region(write_region(tmp_path, institutions=inst))
    assert region.institutions.loc["H1", ["consult_24h", "visit_24h", "admit"]].tolist() == \
        [True, True, False]
    assert region.institutions.loc["C1", ["consult_24h", "visit_24h", "admit"]].tolist() == \
        [True, False, False]


def test_accepting_stays_unknown_when_blank(region):
    acc = region.institutions["accepting"]
    assert acc["H1"] is True or acc["H1"] == True  # noqa: E712
    assert acc["H2"] == False  # noqa: E712
    assert pd.isna(acc["C2"])  # not yet asked


def test_capacities_nullable_and_optional_role_caps_added(region):
    inst = region.institutions
    assert inst.loc["H1", "capacity_facilities"] == 5
    assert pd.isna(inst.loc["C1", "capacity_facilities"])
    assert inst.loc["C1", "capacity_residents"] == 60
    # Optional per-role columns absent from the file are added as unknown.
    for col in ("capacity_facilities_admit", "capacity_residents_consult"):
        assert col in inst.columns
        assert inst[col].isna().all()


def test_per_role_capacity_column_is_parsed(tmp_path):
    inst = edit(DEFAULT_INSTITUTIONS, H1, capacity_facilities_admit="3")
    region = load_region(write_region(tmp_path, institutions=inst))
    caps = region.institutions["capacity_facilities_admit"]
    assert caps["H1"] == 3 and pd.isna(caps["C1"])


def test_partnership_roles_are_role_sets(region):
    p = region.partnerships
    roles = {(f, i): r for f, i, r in zip(p["facility_id"], p["institution_id"], p["roles"],
                                          strict=True)}
    assert roles[("F1", "C1")] == frozenset({Role.CONSULT, Role.VISIT})
    assert roles[("F1", "H1")] == frozenset({Role.ADMIT})
    assert all(isinstance(r, Role) for rs in p["roles"] for r in rs)


def test_blank_roles_in_a_partnership_are_allowed(tmp_path):
    part = append(DEFAULT_PARTNERSHIPS, partnership("F2", "C2", ""))
    region = load_region(write_region(tmp_path, partnerships=part))
    p = region.partnerships
    row = p[(p["facility_id"] == "F2") & (p["institution_id"] == "C2")]
    assert len(row) == 1
    assert row["roles"].iloc[0] == frozenset()


def test_utf8_bom_is_accepted(tmp_path):
    folder = write_region(tmp_path)
    write_csv(folder / "facilities.csv", DEFAULT_FACILITIES, bom=True)
    write_csv(folder / "areas.csv", DEFAULT_AREAS, bom=True)
    assert (folder / "facilities.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    region = load_region(folder)
    assert list(region.facilities.index) == ["F1", "F2", "F3", "F4"]
    assert list(region.areas.index) == ["03201", "03202"]


def test_extra_columns_are_kept(tmp_path):
    fac = [dict(r, note=f"メモ{i}") for i, r in enumerate(DEFAULT_FACILITIES)]
    inst = edit(DEFAULT_INSTITUTIONS, H1, phone="019-000-0000")
    region = load_region(write_region(tmp_path, facilities=fac, institutions=inst))
    assert region.facilities.loc["F3", "note"] == "メモ2"
    assert region.institutions.loc["H1", "phone"] == "019-000-0000"
    assert region.institutions.loc["C1", "phone"] == ""


def test_addresses_are_optional_text_with_a_length_limit(tmp_path):
    """所在地 of facilities and institutions: blank when the column is absent or the cell empty, refused
    past 200 characters (the service's column) with the line named."""
    region = load_region(write_region(tmp_path / "none"))
    assert (region.facilities["address"] == "").all() and (region.institutions["address"] == "").all()
    inst = edit(DEFAULT_INSTITUTIONS, H1, address="岩手県盛岡市内丸11-1")
    region = load_region(write_region(tmp_path / "one", institutions=inst))
    assert region.institutions.loc["H1", "address"] == "岩手県盛岡市内丸11-1"
    assert region.institutions.loc["C1", "address"] == ""
    errors = errors_of(write_region(tmp_path / "long", facilities=edit(DEFAULT_FACILITIES, F1, address="あ" * 201)))
    assert [(e.file, e.row, e.column) for e in errors] == [("facilities.csv", line_of(F1), "address")]
    assert "200 文字以内" in errors[0].ja


def test_optional_travel_times_are_loaded(tmp_path):
    region = load_region(write_region(tmp_path, travel_times=DEFAULT_TRAVEL_TIMES))
    tt = region.travel_times
    assert tt is not None and len(tt) == 2
    assert tt["minutes"].dtype == float
    assert tt.set_index(["facility_id", "institution_id"])["minutes"].to_dict() == \
        {("F1", "H1"): 7.5, ("F3", "H2"): 12.0}


def test_travel_times_are_validated(tmp_path):
    tt = append(DEFAULT_TRAVEL_TIMES, {"facility_id": "F9", "institution_id": "H1",
                                       "minutes": "-1"})
    errors = errors_of(write_region(tmp_path, travel_times=tt))
    assert matching(errors, "travel_times.csv", 4, "facility_id", "unknown facility_id")
    assert matching(errors, "travel_times.csv", 4, "minutes", "at least 0")


def test_header_whitespace_is_ignored(tmp_path):
    folder = write_region(tmp_path)
    text = (folder / "areas.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    (folder / "areas.csv").write_text(", ".join(header.split(",")) + "\n" + rest,
                                      encoding="utf-8")
    assert list(load_region(folder).areas.index) == ["03201", "03202"]


# -- each kind of bad input --------------------------------------------------------------------

def _bad_cases():
    """(id, tables to pass to write_region, file, line, column, message fragment, value)."""
    return [
        ("unknown-facility-type",
         dict(facilities=edit(DEFAULT_FACILITIES, F2, facility_type="nursing_home")),
         "facilities.csv", line_of(F2), "facility_type", "unknown facility type", "nursing_home"),
        ("duplicate-facility-id",
         dict(facilities=append(DEFAULT_FACILITIES, facility("F2", "gh"))),
         "facilities.csv", 6, "facility_id", "duplicate facility_id, first seen on line 3", "F2"),
        ("duplicate-partnership",
         dict(partnerships=append(DEFAULT_PARTNERSHIPS, partnership("F1", "H1", "consult"))),
         "partnerships.csv", 6, "facility_id/institution_id", "first seen on line 3",
         "F1/H1"),
        ("latitude-outside-japan",
         dict(facilities=edit(DEFAULT_FACILITIES, F3, lat="51.5")),
         "facilities.csv", line_of(F3), "lat", "latitude missing or outside Japan", "51.5"),
        ("latitude-blank",
         dict(facilities=edit(DEFAULT_FACILITIES, F3, lat="")),
         "facilities.csv", line_of(F3), "lat", "latitude missing or outside Japan", ""),
        ("non-numeric-longitude",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, C2, lon="東経141度")),
         "institutions.csv", line_of(C2), "lon", "longitude missing or outside Japan",
         "東経141度"),
        ("partnership-unknown-facility",
         dict(partnerships=append(DEFAULT_PARTNERSHIPS, partnership("F99", "H1", "admit"))),
         "partnerships.csv", 6, "facility_id", "unknown facility_id (not in facilities.csv)",
         "F99"),
        ("partnership-unknown-institution",
         dict(partnerships=edit(DEFAULT_PARTNERSHIPS, 2, institution_id="C9")),
         "partnerships.csv", 4, "institution_id",
         "unknown institution_id (not in institutions.csv)", "C9"),
        ("clinic-claims-admit",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, C2, admit="true")),
         "institutions.csv", line_of(C2), "admit", "a clinic cannot offer admission", "true"),
        ("partnership-admit-to-clinic",
         dict(partnerships=edit(DEFAULT_PARTNERSHIPS, 0, roles="consult;visit;admit")),
         "partnerships.csv", 2, "roles", "institution C1 is a clinic and cannot admit", "admit"),
        ("designation-for-wrong-kind",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, H2, designations="zaishin")),
         "institutions.csv", line_of(H2), "designations",
         "designation zaishin (在宅療養支援診療所) is for clinics only, but kind is hospital",
         "zaishin"),
        ("hospital-designation-on-clinic",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, C2, designations="koho_shien")),
         "institutions.csv", line_of(C2), "designations", "is for hospitals only", "koho_shien"),
        ("unknown-designation",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, C1, designations="zaishin;zaitaku")),
         "institutions.csv", line_of(C1), "designations", "unknown designation",
         "zaishin;zaitaku"),
        ("unknown-institution-kind",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, H2, kind="pharmacy")),
         "institutions.csv", line_of(H2), "kind", "unknown institution kind", "pharmacy"),
        ("bad-boolean-reported",
         dict(facilities=edit(DEFAULT_FACILITIES, F1, reported="maybe")),
         "facilities.csv", line_of(F1), "reported", "must be true or false", "maybe"),
        ("blank-reported",
         dict(facilities=edit(DEFAULT_FACILITIES, F1, reported="")),
         "facilities.csv", line_of(F1), "reported", "required", ""),
        ("bad-boolean-optional-flag",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, H1, accepting="perhaps")),
         "institutions.csv", line_of(H1), "accepting", "must be true or false", "perhaps"),
        ("municipality-code-not-5-digits-in-areas",
         dict(areas=edit(DEFAULT_AREAS, 1, municipality_code="322")),
         "areas.csv", 3, "municipality_code", "must be exactly 5 digits", "322"),
        ("prefecture-code-not-2-digits",
         dict(areas=edit(DEFAULT_AREAS, 0, prefecture_code="003")),
         "areas.csv", 2, "prefecture_code", "must be exactly 2 digits", "003"),
        ("municipality-not-in-areas",
         dict(facilities=edit(DEFAULT_FACILITIES, F2, municipality_code="03203")),
         "facilities.csv", line_of(F2), "municipality_code",
         "unknown municipality_code (not in areas.csv)", "03203"),
        ("institution-municipality-not-in-areas",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, C2, municipality_code="04100")),
         "institutions.csv", line_of(C2), "municipality_code",
         "unknown municipality_code (not in areas.csv)", "04100"),
        ("unknown-role",
         dict(partnerships=edit(DEFAULT_PARTNERSHIPS, 2, roles="consult;house_call")),
         "partnerships.csv", 4, "roles", "unknown role", "consult;house_call"),
        ("negative-capacity",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, H1, capacity_facilities="-3")),
         "institutions.csv", line_of(H1), "capacity_facilities", "whole number between 0 and 100000",
         "-3"),
        ("capacity-beyond-what-the-service-stores",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, H1, capacity_residents="20000000")),
         "institutions.csv", line_of(H1), "capacity_residents", "whole number between 0 and 10000000",
         "20000000"),
        ("negative-role-capacity",
         dict(institutions=edit(DEFAULT_INSTITUTIONS, H1, capacity_residents_admit="-1")),
         "institutions.csv", line_of(H1), "capacity_residents_admit",
         "whole number between 0 and 10000000", "-1"),
        ("fractional-residents",
         dict(facilities=edit(DEFAULT_FACILITIES, F1, residents="80.5")),
         "facilities.csv", line_of(F1), "residents", "must be a whole number", "80.5"),
        ("blank-facility-id",
         dict(facilities=edit(DEFAULT_FACILITIES, F4, facility_id=" ")),
         "facilities.csv", line_of(F4), "facility_id", "must not be empty", " "),
    ]


BAD_CASES = _bad_cases()


@pytest.mark.parametrize(("tables", "file", "line", "column", "fragment", "value"),
                         [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_each_bad_input_is_reported(tmp_path, tables, file, line, column, fragment, value):
    errors = errors_of(write_region(tmp_path, **tables))
    found = matching(errors, file, line, column, fragment)
    assert len(found) == 1, "\n".join(map(str, errors))
    error = found[0]
    assert error.value == value
    # The printed form names the file, the line and the column.
    assert str(error).startswith(f"{file} line {line}, column {column!r}: ")
    # So does the Japanese one people read (CLI, API), with the value, and no English left in it.
    assert error.ja.startswith(f"{file} {line} 行目・{column} 列"), error.ja
    assert (f"（値「{value}」）" in error.ja) == (value != ""), error.ja
    problem = error.ja.split(": ", 1)[1]
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", problem) and not re.search(r"\b(must|unknown|line)\b", problem)
    # Nothing else is wrong in the region, apart from the cascade of a bad area code
    # (the facilities and institutions of 03202 then refer to an unknown municipality).
    others = [e for e in errors if e is not error]
    if file == "areas.csv" and column == "municipality_code":
        assert {(e.file, e.row, e.column) for e in others} == {
            ("facilities.csv", 4, "municipality_code"), ("facilities.csv", 5, "municipality_code"),
            ("institutions.csv", 4, "municipality_code"),
            ("institutions.csv", 5, "municipality_code"),
        }
    else:
        assert others == []


def test_not_5_digit_municipality_in_facilities_reports_both_problems(tmp_path):
    errors = errors_of(write_region(tmp_path, facilities=edit(DEFAULT_FACILITIES, F1,
                                                              municipality_code="321")))
    assert len(matching(errors, "facilities.csv", 2, "municipality_code",
                        "must be exactly 5 digits")) == 1
    assert len(matching(errors, "facilities.csv", 2, "municipality_code",
                        "not in areas.csv")) == 1
    assert len(errors) == 2


def test_validation_error_message_lists_problems(tmp_path):
    folder = write_region(tmp_path, facilities=edit(DEFAULT_FACILITIES, F3, lat="51.5"))
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    text = str(exc.value)
    assert text.startswith("1 problem(s) in region data:")
    assert "facilities.csv line 4, column 'lat'" in text
    assert "'51.5'" in text
    assert isinstance(exc.value, ValueError)


# -- whole-file problems (fatal in both modes) ---------------------------------------------------

@pytest.mark.parametrize("strict", [True, False])
def test_missing_required_file(tmp_path, strict):
    errors = errors_of(write_region(tmp_path, institutions=OMIT), strict=strict)
    assert errors == [RowError("institutions.csv", 0, "", "required file is missing")]
    assert str(errors[0]) == "institutions.csv: required file is missing"


def test_every_missing_file_is_listed(tmp_path):
    errors = errors_of(write_region(tmp_path, areas=OMIT, partnerships=OMIT))
    assert {(e.file, e.message) for e in errors} == {
        ("areas.csv", "required file is missing"),
        ("partnerships.csv", "required file is missing"),
    }
    # File-level problems are counted like any other, and nothing was cut short: 2 件, not 「以上」.
    with pytest.raises(RegionValidationError) as exc:
        load_region(write_region(tmp_path / "b", areas=OMIT, partnerships=OMIT))
    assert exc.value.total == 2 and exc.value.heading_ja == "入力データに誤りがあります（2 件）"
    assert str(exc.value).startswith("2 problem(s) in region data:")


def test_missing_travel_times_is_fine(tmp_path):
    assert load_region(write_region(tmp_path, travel_times=OMIT)).travel_times is None


@pytest.mark.parametrize("strict", [True, False])
def test_missing_required_column(tmp_path, strict):
    fac = drop_column(drop_column(DEFAULT_FACILITIES, "reported"), "lon")
    errors = errors_of(write_region(tmp_path, facilities=fac), strict=strict)
    assert sorted(errors) == [
        RowError("facilities.csv", 0, "lon", "required column is missing"),
        RowError("facilities.csv", 0, "reported", "required column is missing"),
    ]
    assert str(errors[0]) == "facilities.csv, column 'lon': required column is missing"


def test_optional_role_capacity_column_may_be_missing_but_flags_may_not(tmp_path):
    errors = errors_of(write_region(tmp_path, institutions=drop_column(DEFAULT_INSTITUTIONS,
                                                                      "admit")))
    assert errors == [RowError("institutions.csv", 0, "admit", "required column is missing")]


def test_missing_folder(tmp_path):
    errors = errors_of(tmp_path / "nowhere")
    assert len(errors) == 1 and "region folder not found" in errors[0].message
    e = errors[0]
    assert (e.file, e.row, e.column, e.message) == (str(tmp_path / "nowhere"), 0, "", "region folder not found")
    assert e.ja == f"地域フォルダが見つかりません: {tmp_path / 'nowhere'}"
    (tmp_path / "a.csv").write_text("x\n", encoding="utf-8")
    f = errors_of(tmp_path / "a.csv")[0]
    assert (f.message, f.ja) == ("is a file, not a region folder", f"地域フォルダではなくファイルです: {tmp_path / 'a.csv'}")


def test_empty_file_is_reported_not_crashed(tmp_path):
    folder = write_region(tmp_path)
    (folder / "partnerships.csv").write_text("", encoding="utf-8")
    errors = errors_of(folder)
    assert [(e.file, e.row) for e in errors] == [("partnerships.csv", 0)]
    assert "file is empty" in errors[0].message


def test_text_in_no_known_encoding_is_reported(tmp_path):
    # Shift_JIS is read (tests/test_tables.py); bytes no Japanese encoding reads are refused.
    folder = write_region(tmp_path)
    (folder / "areas.csv").write_bytes(b"municipality_code,\xff\xfe\xfd\xff\xfd\n03201,\xfd\xfe\xff\n")
    errors = errors_of(folder)
    assert [(e.file, e.row) for e in errors] == [("areas.csv", 0)]
    assert "neither UTF-8 nor a Japanese encoding" in errors[0].message
    assert "文字コード" in errors[0].ja


# -- strict: all errors at once ------------------------------------------------------------------

def test_strict_lists_all_errors_across_files(tmp_path):
    fac = edit(DEFAULT_FACILITIES, F1, facility_type="nursing_home")
    fac = edit(fac, F3, lat="99")
    inst = edit(DEFAULT_INSTITUTIONS, C2, admit="true")
    part = append(DEFAULT_PARTNERSHIPS, partnership("F2", "X1", "consult"))
    folder = write_region(tmp_path, facilities=fac, institutions=inst, partnerships=part)
    errors = errors_of(folder)  # strict is the default
    assert [(e.file, e.row, e.column) for e in errors] == [
        ("facilities.csv", 2, "facility_type"),
        ("facilities.csv", 4, "lat"),
        ("institutions.csv", 5, "admit"),
        ("partnerships.csv", 6, "institution_id"),
    ]


def test_strict_reports_several_errors_in_one_row(tmp_path):
    fac = edit(DEFAULT_FACILITIES, F2, lat="x", lon="y", residents="-5", reported="?")
    errors = errors_of(write_region(tmp_path, facilities=fac))
    assert {e.column for e in errors if e.row == 3} == {"lat", "lon", "residents", "reported"}
    assert len(errors) == 4


# -- lenient: bad rows left out, every one of them listed ---------------------------------------

def test_lenient_without_errors_skips_nothing(tmp_path):
    region = load_region(write_region(tmp_path), strict=False)
    assert region.skipped == []
    assert len(region.facilities) == 4


def test_lenient_skips_bad_rows_and_cascades(tmp_path):
    fac = edit(DEFAULT_FACILITIES, F1, lat="99")  # F1 has two partnerships
    inst = edit(DEFAULT_INSTITUTIONS, C2, admit="true")  # C2 has none
    part = append(DEFAULT_PARTNERSHIPS, partnership("F9", "H2", "admit"))  # really unknown
    folder = write_region(tmp_path, facilities=fac, institutions=inst, partnerships=part)
    region = load_region(folder, strict=False)

    assert list(region.facilities.index) == ["F2", "F3", "F4"]
    assert list(region.institutions.index) == ["H1", "C1", "H2"]
    p = region.partnerships
    assert sorted(zip(p["facility_id"], p["institution_id"], strict=True)) == \
        [("F2", "C1"), ("F3", "H2")]

    sk = region.skipped
    assert [(e.file, e.row, e.column) for e in sk] == [
        ("facilities.csv", 2, "lat"),
        ("institutions.csv", 5, "admit"),
        ("partnerships.csv", 2, "facility_id"),
        ("partnerships.csv", 3, "facility_id"),
        ("partnerships.csv", 6, "facility_id"),
    ]
    by_row = {(e.file, e.row): e for e in sk}
    # Cascades say that the row they referred to was skipped …
    for row in (2, 3):
        e = by_row[("partnerships.csv", row)]
        assert e.message.endswith("(that row was skipped)")
        assert e.value == "F1"
    # … a reference that never existed does not.
    assert "(that row was skipped)" not in by_row[("partnerships.csv", 6)].message


def test_lenient_cascades_through_several_levels(tmp_path):
    """A bad area drops its facilities and institutions, and their partnerships."""
    areas = edit(DEFAULT_AREAS, 1, prefecture_code="3x")  # 03202 宮古市 is bad
    region = load_region(write_region(tmp_path, areas=areas), strict=False)
    assert list(region.areas.index) == ["03201"]
    assert list(region.facilities.index) == ["F1", "F2"]
    assert list(region.institutions.index) == ["H1", "C1"]
    assert len(region.partnerships) == 3  # F3–H2 went
    skipped = {(e.file, e.row) for e in region.skipped}
    assert skipped == {
        ("areas.csv", 3),
        ("facilities.csv", 4), ("facilities.csv", 5),
        ("institutions.csv", 4), ("institutions.csv", 5),
        ("partnerships.csv", 5),
    }
    cascaded = [e for e in region.skipped if e.file != "areas.csv"]
    assert all(e.message.endswith("(that row was skipped)") for e in cascaded)


def test_lenient_keeps_first_of_duplicates(tmp_path):
    fac = append(DEFAULT_FACILITIES, facility("F1", "gh", name="二重登録"))
    region = load_region(write_region(tmp_path, facilities=fac), strict=False)
    assert region.facilities.loc["F1", "facility_type"] == "tokuyo"
    assert len(region.facilities) == 4
    assert [(e.file, e.row) for e in region.skipped] == [("facilities.csv", 6)]
    # F1's partnerships stay: the facility itself was kept.
    assert (region.partnerships["facility_id"] == "F1").sum() == 2


def test_lenient_skips_partnership_giving_admit_to_clinic(tmp_path):
    part = edit(DEFAULT_PARTNERSHIPS, 2, roles="consult;visit;admit")  # F2–C1
    region = load_region(write_region(tmp_path, partnerships=part), strict=False)
    assert "F2" not in set(region.partnerships["facility_id"])
    assert "F2" in region.facilities.index
    assert [(e.file, e.row, e.column) for e in region.skipped] == [("partnerships.csv", 4,
                                                                     "roles")]


def test_lenient_drops_institution_with_wrong_designation_and_its_partnerships(tmp_path):
    inst = edit(DEFAULT_INSTITUTIONS, H1, designations="zaishin_kyoka")
    region = load_region(write_region(tmp_path, institutions=inst), strict=False)
    assert "H1" not in region.institutions.index
    assert not (region.partnerships["institution_id"] == "H1").any()
    assert [(e.file, e.row, e.column) for e in region.skipped] == [
        ("institutions.csv", 2, "designations"),
        ("partnerships.csv", 3, "institution_id"),
    ]


# -- regressions: library bugs found while writing these tests (fixed) ---------------------------

@pytest.mark.parametrize("strict", [True, False])
def test_infinite_whole_number_is_a_row_error_not_a_crash(tmp_path, strict):
    fac = edit(DEFAULT_FACILITIES, F4, residents="inf")  # F4 has no partnerships
    folder = write_region(tmp_path, facilities=fac)
    if strict:
        errors = errors_of(folder)
        assert matching(errors, "facilities.csv", 5, "residents", "whole number")
    else:
        region = load_region(folder, strict=False)
        assert [(e.file, e.row) for e in region.skipped] == [("facilities.csv", 5)]


def test_line_numbers_count_blank_lines(tmp_path):
    folder = write_region(tmp_path, facilities=edit(DEFAULT_FACILITIES, F2, reported="maybe"))
    lines = (folder / "facilities.csv").read_text(encoding="utf-8").split("\n")
    # header, F1, <blank>, F2 …: F2 is now on line 4 of the file.
    (folder / "facilities.csv").write_text("\n".join(lines[:2] + [""] + lines[2:]),
                                           encoding="utf-8")
    errors = errors_of(folder)
    assert [(e.row, e.column) for e in errors] == [(4, "reported")]


def test_full_width_digits_are_not_a_municipality_code(tmp_path):
    areas = edit(DEFAULT_AREAS, 1, municipality_code="０３２０２")
    fac = edit(edit(DEFAULT_FACILITIES, F3, municipality_code="０３２０２"), F4,
               municipality_code="０３２０２")
    inst = edit(edit(DEFAULT_INSTITUTIONS, H2, municipality_code="０３２０２"), C2,
                municipality_code="０３２０２")
    errors = errors_of(write_region(tmp_path, areas=areas, facilities=fac, institutions=inst))
    assert matching(errors, "areas.csv", 3, "municipality_code", "must be exactly 5 digits")


def test_institution_helper_matches_default_columns():
    """Guard for regionkit itself: helper rows have exactly the default columns."""
    assert list(institution("X", "clinic")) == list(DEFAULT_INSTITUTIONS[0])
    assert list(facility("X", "gh")) == list(DEFAULT_FACILITIES[0])


def test_rows_longer_than_the_header_are_reported(tmp_path):
    folder = write_region(tmp_path)
    text = (folder / "facilities.csv").read_text(encoding="utf-8").split("\n")
    text[1] = text[1] + ",surplus"
    (folder / "facilities.csv").write_text("\n".join(text), encoding="utf-8")
    errors = errors_of(folder)
    assert [(e.file, e.row) for e in errors] == [("facilities.csv", 2)]
    assert "cells but the header has" in errors[0].message


def test_contract_document_is_up_to_date():
    from pathlib import Path

    from matching.contract.schema import markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"
    assert doc.read_text(encoding="utf-8") == markdown(), "regenerate docs/data-contract.md from schema.markdown()"


def test_error_log_counts_lists_up_to_its_limit_and_keeps_every_line():
    """Every problem counted once; the first ``limit`` per file listed, the rest in ``omitted``;
    ``add_cells`` gives each listed cell its Japanese line only when a Japanese problem is given."""
    from matching.contract.errors import ErrorLog

    log = ErrorLog(limit=2)
    assert not log and len(log) == 0
    for line in (2, 3, 4):
        log.add(RowError("a.csv", line, "x", "bad", str(line)))
    assert len(log) == 3 and bool(log) and log.count == {"a.csv": 3}
    assert [e.row for e in log.listed] == [2, 3] and log.omitted == {"a.csv": 1}
    assert log.lines["a.csv"] == {2, 3, 4}
    log.add_cells("b.csv", [5, 6, 7], "lat", "bad lat", ["p", "q", "r"], ja="緯度が違います", label="緯度")
    assert log.count["b.csv"] == 3 and log.lines["b.csv"] == {5, 6, 7} and log.omitted["b.csv"] == 1
    listed = [e for e in log.listed if e.file == "b.csv"]
    assert [(e.row, e.value) for e in listed] == [(5, "p"), (6, "q")]
    assert listed[0].ja == "b.csv 5 行目・lat 列（緯度）: 緯度が違います（値「p」）"
    log.add_cells("c.csv", [8], "lat", "bad lat", ["p"])
    assert next(e for e in log.listed if e.file == "c.csv").ja == ""
    log.add_cells("c.csv", [], "lat", "bad lat", [])
    assert log.count["c.csv"] == 1


def test_optional_availability_is_loaded_as_slot_masks(tmp_path):
    """availability.csv (time slots): one row per institution and role, slots as a bit mask in
    the order of matching.roles; an institution without a row keeps its flag (all four or none)."""
    from matching.roles import ALL_SLOTS, SLOT_BIT

    folder = write_region(tmp_path)
    (folder / "availability.csv").write_text(
        "institution_id,role,slots\nC1,visit,wd_day;hol_day\nC2,consult,wd_night\n", encoding="utf-8")
    region = load_region(folder)
    av = region.availability
    assert region.has_slots and list(av.columns[:3]) == ["institution_id", "role", "slots"]
    assert av.index.tolist() == [0, 1] and "_line" not in av.columns
    assert av["slots"].dtype == "int64"
    assert av["slots"].tolist() == [SLOT_BIT["wd_day"] | SLOT_BIT["hol_day"], SLOT_BIT["wd_night"]]
    visit = region.slots("visit")
    assert visit["C1"] == SLOT_BIT["wd_day"] | SLOT_BIT["hol_day"] and visit["H1"] == ALL_SLOTS
    assert region.slots("consult")["C2"] == SLOT_BIT["wd_night"]
    assert not load_region(write_region(tmp_path / "plain")).has_slots


def test_validation_error_in_japanese_lists_what_it_can_and_counts_the_rest():
    rows = [RowError("facilities.csv", k, "lat", "bad", "x", ja=f"facilities.csv {k} 行目") for k in range(2, 62)]
    err = RegionValidationError(rows, omitted={"facilities.csv": 7})
    assert err.total == 67
    assert err.heading_ja == "入力データに誤りがあります（67 件）"
    assert err.lines_ja(limit=None)[:60] == [f"facilities.csv {k} 行目" for k in range(2, 62)]
    assert err.lines_ja(limit=None)[60:] == ["facilities.csv: ほか 7 件（一覧に載せていません）"]
    short = err.lines_ja()
    assert short[:50] == [f"facilities.csv {k} 行目" for k in range(2, 52)]
    assert short[50:] == ["ほか 10 件", "facilities.csv: ほか 7 件（一覧に載せていません）"]
    assert err.ja == err.heading_ja + ":\n  " + "\n  ".join(short)
    # A file whose reading stopped: its listed problems, the stop line (not a problem itself) and the rest.
    stopped = RegionValidationError(rows + [RowError("facilities.csv", 0, "", "reading stopped after line 62")],
                                    omitted={"facilities.csv": 7})
    assert stopped.total == 67 and stopped.heading_ja == "入力データに誤りがあります（67 件以上）"


def test_validation_error_in_english_lists_fifty_and_counts_the_rest():
    """The English text (``str``, the log and ``--verbose``): the total, the first 50 problems one per
    line, how many more were listed, then what each file did not list."""
    rows = [RowError("facilities.csv", k, "lat", "bad", "x") for k in range(2, 62)]
    lines = str(RegionValidationError(rows, omitted={"facilities.csv": 7})).split("\n")
    assert lines[0] == "67 problem(s) in region data:"
    assert lines[1:51] == [f"  facilities.csv line {k}, column 'lat': bad (value 'x')" for k in range(2, 52)]
    assert lines[51:] == ["  ... and 10 more", "  facilities.csv: 7 more not listed (他 7 件)"]
    assert len(str(RegionValidationError(rows[:50])).split("\n")) == 51  # all 50 listed: no "and 0 more"
    assert str(RegionValidationError(rows[:51])).split("\n")[-1] == "  ... and 1 more"
    # A problem without a Japanese line (none of the loader's) is said in English in the Japanese list.
    assert RegionValidationError(rows[:1]).lines_ja() == ["facilities.csv line 2, column 'lat': bad (value 'x')"]


def test_cross_file_problems_in_both_languages(tmp_path):
    """Every rule that spans cells or files, each once, with its exact English and Japanese text:
    unknown references from every file that has them (a blank one only by its own column's rule),
    a time-slot row with no slot, designations and admission on the wrong kind of institution."""
    inst = edit(edit(edit(DEFAULT_INSTITUTIONS, C2, admit="true", designations="koho_shien"),
                     H1, designations="zaibyo;zaishin"), H2, municipality_code="03299")
    part = append(edit(DEFAULT_PARTNERSHIPS, 0, roles="consult;visit;admit"), partnership("F9", "H1", "admit"),
                  partnership("F2", "X9", "consult"), partnership("", "H1", "admit"))
    tt = append(DEFAULT_TRAVEL_TIMES, {"facility_id": "F7", "institution_id": "H1", "minutes": "3"},
                {"facility_id": "F1", "institution_id": "Q1", "minutes": "3"})
    folder = write_region(tmp_path, facilities=edit(DEFAULT_FACILITIES, F2, municipality_code="03288"),
                          institutions=inst, partnerships=part, travel_times=tt)
    (folder / "availability.csv").write_text("institution_id,role,slots\nC1,visit,wd_day\nZ1,consult,wd_night\n"
                                             "C2,consult,\n", encoding="utf-8")
    got = [(e.file, e.row, e.column, e.message, e.value, e.ja) for e in errors_of(folder)]
    unknown = "{} {} 行目・{} 列（{}）: {} にない値です（値「{}」）"
    assert got == [
        ("availability.csv", 3, "institution_id", "unknown institution_id (not in institutions.csv)", "Z1",
         unknown.format("availability.csv", 3, "institution_id", "医療機関ID", "institutions.csv", "Z1")),
        ("availability.csv", 4, "slots", "at least one time slot is required (leave the row out for none)", "",
         "availability.csv 4 行目・slots 列: 時間帯を 1 つ以上書いてください（提供しない役割は行ごと省きます）"),
        ("facilities.csv", 3, "municipality_code", "unknown municipality_code (not in areas.csv)", "03288",
         unknown.format("facilities.csv", 3, "municipality_code", "市区町村", "areas.csv", "03288")),
        ("institutions.csv", 2, "designations",
         "designation zaishin (在宅療養支援診療所) is for clinics only, but kind is hospital", "zaishin",
         "institutions.csv 2 行目・designations 列: 在宅療養支援診療所（zaishin）は診療所の届出ですが、"
         "種別（kind）が病院です（値「zaishin」）"),
        ("institutions.csv", 4, "municipality_code", "unknown municipality_code (not in areas.csv)", "03299",
         unknown.format("institutions.csv", 4, "municipality_code", "市区町村", "areas.csv", "03299")),
        ("institutions.csv", 5, "admit", "a clinic cannot offer admission (③ 入院受入れ is for hospitals only)", "true",
         "institutions.csv 5 行目・admit 列: 診療所は③入院受入れを提供できません（病院のみ）（値「true」）"),
        ("institutions.csv", 5, "designations",
         "designation koho_shien (在宅療養後方支援病院) is for hospitals only, but kind is clinic", "koho_shien",
         "institutions.csv 5 行目・designations 列: 在宅療養後方支援病院（koho_shien）は病院の届出ですが、"
         "種別（kind）が診療所です（値「koho_shien」）"),
        ("partnerships.csv", 2, "roles", "institution C1 is a clinic and cannot admit (③ is for hospitals only)",
         "admit", "partnerships.csv 2 行目・roles 列: C1 は診療所のため③入院受入れの協定にはできません（病院のみ）"
         "（値「admit」）"),
        ("partnerships.csv", 6, "facility_id", "unknown facility_id (not in facilities.csv)", "F9",
         unknown.format("partnerships.csv", 6, "facility_id", "施設ID", "facilities.csv", "F9")),
        ("partnerships.csv", 7, "institution_id", "unknown institution_id (not in institutions.csv)", "X9",
         unknown.format("partnerships.csv", 7, "institution_id", "医療機関ID", "institutions.csv", "X9")),
        ("partnerships.csv", 8, "facility_id",
         "must not be empty, at most 64 characters, without control characters (NUL …)", "",
         "partnerships.csv 8 行目・facility_id 列（施設ID）: 空欄にはできません（64 文字以内）。制御文字（NUL など）は使えません"),
        ("travel_times.csv", 4, "facility_id", "unknown facility_id (not in facilities.csv)", "F7",
         unknown.format("travel_times.csv", 4, "facility_id", "施設ID", "facilities.csv", "F7")),
        ("travel_times.csv", 5, "institution_id", "unknown institution_id (not in institutions.csv)", "Q1",
         unknown.format("travel_times.csv", 5, "institution_id", "医療機関ID", "institutions.csv", "Q1")),
    ]


def test_lenient_cascade_says_the_referred_row_was_skipped_in_both_languages(tmp_path):
    """A row dropped because the row it refers to was skipped says so, in English and Japanese;
    the time-slot and kind rules are not run again on the cleaned tables."""
    folder = write_region(tmp_path, facilities=edit(DEFAULT_FACILITIES, F2, lat="99"),
                          travel_times=append(DEFAULT_TRAVEL_TIMES,
                                              {"facility_id": "F2", "institution_id": "C1", "minutes": "4"}))
    (folder / "availability.csv").write_text("institution_id,role,slots\nC1,visit,wd_day\n", encoding="utf-8")
    region = load_region(folder, strict=False)
    cascade = [(e.file, e.row, e.column, e.message, e.value, e.ja) for e in region.skipped if e.file != "facilities.csv"]
    note = "（参照先の行は誤りのため読み飛ばしました）"
    assert cascade == [
        ("partnerships.csv", 4, "facility_id", "unknown facility_id (not in facilities.csv) (that row was skipped)", "F2",
         f"partnerships.csv 4 行目・facility_id 列（施設ID）: facilities.csv にない値です{note}（値「F2」）"),
        ("travel_times.csv", 4, "facility_id", "unknown facility_id (not in facilities.csv) (that row was skipped)",
         "F2", f"travel_times.csv 4 行目・facility_id 列（施設ID）: facilities.csv にない値です{note}（値「F2」）"),
    ]
    assert region.availability["institution_id"].tolist() == ["C1"]


@pytest.mark.parametrize(("content", "problem"), [
    ('{"clinics_loaded": "no"}', "clinics_loaded must be true or false, not 'no'"),
    ("[1]", 'region_scope.json: expected an object such as {"clinics_loaded": false}'),
    ("{bad", "region_scope.json: not JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
             "(char 1))"),
    (b"\xff\xfe{}", "region_scope.json: not JSON ('utf-8' codec can't decode byte 0xff in position 0: invalid start "
                    "byte)"),
])
def test_a_bad_scope_file_is_one_file_error_in_both_languages(tmp_path, content, problem):
    folder = write_region(tmp_path)
    scope = folder / "region_scope.json"
    scope.write_bytes(content if isinstance(content, bytes) else content.encode())
    errors = errors_of(folder)
    assert [(e.file, e.row, e.column, e.message, e.value) for e in errors] == [("region_scope.json", 0, "", problem, "")]
    assert errors[0].ja == f"region_scope.json を読めません: {problem}"


def test_the_scope_note_comes_first_among_the_notes(tmp_path):
    """A region without its clinics says so (the note first, then how files were read); a scope
    file without a note or ``clinics_loaded`` is a complete region with nothing to say."""
    from matching.contract.scope import RegionScope

    folder = write_region(tmp_path)
    (folder / "areas.csv").write_bytes((folder / "areas.csv").read_text(encoding="utf-8").encode("cp932"))
    RegionScope(clinics_loaded=False, note="診療所は未取込").write(folder)
    # Written for people to open too: indented, Japanese as itself, UTF-8, a final newline.
    assert (folder / "region_scope.json").read_bytes().decode("utf-8") == (
        '{\n  "clinics_loaded": false,\n  "note": "診療所は未取込"\n}\n')
    region = load_region(folder)
    assert region.scope == RegionScope(False, "診療所は未取込")
    assert region.notes == ["診療所は未取込", "areas.csv: CP932 (Shift_JIS) として読みました"]
    (folder / "region_scope.json").write_text('\ufeff{"note": null}', encoding="utf-8")  # BOM: Notepad's UTF-8
    region = load_region(folder)
    assert region.scope == RegionScope() and region.notes == ["areas.csv: CP932 (Shift_JIS) として読みました"]
    RegionScope().write(folder)  # a complete region: no file
    assert not (folder / "region_scope.json").exists()
    RegionScope().write(folder)  # nothing to remove: no error
    RegionScope(True, "注記のみ").write(folder)
    assert RegionScope.read(folder) == RegionScope(True, "注記のみ")
    assert RegionScope.from_dict({}) == RegionScope(True, "")


def test_optional_columns_a_file_leaves_out_are_blank_of_their_type(region):
    """Absent optional columns are added blank: text as '' (object), decimals as Float64 NA, whole
    numbers as Int64 NA — the types the same columns have when the file has them."""
    from matching.contract import schema

    for spec, table in ((schema.INSTITUTIONS, region.institutions), (schema.FACILITIES, region.facilities)):
        for col in spec.columns:
            if col.required:
                continue
            values = table[col.name]
            want = {"text": "object", "float": "Float64", "int": "Int64"}[col.type.kind]
            assert (col.name, str(values.dtype)) == (col.name, want)
            assert (values == "").all() if want == "object" else values.isna().all()
    assert region.facilities.columns.tolist()[-3:] == ["address", "location_source", "location_radius_km"]


def test_lenient_tables_are_renumbered_after_skipped_rows(tmp_path):
    """Rows left out in lenient mode leave no gaps: partnerships, travel times and availability
    are numbered 0.. again, with their values typed as in a clean load."""
    part = edit(DEFAULT_PARTNERSHIPS, 0, roles="consult;nope")
    tt = [{"facility_id": "F2", "institution_id": "C1", "minutes": "x"}, *DEFAULT_TRAVEL_TIMES]
    folder = write_region(tmp_path, partnerships=part, travel_times=tt)
    (folder / "availability.csv").write_text("institution_id,role,slots\nC1,visit,never\nC2,consult,wd_night\n",
                                             encoding="utf-8")
    region = load_region(folder, strict=False)
    assert [(e.file, e.row) for e in region.skipped] == [("availability.csv", 2), ("partnerships.csv", 2),
                                                         ("travel_times.csv", 2)]
    assert region.partnerships.index.tolist() == [0, 1, 2]
    assert region.partnerships["roles"].tolist() == [frozenset({Role.ADMIT}), frozenset({Role.CONSULT, Role.VISIT}),
                                                     frozenset({Role.ADMIT})]
    assert region.travel_times.index.tolist() == [0, 1] and region.travel_times["minutes"].tolist() == [7.5, 12.0]
    assert region.travel_times["minutes"].dtype == float
    assert region.availability.index.tolist() == [0] and region.availability["slots"].dtype == "int64"


def _listed(errors):
    return [(e.file, e.row, e.column, e.message, e.value, e.ja) for e in errors]


def test_file_problems_in_both_languages(tmp_path):
    """A missing file and column, a repeated header column and an unreadable file: exact texts,
    the reader's file name not repeated in the English detail."""
    folder = write_region(tmp_path / "a", facilities=drop_column(DEFAULT_FACILITIES, "lat"), partnerships=OMIT)
    assert _listed(errors_of(folder)) == [
        ("facilities.csv", 0, "lat", "required column is missing", "",
         "facilities.csv に必要な列 lat がありません（見出し行を確認してください）"),
        ("partnerships.csv", 0, "", "required file is missing", "",
         "必要なファイル partnerships.csv（または partnerships.xlsx）がありません"),
    ]
    folder = write_region(tmp_path / "b")
    lines = (folder / "institutions.csv").read_text(encoding="utf-8").splitlines()
    (folder / "institutions.csv").write_text("\n".join(f"{line},{line.split(',')[1]}" for line in lines) + "\n",
                                            encoding="utf-8")
    (folder / "areas.csv").write_bytes(bytes(range(256)) * 10)
    assert _listed(errors_of(folder)) == [
        ("areas.csv", 0, "", "binary data (control bytes), not a text table", "",
         "areas.csv は表のファイルではありません（バイナリデータ）"),
        ("institutions.csv", 0, "name", "column appears more than once in the header", "",
         "institutions.csv の見出しに同じ列名 name が複数あります"),
    ]


def test_row_problems_in_both_languages(tmp_path):
    """Repeated ids (one column and two) and rows longer than the header: exact texts, each on its
    line; a restored leading zero is one note per column with its count and first example."""
    fac = append(edit(edit(DEFAULT_FACILITIES, F1, municipality_code="3201"), F2, municipality_code=" 3201"),
                 facility("F1", "gh"), facility("F2", "gh"))
    part = append(DEFAULT_PARTNERSHIPS, partnership("F1", "C1", "consult"))
    folder = write_region(tmp_path, facilities=fac, partnerships=part)
    lines = (folder / "areas.csv").read_text(encoding="utf-8").splitlines()
    (folder / "areas.csv").write_text("\n".join([lines[0], lines[1] + ",x,y", lines[2]]) + "\n", encoding="utf-8")
    assert _listed(errors_of(folder)) == [
        ("areas.csv", 2, "", "row has 7 cells but the header has 5 columns", "",
         "areas.csv 2 行目: セルが 7 個あり、見出しの 5 列より多くなっています（区切りのずれ・余分なカンマ）"),
        ("facilities.csv", 6, "facility_id", "duplicate facility_id, first seen on line 2", "F1",
         "facilities.csv 6 行目・facility_id 列: facility_id が重複しています（最初は 2 行目）（値「F1」）"),
        ("facilities.csv", 7, "facility_id", "duplicate facility_id, first seen on line 3", "F2",
         "facilities.csv 7 行目・facility_id 列: facility_id が重複しています（最初は 3 行目）（値「F2」）"),
        ("partnerships.csv", 6, "facility_id/institution_id",
         "duplicate facility_id/institution_id, first seen on line 2", "F1/C1",
         "partnerships.csv 6 行目・facility_id/institution_id 列: facility_id/institution_id が重複しています"
         "（最初は 2 行目）（値「F1/C1」）"),
    ]
    region = load_region(folder, strict=False)
    assert region.notes == ["facilities.csv の municipality_code: 先頭の 0 が落ちていたので補いました"
                            "（2 件、2 行目 3201 → 03201 など）"]


def test_repeats_and_long_rows_past_the_listing_limit_are_counted_and_skipped(tmp_path):
    """Past MAX_LISTED a file's repeated ids and long rows are counted, not listed, and lenient
    mode still leaves every one of them out."""
    from matching.contract.errors import MAX_LISTED

    extra = MAX_LISTED + 5
    fac = append(DEFAULT_FACILITIES, *[facility("F1", "gh") for _ in range(extra)])
    part = DEFAULT_PARTNERSHIPS + [partnership("F2", "H1", "admit") for _ in range(extra)]
    folder = write_region(tmp_path, facilities=fac, partnerships=part)
    lines = (folder / "areas.csv").read_text(encoding="utf-8").splitlines()
    rows = [f"0{3300 + k},町{k},0301,盛岡,03,x" for k in range(extra)]
    (folder / "areas.csv").write_text("\n".join(lines + rows) + "\n", encoding="utf-8")
    with pytest.raises(RegionValidationError) as exc:
        load_region(folder)
    assert exc.value.omitted == {"areas.csv": 5, "facilities.csv": 5, "partnerships.csv": 4}
    facs = [e for e in exc.value.errors if e.file == "facilities.csv"]
    assert [e.row for e in facs] == list(range(6, 6 + MAX_LISTED))
    assert {e.message for e in facs} == {"duplicate facility_id, first seen on line 2"}
    region = load_region(folder, strict=False)
    assert region.areas.index.tolist() == ["03201", "03202"]
    assert region.facilities.index.tolist() == ["F1", "F2", "F3", "F4"]
    assert len(region.partnerships) == 5
    assert region.skipped_omitted == {"areas.csv": 5, "facilities.csv": 5, "partnerships.csv": 4}


def test_partnerships_and_travel_times_have_exactly_their_columns(tmp_path):
    """No column is added on the way (a row number, a second minutes column): the tables are
    the files' columns, numbered 0.. ."""
    region = load_region(write_region(tmp_path, travel_times=DEFAULT_TRAVEL_TIMES))
    assert region.partnerships.columns.tolist() == ["facility_id", "institution_id", "roles"]
    assert region.travel_times.columns.tolist() == ["facility_id", "institution_id", "minutes"]
    assert region.partnerships.index.tolist() == [0, 1, 2, 3] and region.travel_times.index.tolist() == [0, 1]
    assert region.source == tmp_path  # the folder it was read from (a road network is found from it)


def test_blank_ids_are_reported_as_blank_not_as_repeats(tmp_path):
    """Two facilities without an id are each a blank cell, not a repeat of one another; a real
    repeat in the same file is still one."""
    fac = append(edit(edit(DEFAULT_FACILITIES, F3, facility_id=""), F4, facility_id=""), facility("F1", "gh"))
    errors = errors_of(write_region(tmp_path, facilities=fac, partnerships=DEFAULT_PARTNERSHIPS[:3]))
    assert [(e.file, e.row, e.column, e.message.split(",")[0]) for e in errors] == [
        ("facilities.csv", 4, "facility_id", "must not be empty"),
        ("facilities.csv", 5, "facility_id", "must not be empty"),
        ("facilities.csv", 6, "facility_id", "duplicate facility_id"),
    ]


def test_record_fields_carry_the_contract_rules_to_the_api_bodies():
    """The service's request and response bodies are built from the contract's columns
    (:func:`matching.contract.models.record_fields`): the same required fields, defaults, bounds,
    patterns and codes as the CSV loader, and what each field means, in the contract's order."""
    from pydantic import ValidationError, create_model

    from matching.contract.models import record_fields
    from matching.contract.schema import AREAS, FACILITIES, INSTITUTIONS, PARTNERSHIPS

    def refused(model, **body):
        with pytest.raises(ValidationError) as exc:
            model(**body)
        return [(e["loc"][0], e["msg"]) for e in exc.value.errors()]

    fields = record_fields(FACILITIES)
    assert list(fields) == [col.name for col in FACILITIES.columns]
    Facility = create_model("Facility", **fields)
    body = dict(facility_id="F1", name="特養あおば", facility_type="tokuyo", municipality_code="03201",
                lat=39.7, lon=141.1)
    f = Facility(**body)
    # Left out: the contract's default, or blank (None) where a blank cell is allowed.
    assert (f.residents, f.reported, f.address, f.location_source, f.location_radius_km) == (None, True, "", "", None)
    assert Facility(**body | dict(residents=0, lat=20, lon=154)).residents == 0
    assert refused(Facility, **{k: v for k, v in body.items() if k != "name"}) == [("name", "Field required")]
    assert refused(Facility, **body | dict(facility_id="F 1")) == [
        ("facility_id", "String should match pattern '^[A-Za-z0-9_.\\-]+$'")]
    assert refused(Facility, **body | dict(facility_id="F" * 65)) == [
        ("facility_id", "String should have at most 64 characters")]
    assert refused(Facility, **body | dict(name="")) == [("name", "String should have at least 1 character")]
    assert refused(Facility, **body | dict(municipality_code="3201")) == [
        ("municipality_code", "String should match pattern '^[0-9]{5}$'")]
    assert refused(Facility, **body, residents=100_001) == [
        ("residents", "Input should be less than or equal to 100000")]
    assert refused(Facility, **body, residents=2.5) == [
        ("residents", "Input should be a valid integer, got a number with a fractional part")]
    assert refused(Facility, **body | dict(lat=19.9)) == [("lat", "Input should be greater than or equal to 20")]
    assert refused(Facility, **body | dict(facility_type="nope")) == [
        ("facility_type", "Value error, unknown facility type 'nope'; expected one of tokuyo, chiiki_tokuyo, roken, "
                          "iryoin, yogo, keihi, tokutei, chiiki_tokutei, gh")]
    assert refused(Facility, **body, address="x" * 201) == [("address", "String should have at most 200 characters")]
    props = Facility.model_json_schema()["properties"]
    assert props["facility_type"]["enum"] == list(FACILITIES.columns[2].type.choices)
    assert (props["name"]["title"], props["name"]["description"]) == ("施設名", "施設名 (at most 200 characters)")
    assert "minLength" not in props["address"] and props["residents"]["anyOf"][0]["minimum"] == 0

    Institution = create_model("Institution", **record_fields(INSTITUTIONS))
    inst = dict(institution_id="H1", name="病院", kind="hospital", municipality_code="03201", lat=39.7, lon=141.1)
    h = Institution(**inst)
    assert (h.designations, h.admit, h.beds, h.survey_date) == ([], None, None, "")
    assert Institution(**inst, designations=["zaibyo", "zaishin"]).designations == ["zaibyo", "zaishin"]
    assert refused(Institution, **inst, designations=["zaibyo", "nope"]) == [
        ("designations", "Value error, unknown designation(s) ['nope']; expected ['chiiki_houkatsu_ward', "
                         "'koho_shien', 'sekkyoku', 'zaibyo', 'zaibyo_kyoka', 'zaishin', 'zaishin_kyoka']")]
    assert refused(Institution, **inst | dict(kind="clinic "))[0][0] == "kind"
    designations = Institution.model_json_schema()["properties"]["designations"]
    assert designations["items"]["enum"] == list(INSTITUTIONS.columns[7].type.choices)
    assert designations["title"] == "指定・届出" and designations["description"].startswith("';'-separated designation")

    # A PATCH body: every field may be left out, the rules stay.
    Patch = create_model("Patch", **record_fields(FACILITIES, exclude=("facility_id",), optional=True))
    assert "facility_id" not in Patch.model_fields
    assert Patch().model_dump() == dict.fromkeys(Patch.model_fields)
    assert refused(Patch, lat=19.9) == [("lat", "Input should be greater than or equal to 20")]
    # A response body: the record as stored, plain types, code lists as the file's text, blank as None.
    Stored = create_model("Stored", **record_fields(INSTITUTIONS, stored=True))
    row = {c.name: None for c in INSTITUTIONS.columns if c.type.nullable}
    row |= {c.name: "" for c in INSTITUTIONS.columns if c.type.kind == "text"}
    s = Stored(**row | inst | dict(lat=10.0, kind="anything", designations="zaibyo;zaishin"))
    assert (s.lat, s.kind, s.designations, s.beds) == (10.0, "anything", "zaibyo;zaishin", None)
    assert refused(Stored, **row | inst | dict(name=None, designations="")) == [("name", "Input should be a valid string")]
    # Every stored field is in a response, blank or not.
    assert refused(Stored, **inst) == [(c.name, "Field required") for c in INSTITUTIONS.columns if c.name not in inst]
    # Picking, renaming and replacing fields.
    assert list(record_fields(INSTITUTIONS, only=("municipality_code", "institution_id"))) == [
        "institution_id", "municipality_code"]
    assert list(record_fields(AREAS, exclude=("municipality_name", "secondary_area_name"))) == [
        "municipality_code", "secondary_area_code", "prefecture_code"]
    assert list(record_fields(FACILITIES, only=("facility_id", "name"), rename={"facility_id": "id"})) == ["id", "name"]
    roles = (list[str], ...)
    assert record_fields(PARTNERSHIPS, overrides={"roles": roles})["roles"] is roles
