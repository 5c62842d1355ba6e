"""``python -m trajhmm``: the same as the ``trajhmm`` command."""

from ._console import main

if __name__ == "__main__":
    main()
