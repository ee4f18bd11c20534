"""Entry point for ``python -m tests.cleanroom``."""

from .cli import main

raise SystemExit(main())
