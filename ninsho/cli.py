"""``ninsho``: one command for both sides.

``ninsho check …`` is the conformance harness, and ``ninsho discover …`` drafts the html
driver's site map of a page-only portal; every other command (``serve``, ``users``,
``helpdesk``) is the reference portal's. This module sits above both, so that neither has to
import the other: the reference runs without the harness, and the harness knows the reference
only through its in-process driver.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

HARNESS_COMMANDS = {
    "check": "run the conformance checks against a portal (ninsho check --help)",
    "discover": "walk a page-only portal and draft its site map for the html driver (ninsho discover --help)",
}
# Each harness command's entry point: everything after the command's name is its own (argparse
# here would try to read options such as --ninsho-portal itself).
HARNESS_MAINS = {
    "check": "ninsho.conformance.cli",
    "discover": "ninsho.conformance.drivers.html.discover",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] and args[0] in HARNESS_MAINS:
        module = HARNESS_MAINS[args[0]]
        try:
            harness = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
            print(f"ninsho: error: 'ninsho {args[0]}' needs the harness, {module}", file=sys.stderr)
            return 2
        result: int = harness.main(args[1:])
        return result
    from ninsho.reference.cli import main as portal

    return portal(args, also=HARNESS_COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
