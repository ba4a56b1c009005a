"""``python -m samcore``: the ``samcore`` command."""

import sys

from samcore.cli import main

sys.exit(main())
