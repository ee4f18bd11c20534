"""The embedded reference portal, and its deliberately faulty variants, as harness targets.

With :mod:`.inprocess` beside it, this is the harness's one door into the reference
(tests/test_layers.py holds it so): every other harness module asks here for an embedded target
or for the names of the faults, and never imports ``ninsho.reference`` itself.

The embedded portal's own pages (reference/web) are here too, for the web checks (spec §16,
§5): the html driver works them over an in-process transport, on the same core, outbox and
virtual clock as the in-process driver.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx

from ninsho.conformance.drivers.asgi import SyncASGITransport
from ninsho.conformance.drivers.html.driver import HtmlDriver
from ninsho.conformance.drivers.html.sitemap import load as load_site_map
from ninsho.conformance.drivers.html.web import WebPages
from ninsho.conformance.drivers.inprocess import InProcessDriver, inprocess_parts
from ninsho.conformance.target import Target
from ninsho.reference.core.portal import Portal
from ninsho.reference.embedded import Embedded, embedded_portal
from ninsho.reference.faults import FAULTS, faulty_portal
from ninsho.reference.web.app import create_app
from ninsho.reference.web.config import Runtime, ServerConfig
from ninsho.spec.profile import Profile

PAGES_URL = "http://embedded.test/"  # the pages' address in process: plain http, as on loopback

EmbeddedFactory = Callable[[Profile], Embedded]
# The names ``--ninsho-fault`` accepts, and what each breaks: for the CLI's help and checks.
FAULT_NAMES: tuple[str, ...] = tuple(sorted(FAULTS))


def factory(fault: str | None = None) -> EmbeddedFactory:
    """How an embedded portal is built: the reference, or one of the faulty portals."""
    return faulty_portal(fault) if fault else embedded_portal


class PagedDriver(InProcessDriver):
    """The in-process driver, with the embedded portal's pages beside it (:meth:`pages`)."""

    def __init__(self, portal: Portal, new_client: Callable[[], httpx.Client]) -> None:
        super().__init__(portal)
        self._new_client = new_client

    def fresh(self) -> PagedDriver:
        return PagedDriver(self.portal, self._new_client)

    def pages(self) -> WebPages:
        """A new browser on the embedded portal's pages (the html driver, the default site map)."""
        placeholder = self.portal.profile.reset_placeholder_address
        return HtmlDriver(self._new_client, load_site_map(None), no_address=placeholder).pages()


def pages_client(embedded: Embedded) -> Callable[[], httpx.Client]:
    """Browsers on the embedded portal's pages: its app, made at the first request, over an
    in-process ASGI transport."""
    made: list[SyncASGITransport] = []

    def new_client() -> httpx.Client:
        if not made:
            config = ServerConfig(embedded.portal.profile, None, pepper=secrets.token_bytes(32))
            runtime = Runtime(
                config, embedded.portal, embedded.store, embedded.clock, embedded.outbox, embedded.flaws
            )
            made.append(SyncASGITransport(create_app(config, runtime)))
        return httpx.Client(base_url=PAGES_URL, transport=made[0], follow_redirects=True)

    return new_client


def embedded_target(embedded: Embedded, profile: Profile) -> Target:
    """A fresh target on one embedded portal: virtual time, the outbox read as a mailbox, and
    its pages for the web checks."""
    _, operator, mailbox, clock = inprocess_parts(embedded)
    driver = PagedDriver(embedded.portal, pages_client(embedded))
    return Target(
        profile=profile,
        operator=operator,
        mailbox=mailbox,
        clock=clock,
        new_driver=driver.fresh,
        margin_seconds=1.0,
        mail_timeout_seconds=0.0,
    )
