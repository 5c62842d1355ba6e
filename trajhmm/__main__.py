"""``python -m trajhmm``: the same as the ``trajhmm`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
