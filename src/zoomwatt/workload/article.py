"""The article's claims in rows 1-2 of ``SYSTEM_DESIGN.md``, set beside the measurement.

Row 1: four models, a VAE encoder (latents 64x64), a CLIP text encoder ("77x768, 85M"), a UNet
("865M", 50 steps) and a VAE decoder (512x512). Row 2: "98% of the autoencoder and text encoder
and 84% of the UNet are convolutions; the rest of the UNet (16%) is attention matmuls".
Shares are of MACs per call. Verdicts: ``holds``; ``partly`` (the number holds only if linear
layers, i.e. GEMMs against weights, are counted as convolutions, as 1x1 convolutions would be);
``wrong``; ``setting`` (a choice of the study, not a fact to check).
"""

from __future__ import annotations

from dataclasses import dataclass

from zoomwatt.workload.results import WorkloadReport

SHARE_TOLERANCE = 0.02  # a share claim holds within 2 percentage points
PARAMS_TOLERANCE = 0.01  # a parameter count holds within 1 %


@dataclass(frozen=True)
class ArticleCheck:
    row: int  # row of SYSTEM_DESIGN.md
    claim: str  # what the article says
    measured: str  # what the product measured, with its number
    verdict: str  # holds, partly, wrong, setting
    note: str = ""


def _m(params: float) -> str:
    return f"{params / 1e6:.1f}M"


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _conv_share_check(row: int, claim: str, claimed: float, conv: float, linear: float,
                      what: str) -> ArticleCheck:  # fmt: skip
    measured = f"{what}: conv {_pct(conv)}, linear {_pct(linear)} of MACs"
    if abs(conv - claimed) <= SHARE_TOLERANCE:
        return ArticleCheck(row, claim, measured, "holds")
    if abs(conv + linear - claimed) <= SHARE_TOLERANCE:
        note = f"only if linear layers count as convolutions: conv + linear = {_pct(conv + linear)}"
        return ArticleCheck(row, claim, measured, "partly", note)
    return ArticleCheck(row, claim, measured, "wrong", f"conv is {_pct(conv)}, not {_pct(claimed)}")


def check_article(report: WorkloadReport, *, cache: bool = True) -> list[ArticleCheck]:
    """Each claim of rows 1-2, with the measured number and a verdict. ``cache``: read the
    text encoder's layer count from the workload cache (as :func:`characterize` does)."""
    from zoomwatt.workload.characterize_pipeline import text_encoder_layer_params

    text, enc = report.stage("text_encoder"), report.stage("vae_encoder")
    unet, dec = report.stage("unet"), report.stage("vae_decoder")
    checks: list[ArticleCheck] = []

    # Row 1: shapes and parameter counts.
    latent_hw = tuple(enc.output_shape[-2:])
    checks.append(ArticleCheck(
        1, "VAE encoder: latents 64x64",
        f"{'x'.join(map(str, enc.output_shape[1:]))} latents at {report.size}x{report.size}",
        "holds" if latent_hw == (64, 64) else "setting",
        "" if latent_hw == (64, 64) else "64x64 is the 512x512 case; latents are H/8 x W/8",
    ))  # fmt: skip
    tokens, width = text.output_shape[-2], text.output_shape[-1]
    checks.append(ArticleCheck(
        1, "CLIP text encoder output 77x768", f"{tokens}x{width}",
        "holds" if (tokens, width) == (77, 768) else "wrong",
        "" if width == 768 else f"{report.pipeline}'s text tower is {width} wide",
    ))  # fmt: skip
    layers_params = text_encoder_layer_params(report.pipeline, cache=cache)
    holds = abs(text.params - 85e6) <= PARAMS_TOLERANCE * 85e6
    checks.append(ArticleCheck(
        1, "CLIP text encoder: 85M parameters", f"{_m(text.params)} ({text.params:,})",
        "holds" if holds else "wrong",
        f"its transformer layers alone: {_m(layers_params)}; 85M = the 12 layers of CLIP "
        "ViT-L/14 (SD 1.x) without embeddings",
    ))  # fmt: skip
    holds = abs(unet.params - 865e6) <= PARAMS_TOLERANCE * 865e6
    checks.append(ArticleCheck(
        1, "UNet: 865M parameters", f"{_m(unet.params)} ({unet.params:,})",
        "holds" if holds else "wrong",
        "9 input channels (inpainting); the 4-channel text-to-image UNet has 14,400 fewer"
        if report.pipeline == "sd2-inpaint" else "",
    ))  # fmt: skip
    checks.append(ArticleCheck(
        1, "UNet: 50 steps",
        f"{report.steps} steps x batch {unet.batch} per keyframe in this study",
        "setting", "UNet cost per keyframe scales linearly with steps",
    ))  # fmt: skip
    out_hw = tuple(dec.output_shape[-2:])
    checks.append(ArticleCheck(
        1, "VAE decoder: 512x512 output", f"{'x'.join(map(str, dec.output_shape[1:]))}",
        "holds" if out_hw == (512, 512) else "setting",
    ))  # fmt: skip

    # Row 2: share of MACs by op class.
    def shares(stage):
        s = stage.share_by_class()
        return s["conv"], s["linear"], s["attention"]

    for stage, what in ((enc, "VAE encoder"), (dec, "VAE decoder")):
        conv, linear, _ = shares(stage)
        checks.append(_conv_share_check(2, "98% of the autoencoder is convolutions", 0.98,
                                        conv, linear, what))  # fmt: skip
    conv, linear, attention = shares(text)
    checks.append(_conv_share_check(2, "98% of the text encoder is convolutions", 0.98, conv,
                                    linear, "text encoder"))  # fmt: skip
    conv, linear, attention = shares(unet)
    checks.append(_conv_share_check(2, "84% of the UNet is convolutions", 0.84, conv, linear,
                                    "UNet"))  # fmt: skip
    holds = abs(attention - 0.16) <= SHARE_TOLERANCE
    checks.append(ArticleCheck(
        2, "the rest of the UNet (16%) is attention matmuls",
        f"attention (QK^T, AV) {_pct(attention)} of MACs", "holds" if holds else "wrong",
        f"the attention projections (Q, K, V, out) and feed-forwards are linear: {_pct(linear)}",
    ))  # fmt: skip
    return checks


def article_to_dicts(checks: list[ArticleCheck]) -> list[dict[str, object]]:
    return [
        {"row": c.row, "claim": c.claim, "measured": c.measured, "verdict": c.verdict,
         "note": c.note}
        for c in checks
    ]  # fmt: skip
