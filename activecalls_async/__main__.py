"""``python -m activecalls_async``: the ``activecalls`` command."""

import sys

from .cli import main

sys.exit(main())
