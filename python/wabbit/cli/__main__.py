"""``python -m wabbit.cli`` runs the ``wabbit`` command (as ``python -m wabbit`` does)."""

import sys

from wabbit.cli import main

sys.exit(main())
