"""The embedded reference portal, and its deliberately faulty variants, as harness targets.

With :mod:`.inprocess` beside it, this is the harness's one door into the reference
(tests/test_layers.py holds it so): every other harness module asks here for an embedded target
or for the names of the faults, and never imports ``ninsho.reference`` itself.
"""

from __future__ import annotations

from collections.abc import Callable

from ninsho.conformance.drivers.inprocess import inprocess_parts
from ninsho.conformance.target import Target
from ninsho.reference.embedded import Embedded, embedded_portal
from ninsho.reference.faults import FAULTS, faulty_portal
from ninsho.spec.profile import Profile

EmbeddedFactory = Callable[[Profile], Embedded]
# The names ``--ninsho-fault`` accepts, and what each breaks: for the CLI's help and checks.
FAULT_NAMES: tuple[str, ...] = tuple(sorted(FAULTS))


def factory(fault: str | None = None) -> EmbeddedFactory:
    """How an embedded portal is built: the reference, or one of the faulty portals."""
    return faulty_portal(fault) if fault else embedded_portal


def embedded_target(embedded: Embedded, profile: Profile) -> Target:
    """A fresh target on one embedded portal: virtual time, the outbox read as a mailbox."""
    driver, operator, mailbox, clock = inprocess_parts(embedded)
    return Target(
        profile=profile,
        operator=operator,
        mailbox=mailbox,
        clock=clock,
        new_driver=driver.fresh,
        margin_seconds=1.0,
        mail_timeout_seconds=0.0,
    )
