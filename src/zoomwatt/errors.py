"""The package's exception root and its few subclasses.

Every error a user can cause derives from :class:`ZoomwattError`, so callers can catch one type;
the command line prints the message and exits with status 2. Input errors name the argument,
the value given and what was expected, in that order.
"""

from __future__ import annotations

from typing import Any


class ZoomwattError(Exception):
    """Root of every error zoomwatt raises on purpose."""


class InputError(ZoomwattError, ValueError):
    """A user-supplied value is wrong. The message names the argument, its value and what was
    expected."""

    def __init__(self, argument: str, value: Any, expected: str, hint: str | None = None):
        self.argument = argument
        self.value = value
        self.expected = expected
        self.hint = hint
        message = f"{argument}={value!r}: expected {expected}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class WeightsNotFoundError(ZoomwattError, FileNotFoundError):
    """Model weights could not be found locally; the message lists where we looked and how to
    get them."""


class ResumeError(ZoomwattError):
    """A work folder cannot be resumed (different settings, damaged keyframes)."""


class NotMeasurableError(ZoomwattError):
    """A measurement is not possible on this machine (no counter, no permission)."""
