"""``python -m minirec.cli``: the same as the ``minirec`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
