"""The ``trajhmm`` command's entry point (and ``python -m trajhmm``'s): it imports the
command line itself, so that Ctrl-C during those imports (scikit-learn, hmmlearn, scipy:
a second or two) ends with exit code 130 and one line, like Ctrl-C later on."""

import importlib
import sys

_INTERRUPTED = 130  # cli.EXIT_INTERRUPTED, without importing cli


def main():
    """Run the command line on ``sys.argv`` and exit with its code."""
    try:
        cli = importlib.import_module("trajhmm.cli")
    except KeyboardInterrupt:
        print("trajhmm: interrupted", file=sys.stderr)
        sys.exit(_INTERRUPTED)
    sys.exit(cli.main())
