"""Run several scenarios on one region and compare them.

Each scenario is applied to the region (:func:`apply_scenario`), matched
(:func:`matching.match`) and checked by the independent verifier before
anything is compared — a violation raises :class:`VerificationError`.  The first
run is the reference: "facilities that change partner" are counted against it.

>>> from matching.scenarios import load_scenario
>>> runs = run_scenarios(region, [load_scenario(p) for p in ("base.toml", "closure.toml")])  # doctest: +SKIP
>>> comp = compare(runs)                                                                      # doctest: +SKIP
>>> comp.summary[["scenario", "obligated_all_met_after", "new_agreements"]]                  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matching import safecells
from matching.optimise.run import MatchResult, match
from matching.parameters import MatchParameters
from matching.region import Region
from matching.roles import INDEX_OF_CODE
from matching.scenarios.apply import apply_scenario, change_log, change_log_ja, scenario_changes
from matching.scenarios.schema import Scenario
from matching.scenarios.usage import institution_usage
from matching.status import status_table
from matching.verify import Violation, verify
from matching.vocabulary import ROLE_ORDER, Role, Status

#: Travel-time classes of the proposals (minutes; the lower bound is included).
TRAVEL_BINS = (0, 10, 20, 30, 45, 60)

#: Japanese headers of the comparison summary (reports and the CLI use them).
SUMMARY_LABELS_JA = {
    "scenario": "シナリオ",
    "label": "シナリオ名",
    "facilities": "施設数",
    "tracked": "集計対象施設数",
    "obligated_tracked": "義務施設数（集計対象）",
    "all_met_before": "全要件充足（現状）",
    "all_met_after": "全要件充足（提案後）",
    "obligated_all_met_before": "義務施設の全要件充足（現状）",
    "obligated_all_met_after": "義務施設の全要件充足（提案後）",
    "obligated_share_after": "義務施設の全要件充足率%（提案後）",
    "obligated_short_after": "義務施設の未充足（提案後）",
    "proposals": "提案件数",
    "new_agreements": "新規協定数",
    "unmatched_facilities": "未充足が残る施設数",
    "institutions_full": "受入枠が満杯の医療機関数",
    "travel_median": "移動時間中央値（分）",
    "travel_p90": "移動時間90%点（分）",
    "travel_max": "移動時間最大（分）",
    "changed_partner": "協力医療機関が変わる施設数",
    "closed_institutions": "閉院した医療機関数",
    "ended_agreements": "解消される既存協定数",
    "residents_after": "入所者数（定員）合計",
    "optimal": "最適性証明",
}


class VerificationError(RuntimeError):
    """The independent verifier rejected a run's proposals (a bug: never reported as a result)."""

    def __init__(self, name: str, violations: list[Violation]):
        self.violations = violations
        lines = "\n".join(str(v) for v in violations[:20])
        super().__init__(f"{name}: the verifier found {len(violations)} violation(s):\n{lines}")


@dataclass
class ScenarioRun:
    """One scenario applied and matched: the region and parameters it ran on, and the result."""

    scenario: Scenario
    region: Region
    params: MatchParameters
    result: MatchResult
    changes: dict[str, int]
    #: What the scenario changed, row by row (:func:`~matching.scenarios.apply.change_log`).
    log: pd.DataFrame | None = None

    @property
    def name(self) -> str:
        return self.scenario.name


@dataclass
class Comparison:
    """The comparison tables (one row per scenario and item; codes, Japanese labels on output)."""

    summary: pd.DataFrame           # one row per scenario
    coverage: pd.DataFrame          # status × facility type × area, before and after
    travel: pd.DataFrame            # proposals per travel-time class
    full_institutions: pd.DataFrame  # institutions at full capacity after the proposals
    changed_partners: pd.DataFrame  # facilities whose partners differ from the reference run


def run_scenario(region: Region, scenario: Scenario, base_params: MatchParameters | None = None,
                 check: bool = True) -> ScenarioRun:
    """Apply, match and (by default) verify one scenario."""
    new_region, params = apply_scenario(region, scenario, base_params)
    result = match(new_region, params)
    if check:
        problems = verify(new_region, result.proposals, params)
        if problems:
            raise VerificationError(scenario.name, problems)
    return ScenarioRun(scenario, new_region, params, result, scenario_changes(region, new_region),
                       change_log(region, new_region))


def run_scenarios(region: Region, scenarios: list[Scenario],
                  base_params: MatchParameters | None = None) -> list[ScenarioRun]:
    """Every scenario applied to the same region, matched and verified, in the order given."""
    names = [s.name for s in scenarios]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"scenario names must differ; repeated: {dup}")
    return [run_scenario(region, s, base_params) for s in scenarios]


def run_metrics(run: ScenarioRun, reference: ScenarioRun | None = None) -> dict:
    """The comparison figures of one run (one summary row)."""
    r = run.result
    before, after = r.status_before, r.status_after
    tracked = after["reported"].astype(bool)
    obligated = after["obligated"].astype(bool)
    all_met = Status.ALL_MET.value
    minutes = r.proposals["travel_minutes"].astype(float)
    usage = institution_usage(run.region, r)
    unmatched = r.unmatched[r.unmatched["reason_code"] != "not_tracked"]
    n_obl = int((tracked & obligated).sum())
    obl_after = int(((after["status"] == all_met) & obligated).sum())
    return {
        "scenario": run.name,
        "label": run.scenario.title,
        "facilities": int(len(after)),
        "tracked": int(tracked.sum()),
        "obligated_tracked": n_obl,
        "all_met_before": int((before["status"] == all_met).sum()),
        "all_met_after": int((after["status"] == all_met).sum()),
        "obligated_all_met_before": int(((before["status"] == all_met) & obligated).sum()),
        "obligated_all_met_after": obl_after,
        "obligated_share_after": round(100 * obl_after / n_obl, 1) if n_obl else np.nan,
        "obligated_short_after": n_obl - obl_after,
        "proposals": int(len(r.proposals)),
        "new_agreements": int((~r.proposals["extends_existing"].astype(bool)).sum()),
        "unmatched_facilities": int(unmatched["facility_id"].nunique()),
        "institutions_full": int(usage["full"].sum()),
        "travel_median": round(float(minutes.median()), 1) if len(minutes) else np.nan,
        "travel_p90": round(float(minutes.quantile(0.9)), 1) if len(minutes) else np.nan,
        "travel_max": round(float(minutes.max()), 1) if len(minutes) else np.nan,
        "changed_partner": 0 if reference is None else int(len(_changed(reference, run))),
        "closed_institutions": run.changes["closed_institutions"],
        "ended_agreements": run.changes["ended_agreements"],
        "residents_after": run.changes["residents_after"],
        "optimal": r.optimal,
    }


def compare(runs: list[ScenarioRun], by: str = "secondary_area") -> Comparison:
    """Compare runs: summary, coverage by status × type × area (``by``), travel times,
    institutions at full capacity, and facilities whose partners change against ``runs[0]``."""
    ref = runs[0]
    summary = pd.DataFrame([run_metrics(run, None if k == 0 else ref) for k, run in enumerate(runs)])

    cov = []
    for run in runs:
        for when, st in (("before", run.result.status_before), ("after", run.result.status_after)):
            t = status_table(st, run.region.areas, by=by)
            t.insert(0, "when", when)
            t.insert(0, "scenario", run.name)
            cov.append(t)
    coverage = pd.concat(cov, ignore_index=True)

    labels = travel_labels()
    travel = []
    for run in runs:
        classes = pd.cut(run.result.proposals["travel_minutes"].astype(float), list(TRAVEL_BINS) + [np.inf],
                         right=False, labels=labels)
        counts = classes.value_counts().reindex(labels, fill_value=0)
        travel += [{"scenario": run.name, "minutes": lab, "proposals": int(n)} for lab, n in counts.items()]

    full = []
    for run in runs:
        u = institution_usage(run.region, run.result)
        u = u[u["full"]].reset_index()
        u.insert(0, "scenario", run.name)
        full.append(u)
    full_institutions = pd.concat(full, ignore_index=True)

    changed = [_changed(ref, run).assign(scenario=run.name) for run in runs[1:]]
    cols = ["scenario", "facility_id", "name", "facility_type", "partners_reference", "partners_scenario"]
    changed_partners = (pd.concat(changed, ignore_index=True)[cols] if changed
                        else pd.DataFrame(columns=cols))
    return Comparison(summary, coverage, pd.DataFrame(travel), full_institutions, changed_partners)


def write_comparison(comp: Comparison, out: str | Path) -> list[Path]:
    """CSV files (UTF-8 with BOM, so Excel reads the Japanese) and a PNG chart into ``out``."""
    from matching.scenarios.plots import comparison_figure, save_png

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name in ("summary", "coverage", "travel", "full_institutions", "changed_partners"):
        path = out / f"whatif_{name}.csv"
        safecells.to_csv(getattr(comp, name), path, index=False, encoding="utf-8-sig")
        files.append(path)
    files.append(save_png(comparison_figure(comp.summary), out / "whatif_summary.png"))
    return files


def write_changes(runs: list[ScenarioRun], out: str | Path) -> Path:
    """``whatif_changes.csv``: what every scenario changed (Japanese headers, UTF-8 with BOM)."""
    frames = []
    for run in runs:
        log = change_log_ja(run.log if run.log is not None else change_log(run.region, run.region))
        log.insert(0, "シナリオ", run.scenario.title)
        frames.append(log)
    path = Path(out) / "whatif_changes.csv"
    safecells.to_csv(pd.concat(frames, ignore_index=True), path, index=False, encoding="utf-8-sig")
    return path


def write_by_area(comp: Comparison, areas: pd.DataFrame, out: str | Path) -> Path:
    """``whatif_by_area.csv``: obligated facilities with all requirements met after the proposals,
    per 二次医療圏 (rows) and scenario (columns), Japanese headers."""
    from matching.reports.tables import coverage_by_area

    labels = dict(zip(comp.summary["scenario"], comp.summary["label"], strict=True))
    path = Path(out) / "whatif_by_area.csv"
    safecells.to_csv(coverage_by_area(comp.coverage, labels, areas), path, index=False, encoding="utf-8-sig")
    return path


def travel_labels() -> list[str]:
    """Labels of the travel-time classes: ``0–10分`` … ``60分以上``."""
    b = TRAVEL_BINS
    return [f"{b[k]}–{b[k + 1]}分" for k in range(len(b) - 1)] + [f"{b[-1]}分以上"]


def partner_map(run: ScenarioRun) -> pd.Series:
    """Per facility, who would take each role if every proposal were agreed:
    a sorted tuple of (role, institution_id), agreements in force plus proposals."""
    part = run.region.partnerships
    pairs: dict[str, set[tuple[str, str]]] = {}
    for f, i, roles in zip(part["facility_id"], part["institution_id"], part["roles"], strict=True):
        pairs.setdefault(f, set()).update((r.value, i) for r in roles)
    p = run.result.proposals
    for f, i, roles in zip(p["facility_id"], p["institution_id"], p["roles"], strict=True):
        pairs.setdefault(f, set()).update((r, i) for r in str(roles).split(";") if r)
    return pd.Series({f: tuple(sorted(v, key=lambda x: (INDEX_OF_CODE[x[0]], x[1]))) for f, v in pairs.items()},
                     dtype=object).reindex(run.region.facilities.index).map(
                         lambda v: v if isinstance(v, tuple) else ())


def describe_partners(pairs: tuple, names: pd.Series) -> str:
    """``(("consult","I1"),("visit","I1"),("admit","I2"))`` → ``"名前1（①②）、名前2（③）"``."""
    by_inst: dict[str, list[Role]] = {}
    for r, i in pairs:
        by_inst.setdefault(i, []).append(Role(r))
    if not by_inst:
        return "なし"
    parts = []
    for i, roles in sorted(by_inst.items()):
        marks = "".join(r.mark for r in ROLE_ORDER if r in roles)
        parts.append(f"{names.get(i, i)}（{marks}）")
    return "、".join(parts)


def _changed(ref: ScenarioRun, run: ScenarioRun) -> pd.DataFrame:
    """Facilities (present in both runs) whose role → institution map differs."""
    a, b = partner_map(ref), partner_map(run)
    common = a.index.intersection(b.index)
    diff = [f for f in common if a[f] != b[f]]
    names = pd.concat([ref.region.institutions["name"],
                       run.region.institutions["name"]]).groupby(level=0).first()
    fac = run.region.facilities
    return pd.DataFrame({
        "facility_id": diff,
        "name": fac["name"].reindex(diff).to_numpy(),
        "facility_type": fac["facility_type"].reindex(diff).to_numpy(),
        "partners_reference": [describe_partners(a[f], names) for f in diff],
        "partners_scenario": [describe_partners(b[f], names) for f in diff],
    }, columns=["facility_id", "name", "facility_type", "partners_reference", "partners_scenario"])


def summary_ja(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with Japanese headers (for the workbook and the printed table)."""
    return summary.rename(columns=SUMMARY_LABELS_JA)
