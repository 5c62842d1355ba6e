"""MATLAB files are parsed in a guarded child process.

``scipy.io.loadmat`` parses v4/v5 files in compiled (Cython) code that is not hardened
against hostile input: a corrupted element tag can make it read through a wild pointer and
kill the process with SIGSEGV (scipy 1.17; see tests/data/crash_scipy_loadmat.mat). So the
parsing happens in one long-lived helper process (a plain ``python -c`` subprocess, not
multiprocessing, so that daemonic Dask/joblib workers may start it too), reused for every
file: the cost is one interpreter start per process, then a pipe round trip per file. A
helper that dies is reported as a :class:`DataError` naming the file and replaced by a new
one for the next file.

The helper answers with numpy's ``.npy`` format (read back with ``allow_pickle=False``),
never with pickles: a helper corrupted by a hostile file cannot make this process run code.
It ignores SIGINT (Ctrl-C is handled here, in the parent) and exits when its stdin closes,
so it never outlives this process.
"""

import atexit
import io
import json
import os
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np

from ._validation import user_stacklevel
from .exceptions import DataError

# The helper's code: only numpy and scipy, never trajhmm (its sys.path is the parent's).
# Protocol: one JSON line per request {"path": ...}; answer: one JSON line
# {"status": "ok", "names": [...], "sizes": [...], "others": [[name, kind, shape], ...],
# "warnings": [...]} followed by one .npy array of the given size in bytes per name (the
# numeric arrays; "others" describes the variables that are not, for messages),
# or {"status": "v73" | "error", "message": ...}.
_CHILD_SOURCE = r"""
import io, json, signal, sys, warnings
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.path[:] = json.loads(sys.argv[1])
import numpy as np
from scipy.io import loadmat
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    path = json.loads(line)["path"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            contents = loadmat(path)
        except NotImplementedError as exc:
            answer, arrays = {"status": "v73", "message": str(exc)}, []
        except Exception as exc:
            answer, arrays = {"status": "error", "message": str(exc) or type(exc).__name__}, []
        else:
            arrays = [(k, v) for k, v in contents.items()
                      if not k.startswith("__") and isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.number)]
            numeric = {k for k, _ in arrays}
            others = [[k, "cell array" if v.dtype == object else "struct" if v.dtype.names else
                       "char array" if v.dtype.kind in "US" else f"{v.dtype.name} array",
                       list(v.shape)] if isinstance(v, np.ndarray) else
                      [k, "sparse matrix" if hasattr(v, "toarray") else type(v).__name__, list(getattr(v, "shape", ()))]
                      for k, v in contents.items() if not k.startswith("__") and k not in numeric]
            answer = {"status": "ok", "names": [k for k, _ in arrays], "others": others}
    blobs = []
    for _, value in arrays:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
        blobs.append(buf.getvalue())
    answer["sizes"] = [len(b) for b in blobs]
    answer["warnings"] = [str(w.message) for w in caught]
    out.write(json.dumps(answer).encode() + b"\n")
    for b in blobs:
        out.write(b)
    out.flush()
"""


class _Helper:
    """One helper process and its pipes; used under ``_LOCK``."""

    def __init__(self):
        self.pid = os.getpid()  # the process that started it (a fork must not share it)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD_SOURCE, json.dumps(sys.path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )

    def request(self, path):
        """The helper's answer for ``path``: (header dict, list of arrays); None if the
        helper died (its exit status is then in ``self.proc.returncode``)."""
        try:
            self.proc.stdin.write(json.dumps({"path": path}).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.proc.wait()
            return None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            return None
        header = json.loads(line)
        arrays = []
        for size in header.get("sizes", ()):
            blob = self.proc.stdout.read(size)
            if len(blob) != size:
                self.proc.wait()
                return None
            arrays.append(np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False))
        return header, arrays

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # the helper exits at end of input
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


_LOCK = threading.Lock()
_HELPER = None


def _close_helper():
    global _HELPER
    with _LOCK:
        if _HELPER is not None and _HELPER.pid == os.getpid():
            _HELPER.close()
        _HELPER = None


atexit.register(_close_helper)


def _describe_exit(returncode):
    if returncode is not None and returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def load_variables(path):
    """The numeric variables of a .mat file, ``{name: ndarray}``, parsed by the helper,
    and the others (cell arrays, structs, text, logical) as ``[(name, kind, shape)]``.

    Raises DataError for a file scipy refuses, a v7.3 (HDF5) file, or one that kills the
    parser.
    """
    global _HELPER
    where = os.path.abspath(path)
    with _LOCK:
        if _HELPER is None or _HELPER.pid != os.getpid():
            _HELPER = _Helper()
        helper = _HELPER
        try:
            answer = helper.request(where)
        except BaseException:
            # Interrupted (Ctrl-C) or a garbled answer: the pipe is out of step, drop it.
            helper.proc.kill()
            helper.close()
            _HELPER = None
            raise
        if answer is None:
            helper.close()
            _HELPER = None
            raise DataError(
                f"{path}: not a valid MATLAB .mat file (it crashed the MATLAB reader, scipy.io.loadmat: "
                f"{_describe_exit(helper.proc.returncode)})"
            )
    header, arrays = answer
    for message in header.get("warnings", ()):
        warnings.warn(f"{path}: {message}", RuntimeWarning, stacklevel=user_stacklevel())
    if header["status"] == "v73":
        raise DataError(f"{path}: MATLAB v7.3 (HDF5) files are not supported; save with -v7 or export to CSV")
    if header["status"] != "ok":
        raise DataError(f"{path}: not a valid MATLAB .mat file ({header['message']})")
    others = [(name, kind, tuple(shape)) for name, kind, shape in header.get("others", ())]
    return dict(zip(header["names"], arrays)), others
