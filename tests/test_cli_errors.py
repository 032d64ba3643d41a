"""Bad input never shows a traceback (issue 14): every command over a corpus of bad files.

Each case asserts the exit status (2 bad input, 1 internal error), a Japanese line on stderr,
no traceback anywhere, and that nothing was written to ``--out``.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matching.cli import app
from tests.regionkit import DEFAULT_FACILITIES, write_region

runner = CliRunner()
HEADER = ",".join(DEFAULT_FACILITIES[0])


def _region(tmp_path: Path) -> Path:
    return write_region(tmp_path / "region")


# facilities.csv replaced by … (the text of the message expected on stderr)
def _dup_header(f: Path) -> None:
    lines = f.read_text(encoding="utf-8").splitlines()
    f.write_text("\n".join(line + "," + line.split(",")[1] for line in lines) + "\n", encoding="utf-8")


def _junk(n_bytes: int, header: str | None = None):
    def write(f: Path) -> None:
        rnd = random.Random(14)
        words = ["あいう", "xyz", "123", "\"", ",,", "テスト", "=cmd", "\t"]
        with f.open("w", encoding="utf-8") as fh:
            if header:
                fh.write(header + "\n")
            size = 0
            while size < n_bytes:
                line = "".join(rnd.choice(words) for _ in range(12)) + "\n"
                fh.write(line.replace('"', "'"))
                size += len(line.encode())
    return write


def _mixed_encoding(f: Path) -> None:
    # Past the part looked at to identify the encoding (1 MiB): found while streaming.
    rows = "".join(f"X{k},施設,tokuyo,03201,39.7,141.1,,true\n" for k in range(30_000))
    f.write_bytes((HEADER + "\n" + rows).encode("utf-8") + "F9,施設,tokuyo,03201,39.7,141.1,,true\n".encode("cp932"))


FACILITIES_CASES = {
    "duplicated-header-column": (_dup_header, "見出しに同じ列名 name が複数あります"),
    "unknown-columns-only": (lambda f: f.write_text("foo,bar\n1,2\n", encoding="utf-8"),
                             "facilities.csv に必要な列 facility_id がありません"),
    "empty-file": (lambda f: f.write_bytes(b""), "空のファイル"),
    "header-only": (lambda f: f.write_text(HEADER + "\n", encoding="utf-8"), "facility_id"),
    "binary": (lambda f: f.write_bytes(bytes(range(256)) * 64), "バイナリ"),
    "junk-text": (_junk(2_000_000), "必要な列"),
    "junk-rows-under-a-valid-header": (_junk(2_000_000, HEADER), "件（一覧に載せていません）"),
    "utf8-then-cp932": (_mixed_encoding, "30002 行目が UTF-8 として読めません"),
    "xls-format": (lambda f: f.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 600), ".xls"),
}

REGION_COMMANDS = {
    "status": ["status", "{region}", "--out", "{out}"],
    "match": ["match", "{region}", "--out", "{out}"],
    "verify": ["verify", "{region}", "{proposals}"],
    "whatif": ["whatif", "{region}", "--sweep", "limits.visit.km=10,20", "--out", "{out}"],
    "critical": ["critical", "{region}", "--out", "{out}"],
    "report": ["report", "{region}", "--out", "{out}"],
}


def _run(args: list[str], **paths: Path):
    res = runner.invoke(app, [a.format(**{k: str(v) for k, v in paths.items()}) for a in args])
    return res


def _assert_clean_failure(res, code: int, fragment: str, out: Path | None = None) -> None:
    assert res.exit_code == code, (res.exit_code, res.output)
    assert "Traceback" not in res.output and "Traceback" not in res.stderr
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert fragment in res.stderr, res.stderr
    assert "エラー" in res.stderr
    assert res.stdout.strip() == "" or "エラー" not in res.stdout  # errors go to stderr
    if out is not None:
        assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


@pytest.mark.parametrize("case", list(FACILITIES_CASES))
@pytest.mark.parametrize("command", list(REGION_COMMANDS))
def test_bad_region_file_to_every_command(tmp_path, case, command):
    region = _region(tmp_path)
    make, fragment = FACILITIES_CASES[case]
    make(region / "facilities.csv")
    out = tmp_path / "out"
    proposals = tmp_path / "proposals.csv"
    proposals.write_text("facility_id,institution_id,roles,distance_km,travel_minutes\n", encoding="utf-8")
    res = _run(REGION_COMMANDS[command], region=region, out=out, proposals=proposals)
    _assert_clean_failure(res, 2, fragment, out)


@pytest.mark.parametrize("command", [c for c in REGION_COMMANDS if "{out}" in REGION_COMMANDS[c]])
def test_out_pointing_at_a_file_is_refused_before_any_work(tmp_path, command):
    region = _region(tmp_path)
    out = tmp_path / "taken"
    out.write_text("mine", encoding="utf-8")
    res = _run(REGION_COMMANDS[command], region=region, out=out)
    _assert_clean_failure(res, 2, "フォルダを指定してください")
    assert out.read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("command", list(REGION_COMMANDS))
def test_missing_region_folder_and_region_that_is_a_file(tmp_path, command):
    proposals = tmp_path / "p.csv"
    proposals.write_text("x\n", encoding="utf-8")
    for region, fragment in ((tmp_path / "nowhere", "地域フォルダが見つかりません"),
                             (proposals, "地域フォルダではなくファイルです")):
        res = _run(REGION_COMMANDS[command], region=region, out=tmp_path / "out", proposals=proposals)
        _assert_clean_failure(res, 2, fragment, tmp_path / "out")


VERIFY_CASES = {
    "missing-file": (None, "見つかりません"),
    "wrong-file": ("facilities", "提案ファイル（proposals.csv）ではありません"),
    "empty-file": (b"", "空のファイル"),
    "binary": (bytes(range(256)) * 8, "バイナリ"),
    "a-folder": ("folder", "フォルダです"),
    "duplicated-header": (b"facility_id,facility_id,roles\n", "同じ列名"),
}


@pytest.mark.parametrize("case", list(VERIFY_CASES))
def test_verify_with_a_bad_proposals_file(tmp_path, case):
    region = _region(tmp_path)
    content, fragment = VERIFY_CASES[case]
    target = tmp_path / "proposals.csv"
    if content == "facilities":
        shutil.copy(region / "facilities.csv", target)
    elif content == "folder":
        target.mkdir()
    elif content is not None:
        target.write_bytes(content)
    res = runner.invoke(app, ["verify", str(region), str(target)])
    _assert_clean_failure(res, 2, fragment)


def test_verify_reads_a_cp932_proposals_file(tmp_path):
    region = _region(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(app, ["match", str(region), "--out", str(out)]).exit_code == 0
    text = (out / "proposals.csv").read_text(encoding="utf-8-sig")
    (tmp_path / "sjis.csv").write_bytes(text.encode("cp932"))
    res = runner.invoke(app, ["verify", str(region), str(tmp_path / "sjis.csv")])
    assert res.exit_code == 0, res.output
    assert "CP932" in res.stderr


def test_import_region_with_a_missing_folder(tmp_path):
    out = tmp_path / "imported"
    res = runner.invoke(app, ["import", "region", "19", "--kaigo", str(tmp_path / "no-kaigo"),
                              "--shisetsu-kijun", str(tmp_path / "no-kijun"), "--out", str(out)])
    _assert_clean_failure(res, 2, "見つかりません", out)
    assert not out.exists()


def test_internal_error_is_one_line_and_exit_1(tmp_path, monkeypatch):
    import matching.status

    def boom(*a, **k):
        raise RuntimeError("something broke")

    monkeypatch.setattr(matching.status, "status_table", boom)
    monkeypatch.setattr("matching.cli.run.status_table", boom)
    region = _region(tmp_path)
    res = runner.invoke(app, ["status", str(region)])
    _assert_clean_failure(res, 1, "内部エラー")
    assert "something broke" not in res.stderr
    res = runner.invoke(app, ["status", str(region), "--verbose"])
    assert res.exit_code == 1 and "RuntimeError: something broke" in res.stderr


def test_failing_verifier_writes_its_report_and_nothing_else(tmp_path, monkeypatch):
    import sys

    from matching.verify import Violation

    monkeypatch.setattr(sys.modules["matching.verify"], "verify",
                        lambda *a, **k: [Violation("test", "F1", "H1", "made to fail")])
    region = _region(tmp_path)
    out = tmp_path / "out"
    res = runner.invoke(app, ["match", str(region), "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert sorted(p.name for p in out.iterdir()) == ["violations.csv"]
    report = pd.read_csv(out / "violations.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert report.to_dict("records") == [{"code": "test", "facility_id": "F1", "facility_name": "テスト施設F1",
                                          "institution_id": "H1", "institution_name": "テスト医療機関H1", "message_ja": "",
                                          "message": "made to fail"}]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]  # no leftovers
    # A later passing run publishes its files and removes the stale report.
    monkeypatch.undo()
    res = runner.invoke(app, ["match", str(region), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert {"proposals.csv", "unmatched.csv", "proposals.xlsx"} <= {p.name for p in out.iterdir()}
    assert not (out / "violations.csv").exists()


@pytest.mark.parametrize(("content", "fragment"), [
    ("facilities", "協力医療機関の列"),  # a region file given as the report
    (b"", "空のファイル"),
    (bytes(range(256)) * 8, "バイナリ"),
    (None, "見つかりません"),
])
def test_import_reports_with_a_wrong_file_changes_nothing(tmp_path, content, fragment):
    region = _region(tmp_path)
    before = {p.name: p.read_bytes() for p in region.iterdir()}
    report = tmp_path / "reports.csv"
    if content == "facilities":
        shutil.copy(region / "facilities.csv", report)
    elif content is not None:
        report.write_bytes(content)
    res = runner.invoke(app, ["import", "reports", str(report), "--region", str(region)])
    _assert_clean_failure(res, 2, fragment)
    assert {p.name: p.read_bytes() for p in region.iterdir()} == before


@pytest.mark.parametrize(("content", "fragment"), [
    ("facilities", "回答の列"),  # a region file given as the survey
    (b"a,b\n1,2\n", "医療機関の列"),
    ("医療機関番号,受入可能施設数,電話番号\nH1,たくさん,\nC1,2,12345\n".encode("cp932"),
     "survey.csv 2 行目「受入可能施設数」"),
    (b"", "空のファイル"),
    (bytes(range(256)) * 8, "バイナリ"),
    (None, "見つかりません"),
])
def test_import_survey_with_a_wrong_file_or_bad_values_changes_nothing(tmp_path, content, fragment):
    region = _region(tmp_path)
    before = {p.name: p.read_bytes() for p in region.iterdir()}
    survey = tmp_path / "survey.csv"
    if content == "facilities":
        shutil.copy(region / "facilities.csv", survey)
    elif content is not None:
        survey.write_bytes(content)
    res = runner.invoke(app, ["import", "survey", str(survey), "--region", str(region)])
    _assert_clean_failure(res, 2, fragment)
    assert {p.name: p.read_bytes() for p in region.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # no staging folder left


def test_template_survey_refuses_another_suffix(tmp_path):
    region = _region(tmp_path)
    res = runner.invoke(app, ["template", "survey", "--region", str(region), "--out", str(tmp_path / "form.csv")])
    _assert_clean_failure(res, 2, ".xlsx")


def test_template_reports_refuses_a_folder_or_another_suffix(tmp_path):
    region = _region(tmp_path)
    res = runner.invoke(app, ["template", "reports", "--region", str(region), "--out", str(tmp_path / "form.csv")])
    _assert_clean_failure(res, 2, ".xlsx")


def test_the_workbook_points_to_the_csv_when_alternatives_are_many(tmp_path, monkeypatch):
    """National runs have ~180,000 alternatives: proposals.xlsx keeps its proposals and gaps and
    points to alternatives.csv instead of copying them (the CSV is complete)."""
    from openpyxl import load_workbook

    import matching.outputs

    region = _region(tmp_path)
    for limit, copied in ((10**6, True), (0, False)):
        monkeypatch.setattr(matching.outputs, "WORKBOOK_MAX_ALTERNATIVES", limit)
        out = tmp_path / f"out{limit}"
        res = runner.invoke(app, ["match", str(region), "--out", str(out)])
        assert res.exit_code == 0, res.output
        wb = load_workbook(out / "proposals.xlsx", read_only=True)
        alternatives = (out / "alternatives.csv").read_text(encoding="utf-8-sig").splitlines()
        assert len(alternatives) > 1  # the region has alternatives to copy or not
        rows = list(wb["代替候補"].iter_rows(values_only=True))
        proposals = list(wb["提案"].iter_rows(values_only=True))
        assert len(proposals) == len((out / "proposals.csv").read_text(encoding="utf-8-sig").splitlines())
        if copied:
            assert len(rows) == len(alternatives)
        else:
            assert len(rows) == 2 and "alternatives.csv" in rows[1][0] and f"{len(alternatives) - 1:,}" in rows[1][0]
        wb.close()
