"""Item 4: what measuring a TOTP window of ±k costs, in submissions and logins, for k = 0…3.

Two cases per k, both against the embedded reference with virtual time (the count of requests
does not depend on the transport):

- *declared*: the profile states ±k and the portal accepts ±k (a portal whose profile is right);
  the probe's own docstring promises 2k+3 submissions with two refusals;
- *wider than declared*: the profile states ±1 (iimc) and the portal accepts ±k, as the
  ``wide-window`` fault does for k = 3; the probe then spends a second enrolment to find the far
  past side.

Submissions are the probe's own count (``WindowMeasurement.submissions``, reported by the check as
the measured value ``submissions``); logins are every password login the probe makes, enrolment
included (an enrolment logs in twice: the address, then the app); "refused in a row" is the
longest run of refused codes on one account, which must stay under the lockout threshold.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ninsho.conformance.drivers.embedded import embedded_target
from ninsho.conformance.probes.totp_window import measure_window
from ninsho.conformance.target import Target
from ninsho.reference.embedded import embedded_portal
from ninsho.spec.registry import load_profile

GOAL = "2k+3"


class CountingDriver:
    """A driver that counts password logins and code submissions on the way through."""

    def __init__(self, inner: object, tally: dict[str, int]) -> None:
        self._inner, self._tally = inner, tally

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self._inner, name)
        if name in ("login", "login_for_setup", "submit_app_code", "register_app") and callable(attribute):

            def counted(*args: object, **kw: object) -> object:
                self._tally[name] = self._tally.get(name, 0) + 1
                return attribute(*args, **kw)

            return counted
        return attribute


def probe(k: int, declared: int) -> dict[str, object]:
    base = load_profile("iimc")
    portal_profile = dataclasses.replace(base, totp_window_past_steps=k, totp_window_future_steps=k)
    judged_by = dataclasses.replace(base, totp_window_past_steps=declared, totp_window_future_steps=declared)
    embedded = embedded_portal(portal_profile)
    target: Target = embedded_target(embedded, judged_by)
    tally: dict[str, int] = {}
    new_driver = target.new_driver
    target.new_driver = lambda: CountingDriver(new_driver(), tally)  # type: ignore[assignment,return-value]
    m = measure_window(target)
    ordered = [m.results[o] for o in sorted(m.results)]
    longest, run = 0, 0
    for ok in ordered:
        run = 0 if ok else run + 1
        longest = max(longest, run)
    return {
        "window": m.describe(),
        "submissions": m.submissions,
        "logins": tally.get("login", 0),
        "enrolments": tally.get("register_app", 0),
        "refused_in_a_row": longest,
        "threshold": portal_profile.lockout_threshold,
    }


def main() -> int:
    print("TOTP window probe cost (embedded reference, virtual time)")
    print(
        f"{'case':<30} {'measured':<22} {'submissions':>11} {'goal ' + GOAL:>9} "
        f"{'logins':>7} {'apps':>5} {'refused in a row':>16}"
    )
    status = 0
    for declared_label, declared_of in (
        ("declared ±k", lambda k: k),
        ("wider than declared ±1", lambda k: 1),
    ):
        for k in range(4):
            declared = declared_of(k)
            if declared_label.startswith("wider") and k <= 1:
                continue  # not wider
            r = probe(k, declared)
            goal = 2 * k + 3
            met = int(r["submissions"]) <= goal  # type: ignore[call-overload]
            status |= 0 if met or declared_label.startswith("wider") else 1
            print(
                f"{declared_label + f', k={k}':<30} {r['window']:<22} {r['submissions']:>11} "
                f"{('<= ' + str(goal) + (' ok' if met else ' over')):>9} {r['logins']:>7} "
                f"{r['enrolments']:>5} {r['refused_in_a_row']:>9} of {r['threshold']}"
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
