"""Stand-alone portals that the conformance harness is pointed at in tests."""
