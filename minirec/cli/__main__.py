"""``python -m minirec.cli``: the same as the ``minirec`` command."""

import sys

from . import main

sys.exit(main())
