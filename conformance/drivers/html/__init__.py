"""The HTML driver: for portals that only have pages, like the one in the manuals.

Layers, each a module:

- :mod:`.charset`, :mod:`.tree`, :mod:`.names`, :mod:`.page`: a page read by the rules of HTML
  (charset, HTML5 tree, accessible names, text split at block boundaries);
- :mod:`.sitemap` (with ``default_site.toml``): everything portal-specific, as data;
- :mod:`.browser`: requests, redirects, forms in the page's charset, evidence;
- :mod:`.values`: what a browser sends for what is typed into a field (HTML's value sanitization);
- :mod:`.reading`, :mod:`.qr`, :mod:`.svg`: values read off a screen, and the App tab's QR code
  (an SVG one drawn first) and key;
- :mod:`.navigation`: which screen is shown, and the way between screens (the menu, Back);
- :mod:`.driver`: the user actions of the manuals;
- :mod:`.connection`: ``connect(config, profile)``, named in ``conformance/connect.py``;
- :mod:`.web`: what the web checks need of a browser (``HtmlDriver.pages()``): the cookies set
  with their attributes, and forms sent forged, as another site's page would send them;
- :mod:`.discover` (with :mod:`.walk` and :mod:`.draft`): ``ninsho discover``, which walks a
  portal's screens and drafts its site map.

docs/html-driver.md describes the site map, key by key.
"""

from __future__ import annotations

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.drivers.html.connection import HtmlConnection, PageClock, connect, site_map_for
from ninsho.conformance.drivers.html.driver import AddressBook, HtmlDriver
from ninsho.conformance.drivers.html.page import Page, PageError, parse_page
from ninsho.conformance.drivers.html.qr import decode_qr
from ninsho.conformance.drivers.html.sitemap import SiteMap, legacy_selectors
from ninsho.conformance.drivers.html.sitemap import load as load_site_map

# The selector names of earlier versions with their defaults: ``[html] selectors`` still takes
# them (each maps onto a site-map key), and ``HtmlDriver(new_client, SELECTORS)`` still works.
SELECTORS: dict[str, str] = legacy_selectors()


def selectors_for(config: PortalConfig) -> SiteMap:
    """The portal's site map (kept under its earlier name): see :func:`site_map_for`."""
    return site_map_for(config)


__all__ = [
    "SELECTORS",
    "AddressBook",
    "HtmlConnection",
    "HtmlDriver",
    "Page",
    "PageClock",
    "PageError",
    "SiteMap",
    "connect",
    "decode_qr",
    "load_site_map",
    "parse_page",
    "selectors_for",
    "site_map_for",
]
