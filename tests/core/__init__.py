"""Tests of the pure core (reference/core) and its embedded wiring."""
