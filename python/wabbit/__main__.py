"""``python -m wabbit`` runs the ``wabbit`` command."""

import sys

from wabbit.cli import main

sys.exit(main())
