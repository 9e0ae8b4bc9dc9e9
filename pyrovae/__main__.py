"""``python -m pyrovae``: the ``pyrovae`` command line (:mod:`pyrovae.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
