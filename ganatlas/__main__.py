"""``python -m ganatlas``: the command line (see :mod:`ganatlas.cli`)."""

import sys

from ganatlas.cli import main

sys.exit(main())
