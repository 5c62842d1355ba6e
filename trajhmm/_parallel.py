"""How many joblib workers a call starts, decided in one place.

joblib starts every worker ``n_jobs`` asks for, so ``n_jobs=100000`` (a typo, or a value
meant for a cluster) starts thousands of processes on a laptop. A positive ``n_jobs`` is
lowered to the tasks there are and, on this machine's backends (loky, multiprocessing,
threading), to the cores it may use (:func:`cores`): more processes than cores only
compete for them. On a Dask
cluster (``joblib.parallel_config("dask")``) only the task count bounds it. Negative
values (-1: all cores) and None keep joblib's meaning.
"""

import os
import signal
import threading
import warnings
from contextlib import contextmanager

from joblib import Parallel, delayed, effective_n_jobs

__all__ = ["bounded_jobs", "cores", "launch", "one_blas_thread", "runs_in_process"]

_LOCAL_BACKENDS = ("LokyBackend", "MultiprocessingBackend", "ThreadingBackend", "SequentialBackend")
_RESTARTS = "A worker stopped while some jobs were given to the executor"
_LOKY_MODULE = "joblib.externals.loky.process_executor"


def quiet_worker_restarts():
    """Hide loky's "A worker stopped while some jobs were given to the executor ... memory
    leak" warning: a worker whose memory grew by 300 MB (fits of many dims) exits cleanly
    between tasks and loky starts another; no task is lost, and the warning, raised in loky's
    own thread (so no ``catch_warnings`` of the caller's thread can scope it), read as a leak
    of the user's and pointed at joblib's code. Installed by :func:`launch` (not on import),
    matching loky's module only; not added again while it is the filter that applies."""
    if not _restarts_hidden():
        warnings.filterwarnings("ignore", message=_RESTARTS, category=UserWarning, module=r"joblib\.externals\.loky")


def _restarts_hidden():
    """Whether the first of the warning filters that applies to loky's warning ignores it."""
    for action, message, category, module, lineno in warnings.filters:
        if ((message is None or message.match(_RESTARTS)) and issubclass(UserWarning, category)
                and (module is None or module.match(_LOKY_MODULE)) and not lineno):
            return action == "ignore"
    return False


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


def runs_in_process(n_jobs, n_tasks=None):
    """True when joblib will run the tasks here, sequentially (callbacks can follow them);
    with ``n_tasks``, also when there is one task and the backend is this machine's (one
    task gains nothing from a worker: n_jobs=-1 sent every single prediction to one)."""
    from joblib import effective_n_jobs

    if n_tasks is not None and n_tasks <= 1 and _backend_name() in _LOCAL_BACKENDS:
        return True
    return effective_n_jobs(n_jobs) == 1 and _backend_name() in ("LokyBackend", "SequentialBackend")


# This process's BLAS limit (one_blas_thread): the threadpoolctl controller, made at first
# use (after numpy and scipy load BLAS), the limiter while a block holds it, and how many
# blocks (of any thread) hold it.
_BLAS = {"controller": None, "limiter": None, "depth": 0}
_BLAS_LOCK = threading.Lock()


def _after_fork():
    """In a child process: no block of the parent's threads holds the limit there, and the
    lock may have been held at the fork (no thread of the child would release it)."""
    global _BLAS_LOCK
    _BLAS_LOCK = threading.Lock()
    _BLAS.update(limiter=None, depth=0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _controller():
    if _BLAS["controller"] is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS["controller"] = ThreadpoolController()
        except ImportError:  # (scikit-learn requires it; never reached with a sound install)
            _BLAS["controller"] = False
    return _BLAS["controller"]


@contextmanager
def one_blas_thread():
    """Run the block with BLAS on one thread. Every fit runs so, in this process (n_jobs=1)
    as in a worker (where loky gives BLAS cores // n_jobs threads), and so does every
    scoring task sent to a worker: a BLAS sum split over threads adds in another order, so
    the background model and the thresholds differed in the 15th digit between n_jobs=1
    and 2. The tasks are parallel already; BLAS threads only compete with them (as
    scikit-learn's KMeans, which limits them alike). threadpoolctl is a dependency of
    scikit-learn.

    The limit is process-wide (BLAS has one thread count): the first block to enter sets
    it and the last to leave, in whatever thread, restores what was there before, so
    blocks that overlap in several threads (fits run by a threading backend) never leave
    BLAS on one thread after them."""
    with _BLAS_LOCK:
        if _BLAS["depth"] == 0 and _controller():
            _BLAS["limiter"] = _BLAS["controller"].limit(limits=1, user_api="blas")
        _BLAS["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS["depth"] -= 1
            if _BLAS["depth"] == 0 and _BLAS["limiter"] is not None:
                _BLAS["limiter"].restore_original_limits()
                _BLAS["limiter"] = None


def _noop():
    return None


def launch(n_jobs, tasks, unordered=False):
    """The results of ``tasks`` (joblib's ``delayed`` calls) run by ``joblib.Parallel(n_jobs)``,
    as a generator (in any order with ``unordered``: each result then says which task it is
    from); under a backend that cannot return a generator (joblib's "multiprocessing"), a
    generator over the list it returns. Its loky
    workers started beforehand with SIGINT ignored, so that they inherit it ignored: a
    terminal's Ctrl-C goes to the whole process group, and a worker still importing numpy
    printed a KeyboardInterrupt traceback beside the one line of this process (which stops
    its workers itself). Only the start of the processes runs so (milliseconds: a Ctrl-C
    then is lost); they are waited for, and the tasks sent, with Ctrl-C as usual. Blocking
    SIGINT instead would lose nothing, but multiprocessing's resource tracker unblocks it
    before each worker starts (Python 3.11). Workers already running are reused as they are,
    and joblib reuses these for later calls too (an application's own ``Parallel`` calls
    then run in workers that ignore SIGINT; this process still stops them on Ctrl-C)."""
    quiet_worker_restarts()
    if (threading.current_thread() is threading.main_thread() and _backend_name() == "LokyBackend"
            and signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, None) and effective_n_jobs(n_jobs) > 1):
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            started = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_noop)() for _ in range(effective_n_jobs(n_jobs)))
        finally:
            signal.signal(signal.SIGINT, handler)
        for _ in started:  # (the workers' start-up, interruptible)
            pass
    try:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered" if unordered else "generator")
    except ValueError as exc:  # the backend returns lists only
        if "does not support return_as" not in str(exc):
            raise
        return _listed(Parallel(n_jobs=n_jobs), tasks)
    return parallel(tasks)


def _listed(parallel, tasks):
    """A generator over ``parallel(tasks)`` (a list): closed like joblib's generators."""
    yield from parallel(tasks)
