"""The project's own tests are marked with requirement IDs too, so they register the registry's
IDs as markers, as every Ninsho session does; they do not load the harness itself, which wakes
only in conformance runs (ninsho.conformance.plugin)."""

pytest_plugins = ["ninsho.conformance.markers"]
