"""Several region folders put together (matching.combine): a prefecture's run across the border."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from matching import MatchParameters, match, verify
from matching.cli import app
from matching.combine import combine
from matching.contract import load_region
from tests.matchkit import AREAS, _write, fac, inst, pairs

AKITA = {"municipality_code": "05201", "municipality_name": "秋田市", "secondary_area_code": "0501",
         "secondary_area_name": "秋田周辺", "prefecture_code": "05"}


def _folder(path, areas, facilities, institutions):
    path.mkdir(parents=True)
    _write(path / "areas.csv", areas, list(AREAS[0]))
    _write(path / "facilities.csv", facilities, list(fac("x", "gh", 0, 0)))
    _write(path / "institutions.csv", institutions, list(inst("x", "clinic", 0, 0)))
    _write(path / "partnerships.csv", [], ["facility_id", "institution_id", "roles"])
    return path


def test_two_prefectures_combined_and_matched_across_the_border(tmp_path):
    iwate = _folder(tmp_path / "03", [a for a in AREAS if a["municipality_code"] == "03201"],
                    [fac("F1", "tokuyo", 0, 0)], [])
    akita = _folder(tmp_path / "05", [AKITA], [fac("F2", "tokuyo", 3, 0, municipality="05201")],
                    [inst("Z", "hospital", 2, 0, "zaibyo", municipality="05201")])
    res = CliRunner().invoke(app, ["combine", str(iwate), str(akita), "--out", str(tmp_path / "both")])
    assert res.exit_code == 0, res.output
    region = load_region(tmp_path / "both")
    assert sorted(region.facilities.index) == ["F1", "F2"] and list(region.institutions.index) == ["Z"]
    params = MatchParameters(prefectures=["03"])
    result = match(region, params)
    assert pairs(result) == {("F1", "Z", "consult;visit;admit")} and verify(region, result.proposals, params) == []


def test_combining_refuses_a_duplicate_id_and_writes_nothing(tmp_path):
    a = _folder(tmp_path / "a", [a for a in AREAS if a["municipality_code"] == "03201"], [fac("F1", "gh", 0, 0)], [])
    b = _folder(tmp_path / "b", [AKITA], [fac("F1", "gh", 0, 0, municipality="05201")], [])
    with pytest.raises(ValueError, match="F1"):
        combine([a, b], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    res = CliRunner().invoke(app, ["combine", str(a), str(b), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "結合できません" in res.stderr and "Traceback" not in res.output
