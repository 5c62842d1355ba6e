"""How many joblib workers a call starts, decided in one place.

joblib starts every worker ``n_jobs`` asks for, so ``n_jobs=100000`` (a typo, or a value
meant for a cluster) starts thousands of processes on a laptop. A positive ``n_jobs`` is
lowered to the tasks there are and, on this machine's backends (loky, multiprocessing,
threading), to the cores it may use (:func:`cores`): more processes than cores only
compete for them. On a Dask
cluster (``joblib.parallel_config("dask")``) only the task count bounds it. Negative
values (-1: all cores) and None keep joblib's meaning.
"""

__all__ = ["bounded_jobs", "cores", "runs_in_process"]

_LOCAL_BACKENDS = ("LokyBackend", "MultiprocessingBackend", "ThreadingBackend", "SequentialBackend")


def cores():
    """The cores this process may use: ``joblib.cpu_count()``, which respects CPU limits
    (cgroups, affinity) where ``os.cpu_count()`` reports the whole machine."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))


def _backend_name():
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return type(backend).__name__


def bounded_jobs(n_jobs, n_tasks=None):
    """``n_jobs`` for a joblib call of ``n_tasks`` tasks (None: not known in advance)."""
    if n_jobs is None or n_jobs < 0:
        return n_jobs
    if n_tasks is not None:
        n_jobs = min(n_jobs, max(1, n_tasks))
    if _backend_name() in _LOCAL_BACKENDS:
        n_jobs = min(n_jobs, cores())
    return n_jobs


def runs_in_process(n_jobs):
    """True when joblib will run the tasks here, sequentially (callbacks can follow them)."""
    from joblib import effective_n_jobs

    return effective_n_jobs(n_jobs) == 1 and _backend_name() in ("LokyBackend", "SequentialBackend")
