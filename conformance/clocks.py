"""The portal's time, for a deployed portal: its test-clock extension, or real time.

Real time is the honest mode for a portal without the extension. The harness estimates the
portal's clock from the HTTP ``Date`` header (one-second resolution) and the round trip, and
widens its margins by that uncertainty; waits are announced so a person watching the terminal
knows what it is waiting for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx

from ninsho.conformance.interfaces import DriverError
from ninsho.conformance.messages import one_line

# The request header that names a test-clock lane (spec/protocol.md §17, "Lanes").
LANE_HEADER = "Ninsho-Test-Clock-Lane"


class TestClock:
    """The portal's ``/test-clock`` extension: time moves when the harness says so. ``lanes``:
    whether the portal keeps a time per lane (§17), as its first answer says; the lane itself
    travels on the client's every request (HttpConnection), this clock's included."""

    kind = "test-clock"
    __test__ = False  # not a pytest test class, despite its name
    moves = 0  # how many times time was let pass: what a page shown before then may miss

    def __init__(self, client: httpx.Client, admin_headers: dict[str, str]) -> None:
        self._client = client
        self._headers = admin_headers
        # Refuse at once, with the reason, when the extension is off.
        self.lanes = self._call("GET")[1]

    def _call(self, method: str, body: dict[str, float] | None = None) -> tuple[float, bool]:
        """The portal's time, and whether it keeps lanes, from the extension's answer."""
        try:
            response = self._client.request(method, "test-clock", json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise DriverError(f"test clock: {exc}") from None
        if response.status_code != 200:
            raise DriverError(
                f"the portal's test clock answered {response.status_code}: start it with the test clock "
                f'enabled, or use [clock] mode = "real" ({one_line(response.text, 160)})'
            )
        try:
            answer = response.json()
            return float(answer["now"]), answer.get("lanes") is True
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DriverError(
                f'the portal\'s test clock answered {one_line(response.text, 160)!r}, not {{"now": SECONDS, …}}'
            ) from None

    def now(self) -> float:
        return self._call("GET")[0]

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self.moves += 1
            self._call("POST", {"advance_seconds": seconds})


class RealClock:
    """Wall-clock time on the portal, estimated from its ``Date`` header."""

    kind = "real"
    moves = 0  # as TestClock.moves

    def __init__(self, client: httpx.Client) -> None:
        self.offset, self.uncertainty = measure_offset(client)
        self.on_wait: Callable[[float], None] | None = None  # the plugin announces and tallies waits

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.moves += 1
        if self.on_wait is not None:
            self.on_wait(seconds)
        time.sleep(seconds)


def measure_offset(client: httpx.Client, samples: int = 3) -> tuple[float, float]:
    """(portal − local seconds, uncertainty): the sample with the shortest round trip wins."""
    best: tuple[float, float] | None = None
    for _ in range(samples):
        sent = time.time()
        try:
            response = client.get("noop")
        except httpx.HTTPError as exc:
            raise DriverError(f"measuring the portal's clock: {exc}") from None
        received = time.time()
        if response.status_code == 404:
            raise DriverError(
                f"GET {response.request.url} answered 404: is [portal] base_url the portal's root?"
                f" (the page says: {one_line(response.text, 80)})"
            )
        header = response.headers.get("date")
        if header is None:
            raise DriverError("the portal sends no Date header: its clock cannot be measured")
        portal = parsedate_to_datetime(header).timestamp()
        # Date is truncated to the second: the true time is in [portal, portal + 1).
        offset = portal + 0.5 - (sent + received) / 2
        uncertainty = 0.5 + (received - sent) / 2
        if best is None or uncertainty < best[1]:
            best = (offset, uncertainty)
    assert best is not None
    return best
