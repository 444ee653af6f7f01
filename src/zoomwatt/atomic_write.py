"""Writing a file so that no reader ever sees half of it: the data goes to a temporary file of
this process next to the target (a unique name, so two runs never share one), which is then
renamed over the target; on any failure the temporary file is removed and the error raised."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, data: bytes | str, *, fsync: bool = False) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; ``fsync``: flush it to the disk
    before the rename (for files a resumed run relies on)."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
