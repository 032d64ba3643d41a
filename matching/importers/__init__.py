"""Importers of the official open data into the data contract (see docs/importers.md).

One module per published format (``kaigo``, ``hospitals``, ``shisetsu_kijun``), with
``normalise`` and ``join`` shared by them, and ``region.build_region`` putting a
prefecture's region folder together.
"""

from matching.importers.region import build_region
from matching.importers.report import ImportInputError, ImportReport, ImportValidationError, Issue

__all__ = ["ImportInputError", "ImportReport", "ImportValidationError", "Issue", "build_region"]
