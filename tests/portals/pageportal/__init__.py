"""A page-only OTP portal written from the manuals: one engine, two skins ("table", "sjis").

A test fixture for the conformance harness's HTML driver; ``build_app`` makes the ASGI app.
"""

from .web import build_app

__all__ = ["build_app"]
