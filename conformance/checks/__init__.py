"""The bundled checks: one pytest test per measured property, each marked with the requirement
IDs it judges. ``pytest --ninsho-portal portal.toml`` (or ``ninsho check``) runs this package."""
