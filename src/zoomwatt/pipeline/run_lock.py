"""One run at a time per work folder and per output file.

A lock is an ``flock`` on a small file (``WORK_DIR/.lock``, ``OUT_DIR/.OUT_NAME.lock``) that
also records who holds it (process id, host, start time) for the error message. The kernel
releases an ``flock`` when its process ends however it ends, so a run that was killed never
leaves a lock that blocks the next one: a stale lock file is simply taken over. The lock file
is removed when the run lets go of it; a run that finds the file replaced under it (another
run removed it and made a new one between our open and our lock) starts again on the new file.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

from zoomwatt.errors import InputError

log = logging.getLogger(__name__)

try:  # POSIX (Linux, macOS), the platforms zoomwatt supports
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking, said once in the log
    fcntl = None  # type: ignore[assignment]


def lock_file_for_output(out: Path) -> Path:
    return out.with_name(f".{out.name}.lock")


def lock_file_for_work_dir(work_dir: Path) -> Path:
    return work_dir / ".lock"


class RunLock:
    """An exclusive, non-blocking lock on ``path`` held for one run.

    ``argument`` and ``what`` name the option and the thing locked in the error a second run
    gets: ``work_dir='out/zoom.work': expected a folder no other run is using. ...``"""

    def __init__(self, path: Path, argument: str, value: str, what: str):
        self.path = path
        self.argument, self.value, self.what = argument, value, what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        if fcntl is None:  # pragma: no cover
            log.warning("no file locking on this platform: do not start two runs on %s", self.path)
            return
        for _ in range(10):  # a lost race with a run that removes the file: try again
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _describe_holder(fd)
                os.close(fd)
                raise InputError(
                    self.argument,
                    self.value,
                    f"{self.what} no other run is using",
                    f"Another zoomwatt run ({holder}) is using it; wait for it to finish, "
                    f"or pass another --{self.argument.replace('_', '-')}",
                ) from None
            if _same_file(fd, self.path):
                self._fd = fd
                _record_holder(fd)
                return
            os.close(fd)
        raise InputError(self.argument, self.value, f"{self.what} whose lock file stays put")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it: no one else is inside
        except OSError:
            log.debug("could not remove the lock file %s", self.path, exc_info=True)
        os.close(self._fd)  # closing releases the flock
        self._fd = None

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(
                self.argument,
                self.value,
                f"{self.what} that can be written",
                f"Creating the lock file {self.path} failed: {exc.strerror or exc}",
            ) from exc

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False


def _record_holder(fd: int) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
    except OSError:  # the record is only for messages
        log.debug("could not write the lock holder", exc_info=True)


def _describe_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 512, 0).decode("utf-8"))
        started = time.strftime("%H:%M:%S", time.localtime(float(info["started"])))
        return f"process {int(info['pid'])} on {str(info['host'])[:40]}, started {started}"
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
        return "a process that has not said who it is yet"
