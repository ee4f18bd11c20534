"""The sans-I/O core of the reference portal.

It imports no HTTP, SMTP, database, clock or random module: every effect goes through the ports
in :mod:`.ports`, and a test (tests/core/test_core_purity.py) keeps it that way.
"""

from ninsho.spec.profile import Profile, parse_profile

from .errors import NinshoError
from .portal import (
    AppProvisioning,
    CodeSent,
    LoginResult,
    Portal,
    ResetScreen,
    SettingsView,
    Verified,
)
from .state import Stage

__all__ = [
    "AppProvisioning",
    "CodeSent",
    "LoginResult",
    "NinshoError",
    "Portal",
    "Profile",
    "ResetScreen",
    "SettingsView",
    "Stage",
    "Verified",
    "parse_profile",
]
