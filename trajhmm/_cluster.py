"""Running joblib's tasks on a Dask cluster (optional extra ``trajhmm[dask]``).

:func:`dask_backend` connects to a scheduler, refuses workers that run another trajhmm
version (they would unpickle the tasks with other code), and makes joblib's Dask backend
the active one inside the ``with`` block. Dask is imported only when an address is given.
"""

import logging
from contextlib import contextmanager

from ._version import __version__
from .exceptions import DataError

__all__ = ["dask_backend"]

logger = logging.getLogger(__name__)

# How long the client keeps trying to reach the scheduler before giving up.
_CONNECT_TIMEOUT = "10s"


@contextmanager
def dask_backend(address, *, name="scheduler", version=__version__, timeout=None):
    """Run joblib's tasks on the Dask cluster at ``address`` (nothing when it is None).

    ``name`` is how the address is called in error messages (the CLI: ``--scheduler``);
    ``version`` is the trajhmm version every worker must run. Raises DataError (one
    line) when Dask is not installed, the scheduler cannot be reached or the workers'
    version differs.
    """
    if not address:
        yield
        return
    try:
        from distributed import Client
        from joblib import parallel_config
    except ImportError:
        raise DataError(f"{name} needs the optional Dask support: pip install 'trajhmm[dask]'") from None
    try:
        client = Client(address, timeout=timeout or _CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise DataError(f"{name} {address}: cannot connect: {' '.join(str(exc).split())}") from None
    except MemoryError:  # distributed read another service's bytes as a message length
        raise DataError(f"{name} {address}: cannot connect: what answers there is not a Dask scheduler "
                        "(check the address and port)") from None
    # distributed logs every connection it loses with a traceback; the one-line error below
    # says it (they are shown when the trajhmm logger is at DEBUG)
    quiet = not logger.isEnabledFor(logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("distributed", "distributed.client")] if quiet else []
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        theirs = set(client.run(_trajhmm_version).values())
        if theirs - {version}:
            raise DataError(f"{name} {address}: the workers run trajhmm {', '.join(sorted(theirs))}, "
                            f"this client {version}: install the same version on both sides")
        logger.info("running tasks on the Dask cluster at %s", address)
        with parallel_config(backend="dask"):
            yield
    except BaseException as exc:
        gone = getattr(client, "status", "running") not in ("running", "newly-created")
        if _lost_cluster(exc) or (gone and not isinstance(exc, (KeyboardInterrupt, SystemExit, DataError))):
            raise DataError(f"{name} {address}: lost the Dask cluster ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split()) or 'no message'}); nothing was written; rerun the same "
                            "command to resume from the finished fits") from None
        raise
    finally:
        client.close()
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _lost_cluster(exc):
    """True for the errors a scheduler or worker that went away gives (connection closed,
    futures cancelled, workers killed, timeouts), not for errors of the work itself. (Any
    error once the client is no longer running counts too: joblib's Dask backend then
    fails with whatever the closed client gives, e.g. an AttributeError.)"""
    import asyncio
    import concurrent.futures

    if isinstance(exc, (KeyboardInterrupt, SystemExit, DataError, BrokenPipeError)):
        return False  # (a closed stdout, `trajhmm predict ... | head`, is not the cluster)
    cancelled = (asyncio.CancelledError, concurrent.futures.CancelledError, TimeoutError, ConnectionError)
    return isinstance(exc, cancelled) or type(exc).__module__.split(".")[0] == "distributed"


def _trajhmm_version():
    """Runs on each Dask worker: the trajhmm version it imports (or 'none')."""
    try:
        from trajhmm import __version__ as version
    except ImportError:
        return "none"
    return version
