"""Run chosen mutants one at a time, each in a forked child (docs/mutation.md).

`make mutate` is mutmut's own run: a stats run over the whole suite, a clean run, then every mutant.
On a 2-core machine that is hours before the first mutant of a module is tried. This runner uses
mutmut (3.8) only to write the mutants (``mutants/``, the same names ``mutmut run`` gives) and then
runs a chosen list of them against chosen test files:

* the test files are imported once, in the parent; each mutant is a ``fork()`` of it that sets
  ``MUTANT_UNDER_TEST`` and runs ``pytest.main(files, -x)``, stopping at the first failure;
* pytest's plugins are not autoloaded (schemathesis' and hypothesis' took ~6 s a run) and
  assertions are not rewritten (``--assert=plain``): a test fails or passes the same way; the
  project's warning filters apply as in ``make test`` (a warning from ``matching`` is an error);
* a child that outlives ``--timeout`` is killed and counted as killed (as mutmut counts a timeout).

Each result is one line of ``--log`` (tab-separated: mutant, outcome, seconds), appended as it comes,
so a stopped run is resumed by running the same command again (mutants already in the log are skipped).

    .venv/bin/python tools/mutation_runner.py generate
    .venv/bin/python tools/mutation_runner.py list matching.verify --function verify --from 524
    .venv/bin/python tools/mutation_runner.py run --log out/verify.tsv --timeout 150 \\
        --tests tests/test_verify.py tests/test_slots.py -- NAME [NAME ...]   # or names on stdin

``--deselect NODEID`` (repeatable; pytest's option, passed on) leaves a slow test out of every run,
e.g. ``--deselect tests/test_travel.py::test_spatial_index_finds_exactly_the_pairs_within_radius``.

Outcomes: ``killed`` (a test failed), ``timeout`` (killed), ``survived`` (every test passed),
``error:N`` (pytest's exit code N: collection or usage error — look before counting it).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"


def generate() -> None:
    """Write ``mutants/`` as ``mutmut run`` does before its stats run (nothing is run)."""
    os.chdir(ROOT)
    from mutmut import __main__ as mm  # noqa: PLC0415 - a development tool, imported on use
    from mutmut.mutation.trampoline import set_mutant_under_test  # noqa: PLC0415

    set_mutant_under_test("mutant_generation")
    MUTANTS.mkdir(exist_ok=True)
    mm.copy_src_dir()
    mm.copy_also_copy_files()
    mm.setup_source_paths()
    stats = mm.create_mutants(1)
    print(f"{stats.mutated} files mutated, {stats.unmodified} unmodified", file=sys.stderr)


def names(module: str, function: str | None = None, first: int = 1, last: int | None = None) -> list[str]:
    """The mutants of ``module`` (e.g. ``matching.verify``), optionally of one function
    (``verify``, or ``Class.method``) and a range of numbers, in mutmut's order."""
    path = MUTANTS / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = MUTANTS / module.replace(".", "/") / "__init__.py"
    found = []
    for mangled, number in re.findall(r"^\s*def (x\S+?)__mutmut_(\d+)\(", path.read_text(), re.M):
        plain = mangled[2:] if mangled.startswith("x_") else mangled[1:].replace("ǁ", ".").strip(".")
        if function is not None and plain != function:
            continue
        if int(number) < first or (last is not None and int(number) > last):
            continue
        found.append(f"{module}.{mangled}__mutmut_{number}")
    return found


def _done(log: Path) -> set[str]:
    if not log.exists():
        return set()
    return {line.split("\t", 1)[0] for line in log.read_text().splitlines() if line}


def run(mutants: list[str], tests: list[str], log: Path, timeout: float, deselect: list[str] = ()) -> None:
    os.chdir(MUTANTS)
    sys.path.insert(0, str(MUTANTS))
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ["MUTANT_UNDER_TEST"] = ""
    import pytest  # noqa: PLC0415

    # Collect once in the parent: the children find the test modules imported already.
    dropped = [a for node in deselect for a in ("--deselect", node)]
    pytest.main([*tests, *dropped, "--collect-only", "-q", "-p", "no:cacheprovider", "--assert=plain"])
    args = [*tests, *dropped, "-x", "-q", "-p", "no:cacheprovider", "--assert=plain", "--no-header"]
    done = _done(log)
    # The unmutated code must pass, or every mutant would count as killed.
    if (clean := _child(pytest, args, "", timeout)) != "survived":
        sys.exit(f"the tests fail without a mutant ({clean}): fix that first")
    with log.open("a") as out:
        for name in mutants:
            if name in done:
                continue
            start = time.monotonic()
            outcome = _child(pytest, args, name, timeout)
            out.write(f"{name}\t{outcome}\t{time.monotonic() - start:.1f}\n")
            out.flush()
            print(name, outcome, file=sys.stderr)


def _child(pytest, args: list[str], mutant: str, timeout: float) -> str:
    pid = os.fork()
    if pid == 0:
        os.environ["MUTANT_UNDER_TEST"] = mutant
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os._exit(pytest.main(args))
    return _wait(pid, timeout)


def _wait(pid: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            code = os.waitstatus_to_exitcode(status)
            return {0: "survived", 1: "killed"}.get(code, f"error:{code}")
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("generate", help="write mutants/ (mutmut's generation only)")
    listing = sub.add_parser("list", help="print a module's mutant names")
    listing.add_argument("module")
    listing.add_argument("--function")
    listing.add_argument("--from", dest="first", type=int, default=1)
    listing.add_argument("--to", dest="last", type=int)
    running = sub.add_parser("run", help="run mutants (names as arguments or one per line on stdin)")
    running.add_argument("--tests", nargs="+", required=True)
    running.add_argument("--log", type=Path, required=True)
    running.add_argument("--timeout", type=float, default=150.0)
    running.add_argument("--deselect", action="append", default=[], metavar="NODEID",
                         help="leave this test out (pytest's --deselect; repeatable)")
    running.add_argument("mutants", nargs="*")
    a = parser.parse_args()
    if a.command == "generate":
        generate()
    elif a.command == "list":
        for name in names(a.module, a.function, a.first, a.last):
            print(name)
    else:
        mutants = a.mutants or [line.strip() for line in sys.stdin if line.strip()]
        run(mutants, a.tests, a.log.resolve(), a.timeout, a.deselect)


if __name__ == "__main__":
    main()
