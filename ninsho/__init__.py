"""Ninsho 認証: the spec, the reference portal and the conformance harness for OTP portals.

One import package, four layers (ARCHITECTURE.md): :mod:`ninsho.spec` at the bottom; the
reference portal :mod:`ninsho.reference` and the harness :mod:`ninsho.conformance` each on top
of it; :mod:`ninsho.features` (the manuals as Gherkin) is data. In the repository the layers are
the top-level folders spec/, reference/, conformance/ and features/; ``ninsho/`` links them, so
a checkout imports exactly what the wheel installs.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ninsho")
except PackageNotFoundError:  # a checkout on sys.path without the distribution installed
    __version__ = "0+unknown"
