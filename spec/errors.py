"""The spec layer's one error type.

A profile, the registry or a vector file that cannot be read or does not hold what the spec
says is refused with a :class:`SpecError` naming the key at fault. Both sides catch it: the
reference when it is served with a profile, the harness when it is pointed at one.
"""

from __future__ import annotations


class SpecError(ValueError):
    """A spec document is missing or malformed; ``field`` is the dotted key at fault.

    Like every error of the project it names a requirement and a status hint: a portal served
    with a bad profile refuses to start (400-class, the operator's input), never half-starts.
    """

    requirement = "INPUT_ERRORS_PRECISE"
    status_hint = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
