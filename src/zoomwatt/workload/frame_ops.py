"""The non-model work of the zoom, counted analytically: bytes moved and simple ops.

One call of this stage is one keyframe interval: the keyframe's own image work once, the
``N - 1`` in-between frames, and ``N`` output frames converted and encoded (N = ``every``).
Images are ``H x W x 3`` uint8 (1 byte per element); the float sides of the VAE's pre- and
post-processing are counted in the activation dtype. The per-element costs, stated once:

======================  =========  ==========================================================
op                      FLOPs      per what, and why
======================  =========  ==========================================================
shrink (area)           1 + 1      1 add per source element, 1 multiply per output element
canvas, mask, paste     0          copies and fills: bytes only
VAE preprocess          4          per image element: x/127.5 - 1 (2), mask compare (1),
                                   multiply by the keep-mask (1); the mask is resized to H/8
VAE postprocess         6          per image element: x/2 + 0.5 (2), clamp (2), * 255 (1),
                                   round (1)
bilinear warp           7          per output element: 4 multiplies + 3 adds (the warp is a
                                   pure scale, so tap weights are per row and per column)
masked blend            4 (+1/px)  per element: a + alpha*(b - a) (3) + round (1); alpha: one
                                   min per pixel (separable ramps)
RGB -> YUV 4:2:0        12 per px  Y: 3 multiplies + 3 adds; U, V on 2x2 blocks: box average of
                                   3 channels (12) + 2 x 6 for U and V = 24 per 4 pixels
video encode            0          fixed-function on target devices: only its DRAM traffic,
                                   reading the frame and one reference, writing the
                                   reconstruction (1.5 bytes per pixel each)
======================  =========  ==========================================================

The warps follow :mod:`zoomwatt.pipeline.geometry`: the crop of ``K[i]`` is read from a source
region of ``f^2`` of the frame (``f = r^(1 - j/N)``); the shrink of ``K[i-1]`` reads all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoomwatt.workload.records import DTYPE_BYTES, LayerRecord, OpClass

SHRINK_FLOPS_PER_SOURCE_ELEMENT = 1
SHRINK_FLOPS_PER_OUTPUT_ELEMENT = 1
VAE_PRE_FLOPS_PER_ELEMENT = 4
VAE_POST_FLOPS_PER_ELEMENT = 6
BILINEAR_FLOPS_PER_ELEMENT = 7
BLEND_FLOPS_PER_ELEMENT = 4
BLEND_ALPHA_FLOPS_PER_PIXEL = 1
YUV420_FLOPS_PER_PIXEL = 12
YUV420_BYTES_PER_PIXEL = 1.5


@dataclass(frozen=True)
class FrameOpsCount:
    """The frame operations of one keyframe interval."""

    records: tuple[LayerRecord, ...]
    peak_bytes: float  # frame buffers live at once during an in-between frame


def count_frame_ops(
    height: int, width: int, border_px: int, every: int, activation_dtype: str
) -> FrameOpsCount:
    """Count the frame operations of one keyframe interval (see the module's table).

    ``border_px`` is the border the inpainter fills at top and bottom (``border_x`` follows
    the aspect ratio, as in :class:`zoomwatt.pipeline.geometry.ZoomGeometry`).
    """
    h, w, n = height, width, every
    border_x = round(border_px * width / height)
    inner_h, inner_w = h - 2 * border_px, w - 2 * border_x
    ratio = inner_h / h  # r: side of K[i-1] inside K[i]
    px, inner_px, latent_px = h * w, inner_h * inner_w, (h // 8) * (w // 8)
    elements, inner_elements = 3 * px, 3 * inner_px
    act = DTYPE_BYTES[activation_dtype]
    inbetweens = n - 1
    # Sum over in-between frames of the fraction of K[i] the crop reads: f_j^2, f_j = r^(1-j/N).
    crop_read_fraction = sum(ratio ** (2 * (1 - j / n)) for j in range(1, n))

    def rec(module: str, op_class: OpClass, flops: float, read: float, written: float):
        return LayerRecord(
            module=f"frame_ops.{module}",
            op=f"analytic.{module.split('.')[-1]}",
            op_class=op_class,
            macs=0,
            flops=round(flops),
            weight_bytes=0.0,
            input_bytes=float(read),
            output_bytes=float(written),
            dtype="uint8",
        )

    records = (
        # once per keyframe
        rec("keyframe.shrink", OpClass.RESAMPLE,
            SHRINK_FLOPS_PER_SOURCE_ELEMENT * elements
            + SHRINK_FLOPS_PER_OUTPUT_ELEMENT * inner_elements,
            elements, inner_elements),
        rec("keyframe.canvas_and_mask", OpClass.DATA_MOVEMENT, 0,
            inner_elements, elements + px),
        rec("keyframe.vae_preprocess", OpClass.ELEMENTWISE,
            VAE_PRE_FLOPS_PER_ELEMENT * elements,
            elements + px, (elements + latent_px) * act),
        rec("keyframe.vae_postprocess", OpClass.ELEMENTWISE,
            VAE_POST_FLOPS_PER_ELEMENT * elements,
            elements * act, elements),
        rec("keyframe.paste_back", OpClass.DATA_MOVEMENT, 0, inner_elements, inner_elements),
        # N - 1 in-between frames
        rec("inbetween.warp_current", OpClass.RESAMPLE,
            inbetweens * BILINEAR_FLOPS_PER_ELEMENT * elements,
            crop_read_fraction * elements, inbetweens * elements),
        rec("inbetween.warp_previous", OpClass.RESAMPLE,
            inbetweens * BILINEAR_FLOPS_PER_ELEMENT * elements,
            inbetweens * elements, inbetweens * elements),
        rec("inbetween.blend", OpClass.ELEMENTWISE,
            inbetweens * (BLEND_FLOPS_PER_ELEMENT * elements + BLEND_ALPHA_FLOPS_PER_PIXEL * px),
            inbetweens * (2 * elements + px), inbetweens * elements),
        # N output frames
        rec("output.rgb_to_yuv420", OpClass.ELEMENTWISE,
            n * YUV420_FLOPS_PER_PIXEL * px,
            n * elements, n * YUV420_BYTES_PER_PIXEL * px),
        rec("output.video_encode", OpClass.OTHER, 0,
            n * 2 * YUV420_BYTES_PER_PIXEL * px, n * YUV420_BYTES_PER_PIXEL * px),
    )  # fmt: skip
    # Live during an in-between frame: K[i-1], K[i], two warps, the output, alpha, its YUV.
    peak = 5 * elements + px + YUV420_BYTES_PER_PIXEL * px
    return FrameOpsCount(records, float(peak))
