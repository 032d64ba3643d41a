"""Sweep one run parameter over a range: a table (and a chart) of what each value gives.

The parameter is named by its path in the run parameters (the keys of
``run.toml``), e.g. ``limits.visit.km`` or ``travel.speed_kmh``.  Every run is
verified.  Note that limits combine: ② needs both ``limits.visit.km`` *and*
``limits.visit.minutes``, so raising one past what the other allows changes
nothing (with the defaults, 30 minutes at 40 km/h × 1.3 circuity ≈ 15.4 km).

>>> parse_sweep("limits.visit.km=10:30:5")
('limits.visit.km', [10, 15, 20, 25, 30])
>>> table = sweep(region, "limits.visit.km", [10, 15, 20])            # doctest: +SKIP
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pandas as pd
from pydantic import ValidationError

from matching.parameters import MatchParameters, ParameterError
from matching.region import Region
from matching.scenarios.compare import run_metrics, run_scenario
from matching.scenarios.schema import Scenario
from matching.tomlfile import validation_lines

SWEEP_COLUMNS = ["parameter", "value", "all_met_after", "obligated_all_met_after", "obligated_share_after",
                 "obligated_short_after", "proposals", "new_agreements", "unmatched_facilities",
                 "institutions_full", "travel_median", "travel_max", "optimal"]

#: Short Japanese headers for printing a sweep table in a terminal.
SWEEP_SHORT_JA = {
    "all_met_after": "全要件充足", "obligated_all_met_after": "うち義務施設", "obligated_share_after": "義務充足率%",
    "obligated_short_after": "義務未充足", "proposals": "提案", "new_agreements": "新規協定",
    "unmatched_facilities": "未充足施設", "institutions_full": "満杯の機関", "travel_median": "移動中央値（分）",
    "travel_max": "移動最大（分）", "optimal": "最適",
}


def binding_note(params: MatchParameters, path: str) -> str | None:
    """A warning when a swept km limit is capped by the same role's minutes limit.

    >>> binding_note(MatchParameters(), "limits.visit.km")
    '注：②診療（往診・常時）は移動時間30分以内も条件のため、直線約15.4kmを超える上限は結果を変えません（速度40km/h・迂回係数1.3）'
    """
    parts = path.split(".")
    if len(parts) != 3 or parts[0] != "limits" or parts[2] != "km" or params.travel.road_network is not None:
        return None
    from matching.vocabulary import Role

    lim = params.limits[Role(parts[1])]
    km = lim.minutes / 60 * params.travel.speed_kmh / params.travel.circuity
    return (f"注：{Role(parts[1]).label_ja}は移動時間{lim.minutes:g}分以内も条件のため、直線約{km:.1f}kmを超える"
            f"上限は結果を変えません（速度{params.travel.speed_kmh:g}km/h・迂回係数{params.travel.circuity:g}）")


def parse_sweep(spec: str) -> tuple[str, list[float | int]]:
    """``PATH=START:STOP:STEP`` (STOP included) or ``PATH=V1,V2,...`` → (path, values).

    >>> parse_sweep("travel.speed_kmh=30,40")
    ('travel.speed_kmh', [30, 40])
    """
    path, sep, rng = spec.partition("=")
    path = path.strip()
    if not sep or not path or not rng.strip():
        raise ParameterError(f"sweep {spec!r}: expected PATH=START:STOP:STEP or PATH=V1,V2,...")
    try:
        if ":" in rng:
            parts = [Decimal(x) for x in rng.split(":")]
            if len(parts) != 3:
                raise ParameterError(f"sweep {spec!r}: expected START:STOP:STEP")
            start, stop, step = parts
            if step <= 0 or stop < start:
                raise ParameterError(f"sweep {spec!r}: need STEP > 0 and STOP ≥ START")
            values, v = [], start
            while v <= stop:  # Decimal: no floating-point drift, STOP included exactly
                values.append(v)
                v += step
        else:
            values = [Decimal(x) for x in rng.split(",") if x.strip()]
    except InvalidOperation:
        raise ParameterError(f"sweep {spec!r}: values must be numbers") from None
    if not values:
        raise ParameterError(f"sweep {spec!r}: no values")
    return path, [int(v) if v == v.to_integral_value() else float(v) for v in values]


def set_parameter(params: MatchParameters, path: str, value) -> MatchParameters:
    """A copy of ``params`` with one value changed; errors name the path.

    >>> set_parameter(MatchParameters(), "limits.visit.km", 20).limits["visit"].km
    20.0
    """
    data = params.model_dump(mode="json")
    node = data
    keys = path.split(".")
    for depth, k in enumerate(keys):
        if not isinstance(node, dict) or k not in node:
            here = ".".join(keys[:depth]) or "(top level)"
            valid = sorted(node) if isinstance(node, dict) else []
            raise ParameterError(f"sweep: unknown parameter {path!r}: no key {k!r} under {here}; "
                                 f"expected one of {valid}")
        if depth == len(keys) - 1:
            node[k] = value
        else:
            node = node[k]
    try:
        return MatchParameters.model_validate(data)
    except ValidationError as exc:
        raise ParameterError(validation_lines(f"sweep {path}={value}", exc)) from None


def sweep(region: Region, path: str, values: list, scenario: Scenario | None = None,
          base_params: MatchParameters | None = None, *, workers: int = 1,
          cluster: str | None = None) -> pd.DataFrame:
    """One verified run per value (on ``scenario`` if given); one row per value.

    The runs are independent: with ``workers`` > 1 they go to local processes, with ``cluster`` to
    a running Dask scheduler (:mod:`matching.distribute`); the table is the same either way."""
    from matching.distribute import run_all

    scenario = scenario or Scenario.from_mapping({}, source="base")
    from matching.scenarios.apply import scenario_parameters

    params = scenario_parameters(scenario, base_params)
    rows = run_all(_sweep_row, list(values), workers=workers, cluster=cluster, region=region,
                   scenario=scenario.model_copy(update={"parameters": {}}), params=params, path=path)
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def _sweep_row(value, region: Region, scenario: Scenario, params: MatchParameters, path: str) -> dict:
    """The sweep's row for one value (a task of :func:`sweep`: top level, so it can be sent to a worker)."""
    run = run_scenario(region, scenario, set_parameter(params, path, value))
    m = run_metrics(run)
    return {"parameter": path, "value": value, **{k: m[k] for k in SWEEP_COLUMNS[2:]}}
