"""matching.distribute: independent runs on local processes or a Dask cluster.

A Dask worker process is a daemon and may not fork; a run inside one (a sweep of a large region,
where the solver would split components over two processes) must then solve in one process
instead of failing — the 47-region benchmark failed this way.
"""

from __future__ import annotations

import multiprocessing

import numpy as np

from matching.distribute import can_fork, run_all
from matching.optimise.model import PARALLEL_MIN_ROWS


def _fork_state(_item) -> tuple[bool, bool]:
    return multiprocessing.current_process().daemon, can_fork()


def _components_in_a_worker(n: int) -> list[int]:
    """The model's component map asked for 2 processes, as a large region's run asks."""
    from matching.optimise import model

    class Solver:
        def _solve_component(self, rows):
            return int(rows.sum())

    comps = [np.arange(k, k + PARALLEL_MIN_ROWS) for k in range(n)]
    return model._map_components(Solver(), comps, workers=2)


def test_run_all_keeps_order_in_process_and_on_a_local_cluster():
    assert run_all(abs, [-3, 2, -1]) == [3, 2, 1]
    assert run_all(abs, [-3, 2, -1], workers=2) == [3, 2, 1]


def test_a_dask_worker_does_not_fork_and_its_runs_still_finish():
    assert can_fork() == ("fork" in multiprocessing.get_all_start_methods())  # this process may
    states = run_all(_fork_state, [0, 1], workers=2)
    assert states == [(True, False), (True, False)]  # each worker is a daemon: no forking there
    expected = [int(np.sum(np.arange(k, k + PARALLEL_MIN_ROWS))) for k in range(3)]
    assert run_all(_components_in_a_worker, [3], workers=2) == [expected]
    assert _components_in_a_worker(3) == expected  # here, forked: the same answer
