"""The ``matching`` command on the demo region and on bad input."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from matching.cli import app
from tests.conftest import ROOT

runner = CliRunner()
DEMO = str(ROOT / "data" / "demo")


def test_status_writes_tables(tmp_path):
    res = runner.invoke(app, ["status", DEMO, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "特養" in res.output and "集計していない" in res.output
    muni = pd.read_csv(tmp_path / "status_by_municipality.csv", dtype=str)
    assert "全ての要件を満たした協力医療機関を定めている" in muni.columns
    assert muni["市区町村名"].nunique() == 33
    facilities = pd.read_csv(tmp_path / "status_facilities.csv")
    assert len(facilities) == len(pd.read_csv(ROOT / "data" / "demo" / "facilities.csv"))


def test_match_writes_proposals_summary_and_verifies(tmp_path):
    res = runner.invoke(app, ["match", DEMO, "--out", str(tmp_path), "--profile"])
    assert res.exit_code == 0, res.output
    assert "verifier: all constraints hold" in res.output
    # --profile: the whole process by phase, the run's inner steps beside it (issue 17).
    for phase in ("読込・検証", "マッチング", "書出し", "検証（verify）", "└ solve", "合計"):
        assert phase in res.output, phase
    proposals = pd.read_csv(tmp_path / "proposals.csv")
    assert list(proposals.columns[:5]) == ["facility_id", "institution_id", "roles", "distance_km", "travel_minutes"]
    unmatched = pd.read_csv(tmp_path / "unmatched.csv")
    assert {"facility_id", "missing_roles", "reason_code", "reason"} <= set(unmatched.columns)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["optimal"] is True
    assert summary["gap"]["obligated_full"] == 0
    assert summary["proposals"] == len(proposals)
    after = summary["status_after"]["tokuyo"]["all_met"]
    before = summary["status_before"]["tokuyo"]["all_met"]
    assert after > before


def test_match_at_scale_keeps_the_proven_coverage(tmp_path):
    """Cut lists (the demo has time slots: the K nearest per slot set) prove coverage for the full
    lists when they are long enough, and otherwise say so with a bound that holds for them."""
    exact = runner.invoke(app, ["match", DEMO, "--out", str(tmp_path / "exact"), "--no-verify"])
    assert exact.exit_code == 0, exact.output
    e = json.loads((tmp_path / "exact" / "summary.json").read_text(encoding="utf-8"))
    coverage = ("obligated_full", "effort_full", "roles_covered")
    for nearest in ("3", "16"):
        fast = runner.invoke(app, ["match", DEMO, "--out", str(tmp_path / nearest), "--nearest", nearest,
                                   "--workers", "2"])
        assert fast.exit_code == 0, fast.output
        assert "verifier: all constraints hold" in fast.output
        f = json.loads((tmp_path / nearest / "summary.json").read_text(encoding="utf-8"))
        assert f["proof"]["candidate_lists"] == f"nearest {nearest}"
        for goal in coverage:  # an honest bound for the full candidate lists
            assert f["objective"][goal] <= e["objective"][goal] <= f["bound"][goal], goal
        if f["proof"]["coverage_proven"]:
            assert all(f["objective"][g] == e["objective"][g] for g in coverage)
        else:
            assert any("カバー（目標1〜3）が最適と証明されていません" in w for w in f["warnings"])
    assert f["proof"]["coverage_proven"]  # 16 nearest (a quarter per part-time slot set) are enough here


def test_match_rejects_a_nearest_below_one(tmp_path):
    for option in ("--nearest", "--workers"):
        res = runner.invoke(app, ["match", DEMO, "--out", str(tmp_path), option, "0"])
        assert res.exit_code == 2, res.output
        assert f"オプション {option} の値 0 は使えません" in res.stderr and "1 以上" in res.stderr
        assert "Traceback" not in res.output and not (tmp_path / "proposals.csv").exists()


def test_match_rejects_a_prefecture_code_that_is_not_two_digits(tmp_path):
    res = runner.invoke(app, ["match", DEMO, "--out", str(tmp_path), "--prefecture", "3"])
    assert res.exit_code == 2 and "オプション --prefecture" in res.stderr and "01〜47 の 2 桁" in res.stderr
    assert not (tmp_path / "proposals.csv").exists()


def test_overrides_are_validated(capsys):
    """A command-line override goes through the parameters' validation (model_copy would skip it)."""
    import pytest
    import typer

    from matching.cli._common import override as _override
    from matching.parameters import MatchParameters

    params = MatchParameters(stage_time_limit=5)
    ok = _override(params, "--include-unreported/--reported-only", include_unreported=True)
    assert ok.include_unreported is True and ok.stage_time_limit == 5 and ok.limits == params.limits
    with pytest.raises(typer.Exit) as stop:
        _override(params, "--include-unreported/--reported-only", include_unreported="perhaps")
    assert stop.value.exit_code == 2
    err = capsys.readouterr().err
    assert "オプション --include-unreported/--reported-only の値 'perhaps' は使えません" in err
    with pytest.raises(typer.Exit):
        _override(params, "--stage-time-limit", stage_time_limit=-1)
    assert "--stage-time-limit" in capsys.readouterr().err


def test_verify_prints_violation_codes_literally(tmp_path):
    """Codes such as [wrong_distance] are shown as text, not swallowed as Rich style tags."""
    from matching.contract import load_region
    from matching.verify import verify

    bad = pd.DataFrame({"facility_id": ["F0001", "F0002"], "institution_id": ["I0001", "I0002"],
                        "roles": ["consult", "admit"], "distance_km": [0.0, 0.0], "travel_minutes": [0.0, 0.0]})
    bad.to_csv(tmp_path / "proposals.csv", index=False)
    problems = verify(load_region(DEMO), tmp_path / "proposals.csv")
    assert {p.code for p in problems} >= {"wrong_distance", "wrong_minutes"}
    res = runner.invoke(app, ["verify", DEMO, str(tmp_path / "proposals.csv")])
    assert res.exit_code == 1
    for p in problems:  # in Japanese, with the code to look up
        assert p.text_ja() in res.output and p.message_ja in res.output, p.text_ja()


def test_match_prints_verifier_violations_literally(tmp_path, monkeypatch):
    import sys

    from matching.verify import Violation

    found = [Violation("beyond_limit", "F0001", "I0001", "visit: 40.0 min exceeds the 30 min limit",
                       "②診療（往診・常時）: 移動時間 40.0 分が上限 30 分を超えています"),
             Violation("over_capacity", "*", "I0002", "capacity_facilities 1 but 2 proposed")]
    monkeypatch.setattr(sys.modules["matching.verify"], "verify", lambda *a, **k: found)
    res = runner.invoke(app, ["match", DEMO, "--out", str(tmp_path)])
    assert res.exit_code == 1
    assert "検証 [beyond_limit] F0001–I0001: ②診療（往診・常時）: 移動時間 40.0 分が上限 30 分を超えています" in res.output
    # A finding without a Japanese text is still shown, in English.
    assert "検証 [over_capacity] *–I0002: capacity_facilities 1 but 2 proposed" in res.output


def test_verify_with_a_bad_config_stops_without_traceback(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("stage_time_limit = -1\n", encoding="utf-8")
    res = runner.invoke(app, ["verify", DEMO, str(tmp_path / "none.csv"), "--config", str(cfg)])
    assert res.exit_code == 2 and "bad.toml" in res.output and "stage_time_limit" in res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit | None)


def test_match_with_config(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[limits.visit]\nkm = 8\n[[forbidden]]\nfacility_id = "F0001"\ninstitution_id = "I0001"\n',
                   encoding="utf-8")
    res = runner.invoke(app, ["match", DEMO, "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["parameters"]["limits"]["visit"] == {"minutes": 30.0, "km": 8.0}


def test_bad_config_names_the_key(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[limits.visit]\nkm = -3\n[limits.teleport]\nminutes = 5\n", encoding="utf-8")
    res = runner.invoke(app, ["match", DEMO, "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert res.exit_code == 2
    assert "bad.toml" in res.output and "teleport" in res.output


def test_shift_jis_config_is_refused_in_japanese(tmp_path):
    cfg = tmp_path / "sjis.toml"
    cfg.write_bytes('# 実行パラメータ\nstage_time_limit = 5\n'.encode("shift_jis"))
    res = runner.invoke(app, ["match", DEMO, "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert res.exit_code == 2, res.output
    assert "sjis.toml" in res.output and "UTF-8 で保存し直してください" in res.output
    assert "Traceback" not in res.output


def test_bad_region_exits_with_row_errors(tmp_path):
    for name in ("areas", "facilities", "institutions", "partnerships"):
        (tmp_path / f"{name}.csv").write_text((ROOT / "data" / "demo" / f"{name}.csv").read_text(encoding="utf-8"),
                                               encoding="utf-8")
    fac = (tmp_path / "facilities.csv").read_text(encoding="utf-8").splitlines()
    fac[2] = fac[2].replace(",tokuyo,", ",nursing_home,")
    (tmp_path / "facilities.csv").write_text("\n".join(fac) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["status", str(tmp_path)])
    assert res.exit_code == 2
    assert "facilities.csv 3 行目・facility_type 列（施設種別）" in res.output and "nursing_home" in res.output
    lenient = runner.invoke(app, ["status", str(tmp_path), "--lenient"])
    assert lenient.exit_code == 0
    assert "skipped" in lenient.output and "facilities.csv line 3" in lenient.output
