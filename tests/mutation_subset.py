"""pytest plugin for `make mutate` (loaded through [tool.mutmut] in pyproject.toml).

mutmut runs each mutant against the tests that called the mutated function; many of them are
slow end-to-end runs, and tests that reach the function through a module-scoped fixture are
missed. This runs, for a mutant of each rule module, that module's targeted test files instead
(its own tests first), so the whole mutation run fits on a 2-core machine. The stats run that
maps tests to functions is left alone; the clean run is narrowed when MUTATE_MODULE names the
module being mutated.
"""

from __future__ import annotations

import os

PROPERTIES = "tests/test_properties.py"
SUBSETS = {
    # The slot tests hold the verifier's time-slot checks (slots missing, redundant and too many partners).
    "matching.verify": ("tests/test_verify.py", "tests/test_travel.py", "tests/test_slots.py"),
    "matching.status": ("tests/test_status.py",),
    "matching.candidates": ("tests/test_candidates.py", "tests/test_candidate_limits.py", "tests/test_model.py",
                            PROPERTIES),
    "matching.optimise.model": ("tests/test_model_constraints.py", "tests/test_model.py", PROPERTIES),
    "matching.optimise.reduce": ("tests/test_reduce.py", "tests/test_model_constraints.py", "tests/test_national.py"),
    "matching.contract": ("tests/test_contract_columns.py", "tests/test_contract.py", "tests/test_tables.py"),
    "matching.vocabulary": ("tests/test_vocabulary.py", "tests/test_status.py", "tests/test_contract.py"),
}
#: A module's quick direct tests that run before even the tests mutmut's stats tied to the function:
#: the model's stats tie its constraint building to whole matches (seconds each), while the
#: formulation's own brute-force comparison decides a mutant in well under a second; the candidate
#: lists' row-by-row comparisons (tests/test_candidates.py) likewise, before the solver runs.
LEADS = {"matching.optimise.model": "tests/test_model_constraints.py",
         "matching.candidates": "tests/test_candidates.py"}


def _module() -> str | None:
    name = os.environ.get("MUTANT_UNDER_TEST", "")
    if "__mutmut_" not in name:
        if name != "":  # stats, forced failure: every test
            return None
        name = os.environ.get("MUTATE_MODULE", "") + "."
    return next((m for m in SUBSETS if name.startswith(m + ".")), None)


def pytest_configure(config):
    """Run the module's whole subset, not only the tests mutmut's stats tied to the function:
    the stats miss tests whose module-scoped fixtures called it while setting up another test."""
    module = _module()
    if module is not None:
        # mutmut's own choice (the tests its stats saw calling the mutated function) runs first:
        # they usually kill the mutant at once; the rest of the subset then catches what they miss.
        config._mutmut_first = [a for a in config.args if "::" in a]
        config.args[:] = list(SUBSETS[module])


def pytest_collection_modifyitems(config, items):
    module = _module()
    if module is None:
        return
    files = SUBSETS[module]
    keep = [item for item in items if item.nodeid.split("::")[0] in files]
    dropped = [item for item in items if item.nodeid.split("::")[0] not in files]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # The module's lead tests (if any), then the tests that call the function, then the module's
    # own tests: a mutant is usually killed there, in a fraction of a second.
    first = set(getattr(config, "_mutmut_first", ()))
    lead = LEADS.get(module)

    def key(item):
        file = item.nodeid.split("::")[0]
        return file != lead, item.nodeid not in first, files.index(file)

    items[:] = sorted(keep, key=key)
