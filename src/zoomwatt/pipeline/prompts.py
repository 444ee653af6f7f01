"""Prompt schedules: which prompt each keyframe is generated with.

A schedule file has one ``start, prompt`` row per line (CSV: quote a prompt that holds a
comma); blank lines and lines starting with ``#`` are skipped. ``start`` is a time in seconds of
the output video or a keyframe index, as the caller says (``--prompt-times``); seconds are
converted with the real frame rate. Keyframe ``i`` fills the whole frame at output frame
``i * N`` of a zoom-out (``(K - 1 - i) * N`` of a zoom-in), so its time is that frame over fps,
and it takes the prompt of the last row whose start is at or before that time.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from zoomwatt.errors import InputError, shorten

TIME_UNITS = ("seconds", "keyframes")
MAX_FILE_BYTES = 1024 * 1024
MAX_ROWS = 10_000
MAX_PROMPT_CHARS = 2_000  # the text encoders read 77 tokens; this is far beyond any use


@dataclass(frozen=True)
class PromptRow:
    start: float  # seconds or keyframe index, per the schedule's unit
    prompt: str


@dataclass(frozen=True)
class PromptSchedule:
    rows: tuple[PromptRow, ...]
    unit: str  # "seconds" or "keyframes"

    @classmethod
    def single(cls, prompt: str) -> PromptSchedule:
        return cls((PromptRow(0.0, prompt),), "keyframes")

    def prompt_for(
        self,
        keyframe_index: int,
        keyframes: int,
        frames_per_keyframe: int,
        fps: float,
        zoom_in: bool = False,
    ) -> str:
        """The prompt keyframe ``keyframe_index`` is generated with."""
        if self.unit == "keyframes":
            position = float(keyframe_index)
        else:
            shown_at = keyframes - 1 - keyframe_index if zoom_in else keyframe_index
            position = shown_at * frames_per_keyframe / fps
        chosen = self.rows[0].prompt
        for row in self.rows:
            if row.start <= position + 1e-9:
                chosen = row.prompt
        return chosen


def load_schedule(
    path: str | Path, unit: str = "seconds", default_prompt: str | None = None
) -> PromptSchedule:
    """Read and check a schedule file. ``default_prompt`` (``--prompt``) covers the time before
    the first row; without it the first row must start at 0."""
    if unit not in TIME_UNITS:
        raise InputError("prompt_times", unit, f"one of {', '.join(TIME_UNITS)}")
    path = Path(path)
    text = _read_schedule_text(path)
    rows: list[PromptRow] = []
    lines = [
        (n, line)
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if len(lines) > MAX_ROWS:
        raise InputError("prompts", str(path), f"at most {MAX_ROWS} rows; it has {len(lines)}")
    for lineno, line in lines:
        row = _parse_row(f"{path}:{lineno}", line, unit)
        if rows and row.start <= rows[-1].start:
            raise InputError(
                "prompts",
                f"{path}:{lineno}",
                f"starts in increasing order; {row.start:g} follows {rows[-1].start:g}",
            )
        rows.append(row)
    if not rows:
        raise InputError(
            "prompts", str(path), "at least one 'start, prompt' row; the file has none"
        )
    if rows[0].start > 0:
        if default_prompt is None:
            raise InputError(
                "prompts",
                str(path),
                f"a first row starting at 0 (or --prompt for "
                f"the time before {rows[0].start:g} {unit})",
            )
        rows.insert(0, PromptRow(0.0, default_prompt))
    return PromptSchedule(tuple(rows), unit)


def _read_schedule_text(path: Path) -> str:
    expected = "a readable text file (UTF-8) of 'start, prompt' rows"
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(
                "prompts", str(path), f"a schedule of at most {MAX_FILE_BYTES // 1024} KiB"
            )
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            "prompts", str(path), expected, f"Reading it failed: {exc.strerror or exc}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError("prompts", str(path), expected, f"Byte {exc.start} is not UTF-8") from exc


def _parse_row(where: str, line: str, unit: str) -> PromptRow:
    """One ``start, prompt`` line (CSV, a quoted prompt may hold commas; a line is a row)."""
    try:
        fields = next(csv.reader([line], skipinitialspace=True, strict=True))
    except csv.Error as exc:
        raise InputError("prompts", where, "a row 'start, prompt' in CSV", f"{exc}") from None
    if len(fields) < 2:
        raise InputError("prompts", where, "a row 'start, prompt'", f"Got {shorten(fields)}")
    start_text, prompt = fields[0].strip(), ",".join(fields[1:]).strip()
    try:
        start = float(start_text)
    except ValueError:
        start = math.nan
    if not math.isfinite(start):
        raise InputError(
            "prompts", where, f"a number of {unit} as the start (finite), not {shorten(start_text)}"
        )
    if start < 0:
        raise InputError("prompts", where, f"a start >= 0 {unit}, not {start_text}")
    if unit == "keyframes" and start != int(start):
        raise InputError("prompts", where, f"a whole keyframe index, not {start_text}")
    if not prompt:
        raise InputError("prompts", where, "a non-empty prompt after the start")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError("prompts", where, f"a prompt of at most {MAX_PROMPT_CHARS} characters")
    return PromptRow(start, prompt)
