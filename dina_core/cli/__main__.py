"""``python -m dina_core.cli`` (and ``torchrun -m dina_core.cli``) runs the ``dina`` command."""

import sys

from .entry import main

sys.exit(main())
