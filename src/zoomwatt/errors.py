"""The package's exception root and its few subclasses.

Every error a user can cause derives from :class:`ZoomwattError`, so callers can catch one type;
the command line prints the message and exits with status 2. Input errors name the argument,
the value given and what was expected, in that order.
"""

from __future__ import annotations

import reprlib
from typing import Any

#: Longest text of a value quoted in an error message; the rest is elided with "...".
MAX_VALUE_CHARS = 80

_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxstring = MAX_VALUE_CHARS
_SHORT_REPR.maxother = MAX_VALUE_CHARS
_SHORT_REPR.maxlong = 40


def shorten(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, safe on any object.

    ``reprlib`` bounds the depth and the items shown of every container, so a huge or deeply
    nested value (a YAML alias bomb, a million-element list) never builds a huge string only
    to throw most of it away; the result is then cut in the middle to ``limit``.
    """
    try:
        text = _SHORT_REPR.repr(value)
    except Exception:  # a broken __repr__, an int too long to print: still one clean line
        if isinstance(value, int):
            text = f"<int of {value.bit_length()} bits>"
        else:
            text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    if len(text) > limit:
        head = (limit - 5) // 2 + (limit - 5) % 2
        text = f"{text[:head]} ... {text[len(text) - (limit - 5) // 2 :]}"
    return text


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
        message = f"{argument}={shorten(value)}: expected {expected}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class WeightsNotFoundError(ZoomwattError, FileNotFoundError):
    """Model weights could not be found locally; the message lists where we looked and how to
    get them."""


class ResumeError(ZoomwattError):
    """A work folder cannot be resumed (different settings, damaged keyframes)."""


class WriteError(ZoomwattError, OSError):
    """Writing a result failed (a full disk, a folder that went away); the message names the
    output and what to do."""


class NotMeasurableError(ZoomwattError):
    """A measurement is not possible on this machine (no counter, no permission)."""
