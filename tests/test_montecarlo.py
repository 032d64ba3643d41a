"""Monte-Carlo acceptance (issue 17, part 4): seeded draws on Dask distributed, results independent
of the number of workers, probabilities by institution and designation, the call list."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from matching.cli import app as cli
from matching.scenarios.montecarlo import acceptance_analysis, acceptance_probabilities
from tests.matchkit import fac, inst, make_region


@pytest.fixture
def region(tmp_path):
    # Two facilities lacking everything; each has one near hospital and one far clinic pair.
    facilities = [fac("F1", "tokuyo", 0, 0), fac("F2", "tokuyo", 10, 0), fac("F3", "gh", 5, 5)]
    institutions = [inst("H1", "hospital", 1, 0, "zaibyo"), inst("H2", "hospital", 11, 0, "zaibyo"),
                    inst("C1", "clinic", 5, 4, "zaishin"), inst("C2", "clinic", 6, 6, "zaishin")]
    return make_region(tmp_path / "region", facilities, institutions)


def test_probability_one_keeps_the_plan_and_zero_keeps_todays_status(region):
    sure = acceptance_analysis(region, draws=3, default=1.0)
    assert sure.summary["all_met"]["mean"] == sure.summary["base_all_met"] == 3
    assert sure.facilities["probability_all_met"].eq(1.0).all()
    none = acceptance_analysis(region, draws=3, default=0.0)
    assert none.summary["all_met"]["mean"] == 0
    assert none.draws["declined"].eq(4).all()


def test_probabilities_by_institution_then_designation_then_default(region):
    p = acceptance_probabilities(region.institutions, 0.5, {"zaibyo": 0.9, "H2": 0.2})
    assert p.to_dict() == {"H1": 0.9, "H2": 0.2, "C1": 0.5, "C2": 0.5}
    with pytest.raises(ValueError, match="0 以上 1 以下"):
        acceptance_probabilities(region.institutions, 0.5, {"H1": 1.5})


def test_the_same_answer_on_one_or_two_workers_and_with_the_same_seed(region):
    one = acceptance_analysis(region, draws=6, default=0.5, seed=7)
    again = acceptance_analysis(region, draws=6, default=0.5, seed=7)
    two = acceptance_analysis(region, draws=6, default=0.5, seed=7, workers=2)  # a local Dask cluster
    pd.testing.assert_frame_equal(one.draws, again.draws)
    pd.testing.assert_frame_equal(one.draws, two.draws)
    pd.testing.assert_frame_equal(one.facilities, two.facilities)
    assert one.summary == two.summary
    # with p = 0.5 the draws differ from each other, and the interval encloses the mean
    assert one.draws["all_met"].nunique() > 1
    lo, hi = one.summary["all_met"]["ci95"]
    assert lo <= one.summary["all_met"]["mean"] <= hi
    # per facility: the share of draws in which it ends all met
    shares = one.facilities["probability_all_met"]
    assert shares.between(0, 1).all() and ((shares * 6) - (shares * 6).round()).abs().lt(1e-3).all()


def test_cli_writes_the_call_list_and_refuses_bad_input(region, tmp_path):
    out = tmp_path / "mc"
    probs = tmp_path / "p.csv"
    probs.write_text("key,probability\nzaibyo,0.9\nC2,0.1\n", encoding="cp932")
    res = CliRunner().invoke(cli, ["montecarlo", str(region.source), "--out", str(out), "--draws", "4",
                                   "--probabilities", str(probs)])
    assert res.exit_code == 0, res.output
    assert "先に連絡すべき施設" in res.output and "95%信頼区間" in res.output
    table = pd.read_csv(out / "montecarlo_facilities.csv", encoding="utf-8-sig")
    assert list(table.columns)[:2] == ["施設ID", "施設名"] and len(table) == 3
    assert (out / "montecarlo_draws.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    bad = CliRunner().invoke(cli, ["montecarlo", str(region.source), "--out", str(tmp_path / "x"),
                                   "--probability", "1.5"])
    assert bad.exit_code == 2 and "0 以上 1 以下" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "x").exists()
