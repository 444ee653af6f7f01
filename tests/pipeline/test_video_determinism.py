"""The same frames give the same MP4 bytes, run after run and from any thread, at the test
size and at the size users use (video.py pins libx264's settings for that)."""

from __future__ import annotations

import hashlib
import threading

import numpy as np
import pytest

from zoomwatt.pipeline.video import VideoWriter


def frames(size: int, count: int) -> list[np.ndarray]:
    """A moving, textured picture: smooth gradients plus seeded noise, so the encoder has
    real motion and detail to spend bits on (flat frames would hide rate-control effects)."""
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 40, (size, size, 3), dtype=np.uint8)
    y, x = np.mgrid[0:size, 0:size]
    out = []
    for t in range(count):
        base = ((x + 3 * t) % size) * 200 // size + ((y + t) % size) * 55 // size
        out.append((np.stack([base, base[::-1], base.T], axis=-1) + noise).astype(np.uint8))
    return out


def encode(path, images, fps=30.0) -> str:
    leftovers = [bytearray(np.random.bytes(1 << 16)) for _ in range(32)]  # dirty the heap
    with VideoWriter(path, fps, images[0].shape[1], images[0].shape[0]) as writer:
        for image in images:
            writer.write(image)
    del leftovers
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("size", "count"), [(64, 24), (512, 12)])
def test_same_frames_same_bytes_in_any_thread(tmp_path, size, count):
    images = frames(size, count)
    hashes = [encode(tmp_path / f"main{i}.mp4", images) for i in range(3)]
    for i in range(3):
        box = []
        worker = threading.Thread(
            target=lambda i=i, box=box: box.append(encode(tmp_path / f"thread{i}.mp4", images))
        )
        worker.start()
        worker.join()
        hashes += box
    assert len(hashes) == 6 and len(set(hashes)) == 1
