"""The Ninsho conformance harness."""
