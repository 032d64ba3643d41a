"""Independent runs (Monte-Carlo draws, sweep values) on several processes or a cluster.

The engine is **Dask distributed**: pure Python and pip-installable, so the same code runs on a
laptop (a local cluster of processes), on a prefecture's server and on a cluster started with
``dask scheduler`` / ``dask worker`` (or dask-jobqueue on a batch system), and tasks are plain
functions of picklable arguments.  Ray would also do, but it brings its own object store and
daemons for work that is a list of independent solves of a few seconds each; Dask's
``Client.map`` is all this needs.

Results never depend on where a task ran: every task gets its inputs (and its random seed)
from the caller, and the results come back in the order of the items.

>>> run_all(abs, [-2, 3, -1])
[2, 3, 1]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def can_fork() -> bool:
    """Whether this process may fork workers of its own (a run's components, criticality's
    institutions): the platform forks, and this process is not a daemon.  A Dask worker is one, and
    daemons may not have children — there the task runs in one process, the cluster being the
    parallelism (a large region's run inside a sweep on Dask failed without this check)."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def run_all(task: Callable[..., Any], items: Sequence[Any], *, workers: int = 1, cluster: str | None = None,
            **shared: Any) -> list[Any]:
    """``[task(item, **shared) for item in items]``, on ``workers`` local processes or on the Dask
    cluster whose scheduler is at ``cluster`` (``tcp://host:8786``).  ``shared`` arguments (a
    region, the parameters) are sent to each worker once."""
    if cluster is None and workers <= 1:
        return [task(item, **shared) for item in items]
    from distributed import Client, LocalCluster

    local = None
    if cluster is None:
        local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(local)
    else:
        client = Client(cluster)
    try:
        sent = {k: client.scatter(v, broadcast=True) for k, v in shared.items()}
        futures = client.map(task, list(items), pure=False, **sent)  # futures in kwargs are resolved
        return client.gather(futures)
    finally:
        client.close()
        if local is not None:
            local.close()
