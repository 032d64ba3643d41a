"""What a test needs from the machine (a browser, a PostgreSQL server): skipped locally with
the reason shown, a failure in CI.

``.ci/run`` exports ``MATCHING_REQUIRE_ALL=1``: there a missing browser or database fails the
run instead of silently shrinking it.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_ALL = os.environ.get("MATCHING_REQUIRE_ALL") == "1"


def missing(reason: str, *, module: bool = False) -> None:
    """Skip (locally) or fail (MATCHING_REQUIRE_ALL=1) because ``reason``."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (MATCHING_REQUIRE_ALL=1: every test must run)", pytrace=False)
    pytest.skip(reason, allow_module_level=module)
