"""A Ninsho vendor driver for privacyIDEA (``driver``) and a throw-away server for it (``server``).

The worked example of docs/drivers.md: a separate package that declares an entry point in the
group ``ninsho.drivers``, without a line changed in Ninsho.
"""
