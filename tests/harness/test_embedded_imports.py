"""What an embedded run loads: only what it uses, since every library stays in memory to the end.

Issue "Faster where users wait" keeps the embedded run's peak memory low. The embedded driver
reaches the reference through its web app (``ninsho.reference.web``), whose config module also
knows the serve-only parts: the SQLite store, and the sealing of TOTP secrets with
cryptography's OpenSSL (6.5 MiB). The embedded portal keeps its accounts in memory and seals
nothing, so that library must not be loaded by the run.
"""

from __future__ import annotations

import json
import subprocess
import sys

# A fresh interpreter: this test process has imported everything already.
_PROBE = """
import json, sys
from ninsho.conformance.drivers.embedded import embedded_target, factory
from ninsho.spec.registry import load_profile
profile = load_profile("fast-test")
target = embedded_target(factory()(profile), profile)
assert target.new_driver().pages().login_screen("probe").title  # the web app is made
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "cryptography")))
"""


def test_an_embedded_portal_and_its_driver_load_no_cryptography() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
