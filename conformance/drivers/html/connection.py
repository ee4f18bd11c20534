"""The html driver's connection: browsers on the pages, and the operator, mailbox and clock.

The operator (admin API or a pool of accounts), the mailbox and the test clock are the JSON
connection's; with ``provision = "pool"`` and ``clock = "real"`` nothing but pages is requested.
Real time is read from the ``Date`` header of the portal's start page, since a portal with
pages only has no API ``noop``.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from ninsho.conformance.clocks import RealClock
from ninsho.conformance.config import PortalConfig
from ninsho.conformance.drivers.html import sitemap
from ninsho.conformance.drivers.html.driver import AddressBook, HtmlDriver
from ninsho.conformance.drivers.html.sitemap import SiteMap
from ninsho.conformance.drivers.json_api import TIMEOUT_SECONDS, HttpConnection
from ninsho.conformance.interfaces import Driver, DriverError
from ninsho.spec.profile import Profile


def site_map_for(config: PortalConfig) -> SiteMap:
    """The portal's site map: the defaults, its site-map file (``[html] site_map``, which
    ``--ninsho-site-map`` and ``ninsho check --site-map`` override), then the ``[html] selectors``
    of earlier versions. Any problem is a ConfigError naming the key."""
    named = config.html_site_map
    return sitemap.load(Path(named) if named else None, config.html_selectors)


class PageClock(RealClock):
    """Real time from the ``Date`` header of a page: a portal with pages only has no API noop
    (the estimate is the one of :func:`ninsho.conformance.clocks.measure_offset`)."""

    def __init__(self, client: httpx.Client, path: str, samples: int = 3) -> None:
        self.on_wait = None
        best: tuple[float, float] | None = None
        for _ in range(samples):
            sent = time.time()
            try:
                response = client.get(path)
            except httpx.HTTPError as exc:
                raise DriverError(f"measuring the portal's clock: {exc}") from None
            received = time.time()
            header = response.headers.get("date")
            if header is None:
                raise DriverError("the portal sends no Date header: its clock cannot be measured")
            try:
                stamp = parsedate_to_datetime(header).timestamp()
            except (TypeError, ValueError):
                raise DriverError(f"the portal's Date header {header!r} is not a date") from None
            offset = stamp + 0.5 - (sent + received) / 2
            uncertainty = 0.5 + (received - sent) / 2
            if best is None or uncertainty < best[1]:
                best = (offset, uncertainty)
        assert best is not None
        self.offset, self.uncertainty = best


class HtmlConnection(HttpConnection):
    """The JSON connection's operator, mailbox and clock, with browsers on the pages. The admin
    API and the test clock are used only when the config asks for them (``provision =
    "admin-api"``, ``clock = "test-clock"``)."""

    def __init__(self, config: PortalConfig, profile: Profile) -> None:
        assert config.base_url is not None
        self.site = site_map_for(config)
        self.root_url = config.base_url.rstrip("/") + "/"
        self.transport = httpx.HTTPTransport()  # one connection pool; a cookie jar per browser
        self.book = AddressBook()  # the addresses entered, by account, for all browsers
        super().__init__(config, profile, driver_factory=lambda c: self.browser())

    def new_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.root_url,
            transport=self.transport,
            follow_redirects=True,
            timeout=TIMEOUT_SECONDS,
            headers=self.lane_headers(),
        )

    def browser(self) -> Driver:
        return HtmlDriver(
            self.new_client,
            self.site,
            self.book,
            no_address=self.profile.reset_placeholder_address,
            clock_moves=lambda: self.clock.moves,
        )

    def lacks(self) -> dict[str, str]:
        """The registry's areas whose flow the site map declares the portal has not: their
        checks are NOT_APPLICABLE before they start (spec/protocol.md §19.1), not stopped on
        the way by an earlier step that the portal does otherwise."""
        if self.site.capabilities["reset"]:
            return {}
        declared = "the site map declares no reset (capabilities.reset = false)"
        return {"reset": declared, "helpdesk": declared}

    def _real_clock(self) -> RealClock:
        return PageClock(self.new_client(), self.site.screens["login"].path or self.site.start)

    def close(self) -> None:
        super().close()
        self.transport.close()


def connect(config: PortalConfig, profile: Profile) -> HtmlConnection:
    return HtmlConnection(config, profile)
