"""The embedded reference portal: the core wired to memory, an outbox and a chosen clock.

This is what ``pytest`` checks when no portal is given, and what the project's own tests drive.
The password hash is cheap here on purpose (test accounts only); ``ninsho serve`` uses the full
scrypt cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ninsho.reference.clocks import SeededRandom, SystemRandom, VirtualClock
from ninsho.reference.core.otp import RandomSource
from ninsho.reference.core.passwords import PasswordHasher
from ninsho.reference.core.portal import Portal
from ninsho.reference.core.ports import Clock, Mailer, Store
from ninsho.reference.outbox import Outbox
from ninsho.reference.stores.memory import MemoryStore
from ninsho.spec.profile import Profile

FAST_HASHER = PasswordHasher(n=2**4, r=8, p=1)


class PortalMaker(Protocol):
    """How a portal is made on its ports: ``Portal`` itself, or a faulty variant's
    ``Fault.make_portal`` (ninsho.reference.faults)."""

    def __call__(
        self,
        profile: Profile,
        store: Store,
        mailer: Mailer,
        clock: Clock,
        random: RandomSource,
        *,
        pepper: bytes,
        hasher: PasswordHasher | None = None,
    ) -> Portal: ...


@dataclass
class Embedded:
    portal: Portal
    outbox: Outbox
    clock: Clock
    store: Store
    flaws: frozenset[str] = frozenset()  # a faulty portal's flaws of the pages (reference/faults.py)


def embedded_portal(
    profile: Profile,
    *,
    clock: Clock | None = None,
    random: RandomSource | None = None,
    seed: int | None = None,
    make_portal: PortalMaker = Portal,
) -> Embedded:
    """A fresh portal. ``seed`` makes its codes reproducible (tests); default is the OS CSPRNG."""
    clock = clock or VirtualClock()
    random = random or (SeededRandom(seed) if seed is not None else SystemRandom())
    outbox, store = Outbox(clock=clock), MemoryStore()
    portal = make_portal(
        profile, store, outbox, clock, random, pepper=random.randbytes(32), hasher=FAST_HASHER
    )
    return Embedded(portal, outbox, clock, store)
