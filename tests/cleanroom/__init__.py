"""A second, clean-room Ninsho portal written from spec/ alone.

It exists to show that the specification is implementable without the reference, and to serve
as an independent fixture for the conformance harness. Stack: http.server + sqlite3 + smtplib.
"""
