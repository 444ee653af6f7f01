"""The work folder: every keyframe on disk with a manifest, so an interrupted run resumes.

Layout::

    WORK_DIR/manifest.json        settings + one entry per complete keyframe
    WORK_DIR/keyframes/00000.png  lossless keyframes, written atomically

A keyframe counts as complete only once its PNG is fully written (written to a temporary name
and renamed) and the manifest that lists it is replaced (also atomically). On resume, the
settings must match the stored ones, each keyframe's seed and prompt must be the ones the run
would use again, and each file must still have the hash recorded for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoomwatt.atomic_write import write_atomic
from zoomwatt.errors import InputError, ResumeError, WriteError, shorten
from zoomwatt.version import __version__

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 * 2**20  # 10,000 keyframes take about 2 MB


@dataclass(frozen=True)
class KeyframeEntry:
    index: int
    file: str  # relative to the work folder
    sha256: str
    seed: int
    prompt: str


class KeyframeStore:
    def __init__(self, folder: str | Path, settings: dict[str, Any]):
        self.folder = Path(folder)
        self.settings = settings
        self.entries: list[KeyframeEntry] = []

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    def check_writable(self) -> None:
        """Fail before any work if the folder cannot be created or written."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, probe = tempfile.mkstemp(prefix=".write-test.", dir=self.folder)
            os.close(handle)
            os.unlink(probe)
        except OSError as exc:
            raise InputError(
                "work_dir",
                str(self.folder),
                "a folder that can be created and written",
                f"{exc.strerror or exc}",
            ) from exc

    def open(self, resume: bool, overwrite: bool) -> int:
        """Prepare the folder; return how many keyframes (from the first) are already done."""
        self.check_writable()
        if not self.manifest_path.exists():
            self._write_manifest()
            return 0
        if overwrite:
            shutil.rmtree(self.folder / "keyframes", ignore_errors=True)
            self.entries = []
            self._write_manifest()
            return 0
        stored = self._read_manifest()
        if not resume:
            raise InputError(
                "work_dir",
                str(self.folder),
                "a folder without an earlier run",
                f"It holds {len(stored['keyframes'])} keyframes of an earlier run: pass "
                "--resume to continue it, --overwrite to start again, or another --work-dir",
            )
        self._check_settings(stored["settings"])
        for entry in stored["keyframes"]:
            if entry.index != len(self.entries):
                break
            if not self._file_ok(entry):
                log.warning(
                    "keyframe %d in %s is damaged; regenerating from there",
                    entry.index,
                    self.folder,
                )
                break
            self.entries.append(entry)
        self._write_manifest()
        return len(self.entries)

    def check_entry(self, index: int, seed: int, prompt: str) -> None:
        """A resumed keyframe must have the seed and prompt the run would use now."""
        entry = self.entries[index]
        if entry.seed != seed or entry.prompt != prompt:
            raise ResumeError(
                f"work_dir={shorten(str(self.folder))}: keyframe {index} was made with seed "
                f"{entry.seed} and prompt {shorten(entry.prompt)}, but this run would use seed "
                f"{seed} and prompt {shorten(prompt)}. Resume with the same --seed and prompts, "
                "or pass "
                "--overwrite."
            )

    def save(self, index: int, image: np.ndarray, seed: int, prompt: str) -> None:
        import cv2

        if index != len(self.entries):
            raise ResumeError(f"keyframe {index} saved out of order (have {len(self.entries)})")
        rel = _keyframe_file(index)
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise ResumeError(f"could not encode keyframe {index} as PNG")
        data = encoded.tobytes()
        self._write(path, data, f"saving keyframe {index}")
        self.entries.append(
            KeyframeEntry(index, rel, hashlib.sha256(data).hexdigest(), seed, prompt)
        )
        self._write_manifest()

    def load(self, index: int) -> np.ndarray:
        import cv2

        entry = self.entries[index]
        data = (self.folder / entry.file).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ResumeError(
                f"keyframe file {self.folder / entry.file} changed since it was "
                "written; pass --overwrite to start again"
            )
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ResumeError(
                f"keyframe file {self.folder / entry.file} is not a PNG; pass --overwrite to "
                "start again"
            )
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    # --- internals -------------------------------------------------------------------------

    def _file_ok(self, entry: KeyframeEntry) -> bool:
        path = self.folder / entry.file
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256

    def _check_settings(self, stored: dict[str, Any]) -> None:
        current = json.loads(json.dumps(self.settings))  # same JSON types as the stored copy
        for key in sorted(set(stored) | set(current)):
            if stored.get(key) != current.get(key):
                raise ResumeError(
                    f"work_dir={shorten(str(self.folder))} holds a run with "
                    f"{shorten(key)}={shorten(stored.get(key))}, but this run has "
                    f"{shorten(key)}={shorten(current.get(key))}. Resume with the same "
                    "settings, or pass --overwrite or another --work-dir."
                )

    def _read_manifest(self) -> dict[str, Any]:
        """The stored manifest, checked: ``settings`` a mapping, ``keyframes`` a list of
        entries whose files are the ones this store would write (never a path outside)."""
        try:
            if self.manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
                raise ValueError(f"larger than {MAX_MANIFEST_BYTES // 2**20} MiB")
            stored = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            if not isinstance(stored, dict):
                raise ValueError(f"a JSON object at the top, not {type(stored).__name__}")
            settings, raw = stored.get("settings", {}), stored.get("keyframes", [])
            if not isinstance(settings, dict) or not isinstance(raw, list):
                raise ValueError("'settings' must be an object and 'keyframes' a list")
            entries = [_entry_from_json(n, item) for n, item in enumerate(raw)]
        except (OSError, ValueError, RecursionError) as exc:
            raise ResumeError(
                f"cannot use {self.manifest_path}: {shorten(str(exc), 160)}; pass --overwrite "
                "to start again"
            ) from exc
        return {"settings": settings, "keyframes": entries}

    def _write_manifest(self) -> None:
        manifest = {
            "zoomwatt_version": __version__,
            "settings": self.settings,
            "keyframes": [entry.__dict__ for entry in self.entries],
        }
        data = json.dumps(manifest, indent=2).encode("utf-8")
        self._write(self.manifest_path, data, "saving the manifest")

    def _write(self, path: Path, data: bytes, what: str) -> None:
        try:
            _atomic_write(path, data)
        except OSError as exc:
            raise WriteError(
                f"work_dir={shorten(str(self.folder))}: {what} failed "
                f"({exc.strerror or exc}); free space on that disk or pass another --work-dir"
            ) from exc


def _keyframe_file(index: int) -> str:
    return f"keyframes/{index:05d}.png"


def _entry_from_json(position: int, item: object) -> KeyframeEntry:
    """One manifest entry, or ValueError: the file must be the one this store names for the
    index (so a planted ``../x`` never reads or writes outside the folder)."""
    if not isinstance(item, dict):
        raise ValueError(f"keyframe entry {position} is not an object")
    types = {"index": int, "file": str, "sha256": str, "seed": int, "prompt": str}
    if set(item) != set(types) or not all(
        isinstance(item[k], t) and not isinstance(item[k], bool) for k, t in types.items()
    ):
        raise ValueError(f"keyframe entry {position} needs exactly {', '.join(types)}")
    entry = KeyframeEntry(**item)
    if entry.file != _keyframe_file(entry.index):
        raise ValueError(
            f"keyframe entry {position} names the file {shorten(entry.file)}, not "
            f"{_keyframe_file(entry.index)!r}"
        )
    return entry


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, flushed to the disk (a resume relies on it)."""
    write_atomic(path, data, fsync=True)
