"""``python -m ninsho``: the same as the ``ninsho`` command."""

import sys

from ninsho.cli import main

sys.exit(main())
