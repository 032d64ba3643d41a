"""The data contract: a region is a folder of validated CSV files."""

from matching.contract.errors import RegionValidationError, RowError
from matching.contract.load import load_region
from matching.contract.schema import FILES

__all__ = ["FILES", "RegionValidationError", "RowError", "load_region"]
