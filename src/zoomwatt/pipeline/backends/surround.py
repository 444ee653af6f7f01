"""Where a zoom's border may take patches from: what surrounds the start picture's subject.

A zoom out continues what lies around the subject, not the subject: around a cup on a table,
more table, not more saucer. Without a model, :func:`surround_mask` takes the materials the
picture's edge is made of:

1. **Materials.** The picture, shrunk to SMALL_PX on its shorter side, is split into MATERIALS
   clusters of colour (Lab, lightly blurred) and local contrast (the spread of L over a few
   pixels: a grained table and a glazed saucer of one hue differ in it), by k-means from a
   deterministic start (the median, then each next point farthest from those chosen).
2. **The edge's materials.** Clusters are taken in order of how much of the picture's outer
   row of pixels they cover, largest first, until they cover EDGE_SHARE of it; a cluster
   with a share of the edge under UNDER_REPRESENTED times its share of the picture is
   skipped. A background runs round the edge (a table, sky and ground); a subject sits in the
   middle and the frame only cuts it here and there (coffee's saucer covers 23% of the
   picture and 13% of its edge, its table 45% and 76%), and a subject as large as the frame
   cuts much of the edge but is still rarer there than in the picture (a disc over 80% of a
   frame whose sides cut it over a third of their length).
3. **Clean regions.** Gaps narrower than CLOSE_PX in the chosen clusters are closed (the dark
   grain of a light table belongs to it), only the parts that reach the edge are kept (a
   cup's crema of the table's hue is an island in the subject), and the mask, enlarged to the
   picture, is eroded by ``margin_px`` so that a patch centred in it does not straddle the
   subject's outline.

:func:`detailed_mask` is the other narrowing: the pixels with some texture around them.
"""

from __future__ import annotations

import cv2
import numpy as np

SMALL_PX = 64  # the clustering's working size (shorter side)
MATERIALS = 5  # k of the k-means
KMEANS_ROUNDS = 20
EDGE_SHARE = 2.0 / 3.0  # the edge's materials cover at least this much of its outer row
UNDER_REPRESENTED = 0.6  # clusters rarer on the edge than 0.6 x in the picture: a subject
CONTRAST_SIGMA_PX = 2.0  # local contrast: spread of L in a Gaussian window (at SMALL_PX)
CLOSE_PX = 5  # gaps this narrow (at SMALL_PX: 40 px at 512) in the chosen materials close
# Detail: band-pass L (minus its Gaussian blur of DETAIL_SIGMA_PX) squared, averaged over a
# patch; below FLAT_L2 (1.4 L RMS) a patch is flat. Coffee's out-of-focus corner and glazed
# saucer are (a quarter of the photo at 512 px), its table's grain is not.
DETAIL_SIGMA_PX = 2.0
FLAT_L2 = 2.0


def surround_mask(picture: np.ndarray, margin_px: int = 0) -> np.ndarray:
    """(h, w) bool: the pixels of ``picture`` ((h, w, 3) RGB, uint8 or float in 0..255) made
    of the materials of its edge (see the module docstring), eroded by ``margin_px``."""
    h, w = picture.shape[:2]
    labels = materials(picture)
    small = np.isin(labels, edge_materials(labels)).astype(np.uint8)
    close = np.ones((CLOSE_PX, CLOSE_PX), np.uint8)
    small = cv2.morphologyEx(small, cv2.MORPH_CLOSE, close, borderType=cv2.BORDER_REPLICATE)
    full = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    mask = _reaching_the_edge(full)
    if margin_px > 0:
        kernel = np.ones((2 * margin_px + 1, 2 * margin_px + 1), np.uint8)
        mask = cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE) > 0
    return mask


def edge_materials(labels: np.ndarray) -> list[int]:
    """The clusters of ``labels`` that make the picture's edge (step 2 of the module
    docstring); at least one."""
    edge = edge_pixels(labels)
    on_edge = np.bincount(edge, minlength=MATERIALS) / edge.size
    anywhere = np.bincount(labels.reshape(-1), minlength=MATERIALS) / labels.size
    chosen, covered = [], 0.0
    for cluster in np.argsort(-on_edge, kind="stable"):
        if on_edge[cluster] == 0 or covered >= EDGE_SHARE:
            break
        if on_edge[cluster] < UNDER_REPRESENTED * anywhere[cluster]:
            continue
        chosen.append(int(cluster))
        covered += on_edge[cluster]
    return chosen or [int(np.argmax(on_edge))]


def detailed_mask(picture: np.ndarray, patch_px: int) -> np.ndarray:
    """(h, w) bool: the pixels whose surrounding ``patch_px`` window has band-pass L energy of
    FLAT_L2 or more."""
    light = cv2.cvtColor(np.clip(picture, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    light = light[..., 0]
    band = light - cv2.GaussianBlur(light, (0, 0), DETAIL_SIGMA_PX)
    return cv2.GaussianBlur(band * band, (0, 0), float(patch_px)) >= FLAT_L2


def materials(picture: np.ndarray) -> np.ndarray:
    """(hs, ws) int labels 0..MATERIALS-1 of the picture shrunk to SMALL_PX."""
    h, w = picture.shape[:2]
    scale = min(1.0, SMALL_PX / min(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(picture.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(np.clip(small, 0, 255) / 255.0, cv2.COLOR_RGB2Lab)
    light = lab[..., 0]
    mean = cv2.GaussianBlur(light, (0, 0), CONTRAST_SIGMA_PX)
    square = cv2.GaussianBlur(light * light, (0, 0), CONTRAST_SIGMA_PX)
    contrast = np.sqrt(np.maximum(square - mean * mean, 0.0))
    colour = cv2.GaussianBlur(lab, (0, 0), 1.0)
    features = np.concatenate([colour, contrast[..., None]], axis=-1).reshape(-1, 4)
    return kmeans(features, MATERIALS).reshape(small.shape[:2])


def kmeans(points: np.ndarray, k: int) -> np.ndarray:
    """(n,) labels of ``points`` ((n, d) float32) in ``k`` clusters, at most KMEANS_ROUNDS
    rounds; deterministic: the first centre is the median, each next one the point farthest
    from those chosen."""
    chosen = [np.median(points, axis=0)]
    nearest = ((points - chosen[0]) ** 2).sum(1)
    for _ in range(k - 1):
        chosen.append(points[int(np.argmax(nearest))])
        nearest = np.minimum(nearest, ((points - chosen[-1]) ** 2).sum(1))
    centres = np.array(chosen, np.float32)
    labels = None
    for _ in range(KMEANS_ROUNDS):
        new = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(2), axis=1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = points[labels == j]
            if len(members):
                centres[j] = members.mean(0)
    return labels


def edge_pixels(labels: np.ndarray) -> np.ndarray:
    """The values of the outer row of pixels of a 2-D array, each pixel once."""
    if min(labels.shape) < 3:
        return labels.reshape(-1)
    return np.concatenate([labels[0], labels[-1], labels[1:-1, 0], labels[1:-1, -1]])


def _reaching_the_edge(mask: np.ndarray) -> np.ndarray:
    """The parts of ``mask`` (8-connected) that reach the outer row of pixels."""
    count, parts = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(edge_pixels(parts))] = True
    keep[0] = False  # the background of connectedComponents: not in the mask
    return keep[parts]
