"""``ninsho``: one command for both sides.

``ninsho check …`` is the conformance harness; every other command (``serve``, ``users``,
``helpdesk``) is the reference portal's. This module sits above both, so that neither has to
import the other: the reference runs without the harness, and the harness knows the reference
only through its in-process driver.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

HARNESS_COMMANDS = {"check": "run the conformance checks against a portal (ninsho check --help)"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["check"]:
        # Everything after "check" is the harness's own: argparse here would try to read
        # options such as --ninsho-portal itself.
        try:
            from ninsho.conformance.cli import main as check
        except ModuleNotFoundError as exc:
            if exc.name not in ("ninsho.conformance", "ninsho.conformance.cli"):
                raise
            print("ninsho: error: 'ninsho check' needs the harness, ninsho.conformance.cli", file=sys.stderr)
            return 2
        return check(args[1:])
    from ninsho.reference.cli import main as portal

    return portal(args, also=HARNESS_COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
