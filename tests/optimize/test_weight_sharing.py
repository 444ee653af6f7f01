"""Weight sharing: the article's 512 -> 160 bits example, and the storage formula."""

from __future__ import annotations

import pytest
import torch

from zoomwatt.errors import InputError
from zoomwatt.optimizer.weight_sharing import (
    ARTICLE_INDICES,
    article_example,
    kmeans_1d,
    share_weights,
    shared_bytes_ratio,
)


def test_article_example_512_to_160_bits():
    ex = article_example()
    # 16 weights x 32 bits = 512; 16 x 2-bit indices + 4 x 32-bit shared values = 32 + 128 = 160
    assert ex.original_bits == 512
    assert ex.shared_bits == 160
    assert ex.compression_ratio == pytest.approx(512 / 160)  # 3.2
    assert ex.indices.tolist() == [list(r) for r in ARTICLE_INDICES]
    # cluster means: (-0.98 - 1.08 - 0.91 - 1.03) / 4 = -1; (0.09 + 0.05 - 0.14 + 0 + 0) / 5 = 0;
    # (1.48 + 1.53 + 1.49) / 3 = 1.5; (2.09 + 2.12 + 1.92 + 1.87) / 4 = 2
    assert ex.codebook.tolist() == pytest.approx([-1.0, 0.0, 1.5, 2.0], abs=1e-6)
    assert ex.decode()[0].tolist() == pytest.approx([2.0, -1.0, 1.5, 0.0], abs=1e-6)


def test_storage_of_a_layer():
    w = torch.arange(1000, dtype=torch.float32)
    shared = share_weights(w, 4, weight_bits=16)
    # 1000 x 4 + 16 x 16 = 4256 bits vs 1000 x 16 = 16000
    assert shared.shared_bits == 4256
    assert shared.original_bits == 16000
    assert shared_bytes_ratio(4, 16, 1000) == pytest.approx(4256 / 16000)


def test_kmeans_separates_clusters_and_constant_input():
    x = torch.tensor([0.0, 0.1, 0.2, 10.0, 10.1, 10.2])
    assert kmeans_1d(x, 2).tolist() == pytest.approx([0.1, 10.1])
    assert kmeans_1d(torch.full((5,), 3.0), 4).tolist() == [3.0] * 4


@pytest.mark.parametrize("bits", [0, 17, 2.5, True])
def test_bad_bits(bits):
    with pytest.raises(InputError, match="bits"):
        share_weights(torch.ones(4), bits)
