"""Drivers: one per way of talking to a portal (in process, JSON over HTTP, HTML pages)."""
