"""The ``trajhmm`` command's entry point (and ``python -m trajhmm``'s): it imports the
command line itself, so that Ctrl-C during those imports (scikit-learn, hmmlearn, scipy:
a second or two) ends with exit code 130 and one line, like Ctrl-C later on.

SIGTERM (``kill``, a job scheduler, ``docker stop``) is answered like Ctrl-C: raised as
:class:`Terminated` where the program is, so the same clean-up runs (no half-written
output, worker processes stopped, the fit cache kept for a rerun), then one line and exit
code 143 (128 + 15, the shell's code for SIGTERM)."""

import importlib
import signal
import sys

_INTERRUPTED, _TERMINATED = 130, 143  # cli.EXIT_INTERRUPTED and EXIT_TERMINATED, without importing cli


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread. A kind of KeyboardInterrupt, so that everything
    that cleans up after Ctrl-C cleans up after it too."""


def _terminate(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second TERM (a scheduler's) must not cut the clean-up short
    raise Terminated


def stopped(exc):
    """The line and exit code for a KeyboardInterrupt (Ctrl-C) or :class:`Terminated`."""
    if isinstance(exc, Terminated):
        return "trajhmm: terminated", _TERMINATED
    return "trajhmm: interrupted", _INTERRUPTED


def main():
    """Run the command line on ``sys.argv`` and exit with its code."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # an ignored SIGTERM stays ignored
        signal.signal(signal.SIGTERM, _terminate)
    try:
        cli = importlib.import_module("trajhmm.cli")
    except KeyboardInterrupt as exc:
        line, code = stopped(exc)
        print(line, file=sys.stderr)
        sys.exit(code)
    sys.exit(cli.main())
