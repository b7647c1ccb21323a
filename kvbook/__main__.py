"""Run the ``kvbook`` command line as ``python -m kvbook``."""

import sys

from kvbook.cli import main

if __name__ == "__main__":
    sys.exit(main())
