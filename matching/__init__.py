"""協力医療機関マッチング — match elderly-care facilities with cooperating medical institutions.

The data flows one way, each step a function you can call alone::

    region = load_region("data/demo")            # load and validate (the data contract)
    status = facility_status(region)              # required / covered / missing roles
    result = match(region, MatchParameters())     # candidates → model → proposals → explanations
    problems = verify(region, result.proposals, result.params)
"""

from matching.contract import RegionValidationError, RowError, load_region
from matching.optimise.model import CooperationModel
from matching.optimise.run import MatchResult, match, summary
from matching.parameters import MatchParameters, ParameterError, RoleLimit
from matching.region import Region
from matching.status import facility_status, status_table
from matching.verify import Violation, verify
from matching.vocabulary import DESIGNATIONS, FACILITY_TYPES, Role, Status, Strength

__all__ = [
    "DESIGNATIONS", "FACILITY_TYPES", "CooperationModel", "MatchParameters", "MatchResult",
    "ParameterError", "Region", "RegionValidationError", "Role", "RoleLimit", "RowError", "Status",
    "Strength", "Violation", "facility_status", "load_region", "match", "status_table", "summary",
    "verify",
]
