"""What-if runs for regional meetings (地域医療構想調整会議): scenarios layered on a region.

A file per idea: ``schema`` (the scenario file), ``apply`` (scenario → region and
parameters), ``compare`` (run several and compare), ``sweep`` (one parameter over
a range), ``criticality`` (which institutions matter), ``capacity`` (the smallest
capacity increases that complete the obligated facilities), ``plots``.
"""

from matching.scenarios.apply import apply_scenario, scenario_changes, scenario_parameters
from matching.scenarios.schema import Scenario, ScenarioError, load_scenario

__all__ = ["Scenario", "ScenarioError", "apply_scenario", "load_scenario", "scenario_changes",
           "scenario_parameters"]
