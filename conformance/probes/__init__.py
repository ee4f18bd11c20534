"""Probes: the measuring side of the harness, as reusable pieces of user behaviour.

A probe does what a user of the manuals would do (enrol an address, scan the QR code, log in)
through a :class:`~ninsho.conformance.target.Target`, and measures. Judging against the profile is
left to the checks in ``ninsho.conformance.checks``.
"""
