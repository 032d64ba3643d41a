"""Every docstring example in ``matching/`` runs, as ``pytest --doctest-modules matching`` would.

One test per module, run from the repository root (examples read ``data/demo``)
with two names every example may use: ``region`` (the demo region) and ``result``
(its default run).  Examples that need real open data, write files or take minutes
carry ``# doctest: +SKIP`` — only in the modules listed in ``SKIPS``, so a new
skipped example is a decision, not an accident.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import io
import pkgutil

import pytest

import matching
from tests.conftest import ROOT

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(matching.__path__, "matching."))

#: Modules allowed to skip examples, and why.
SKIPS = {
    "matching.contract.load": "kept by the data-contract work (issue 18 item 1)",
    "matching.scenarios.schema": "kept by the data-contract work (issue 18 item 1)",
    "matching.scenarios.compare": "runs several scenarios (slow)",
    "matching.scenarios.criticality": "one run per institution (minutes)",
    "matching.scenarios.sweep": "one run per value (slow)",
    "matching.scenarios.plots": "writes a PNG file",
    "matching.importers.hospitals": "needs the real open data",
    "matching.importers.region": "needs the real open data",
    "matching.importers.shisetsu_kijun": "needs the real open data",
    "matching.reports": "writes files",
    "matching.reports.workbook": "writes a file",
    "matching.reports.html": "writes a file",
}


@functools.cache
def _demo() -> dict:
    from matching.contract import load_region
    from matching.optimise.run import match

    region = load_region(ROOT / "data" / "demo")
    return {"region": region, "result": match(region)}


def test_every_module_is_collected():
    assert {"matching.roles", "matching.optimise.closed_form", "matching.vocabulary"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module, name) if t.examples]
    if not tests:
        pytest.skip("no examples")
    skipped = [f"{t.name} line {(t.lineno or 0) + e.lineno + 1}" for t in tests for e in t.examples
               if e.options.get(doctest.SKIP)]
    if name not in SKIPS:
        assert not skipped, f"skipped examples outside SKIPS: {skipped}"
    monkeypatch.chdir(ROOT)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    needs_demo = any(("region" in e.source or "result" in e.source) for t in tests for e in t.examples)
    extra = _demo() if needs_demo else {}
    for t in tests:
        t.globs.update({k: v for k, v in extra.items() if k not in t.globs})
        runner.run(t, out=out.write)
    assert runner.failures == 0, out.getvalue()
