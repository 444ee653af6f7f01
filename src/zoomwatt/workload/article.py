"""The article's claims in rows 1-2 of ``SYSTEM_DESIGN.md``, set beside the measurement.

Row 1: four models, a VAE encoder (latents 64x64), a CLIP text encoder ("77x768, 85M"), a UNet
("865M", 50 steps) and a VAE decoder (512x512). Row 2: "98% of the autoencoder and text encoder
and 84% of the UNet are convolutions; the rest of the UNet (16%) is attention matmuls".
Shares are of MACs per call. A txt2img pipeline has no VAE encoder: its latents are the VAE
decoder's input, and the encoder's share claim is left out. Verdicts: ``holds``; ``partly``
(the number holds only if linear layers, i.e. GEMMs against weights, are counted as
convolutions, as 1x1 convolutions would be); ``wrong``; ``setting`` (a choice of the study, not
a fact to check).
"""

from __future__ import annotations

from dataclasses import dataclass

from zoomwatt.workload.results import WorkloadReport
from zoomwatt.workload.stages import StageName

SHARE_TOLERANCE = 0.02  # a share claim holds within 2 percentage points
PARAMS_TOLERANCE = 0.01  # a parameter count holds within 1 %

#: Row 2: the share of each model's MACs the article says are convolutions.
CONV_SHARE_CLAIMS: dict[StageName, float] = {
    StageName.TEXT_ENCODER: 0.98,
    StageName.VAE_ENCODER: 0.98,
    StageName.VAE_DECODER: 0.98,
    StageName.UNET: 0.84,
}
#: Row 2: the share of the UNet's MACs the article says are attention matmuls.
UNET_ATTENTION_CLAIM = 0.16
#: Row 1: parameter counts.
TEXT_ENCODER_PARAMS_CLAIM = 85e6
UNET_PARAMS_CLAIM = 865e6


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
    return [*_row1_checks(report, cache), *_share_checks(report)]


def _row1_checks(report: WorkloadReport, cache: bool) -> list[ArticleCheck]:
    """Row 1: the shapes the models take and give, and their parameter counts (the steps are a
    setting of the study)."""
    from zoomwatt.workload.characterize_pipeline import text_encoder_layer_params

    text, enc = report.stage(StageName.TEXT_ENCODER), report.find(StageName.VAE_ENCODER)
    unet, dec = report.stage(StageName.UNET), report.stage(StageName.VAE_DECODER)
    if enc is not None:
        latents = enc.output_shape[1:]
        measured = f"{'x'.join(map(str, latents))} latents at {report.size}x{report.size}"
    else:  # txt2img: the latents the UNet denoises and the decoder decodes
        latents = dec.input_shapes[0][1:]
        measured = (f"no VAE encoder ({report.kind}); {'x'.join(map(str, latents))} latents "
                    f"at {report.size}x{report.size}")  # fmt: skip
    latent_hw = tuple(latents[-2:])
    tokens, width = text.output_shape[-2], text.output_shape[-1]
    pipeline = report.workload if report.workload is not None else report.pipeline
    layers_params = text_encoder_layer_params(pipeline, cache=cache)
    text_claim, unet_claim = TEXT_ENCODER_PARAMS_CLAIM, UNET_PARAMS_CLAIM
    text_holds = abs(text.params - text_claim) <= PARAMS_TOLERANCE * text_claim
    unet_holds = abs(unet.params - unet_claim) <= PARAMS_TOLERANCE * unet_claim
    out_hw = tuple(dec.output_shape[-2:])
    return [
        ArticleCheck(
            1, "VAE encoder: latents 64x64", measured,
            "holds" if latent_hw == (64, 64) else "setting",
            "" if latent_hw == (64, 64) else "64x64 is the 512x512 case; latents are H/8 x W/8",
        ),
        ArticleCheck(
            1, "CLIP text encoder output 77x768", f"{tokens}x{width}",
            "holds" if (tokens, width) == (77, 768) else "wrong",
            "" if width == 768 else f"{report.pipeline}'s text tower is {width} wide",
        ),
        ArticleCheck(
            1, "CLIP text encoder: 85M parameters", f"{_m(text.params)} ({text.params:,})",
            "holds" if text_holds else "wrong",
            f"its transformer layers alone: {_m(layers_params)}; 85M = the 12 layers of CLIP "
            "ViT-L/14 (SD 1.x) without embeddings",
        ),
        ArticleCheck(
            1, "UNet: 865M parameters", f"{_m(unet.params)} ({unet.params:,})",
            "holds" if unet_holds else "wrong",
            "9 input channels (inpainting); the 4-channel text-to-image UNet has 14,400 fewer"
            if report.pipeline == "sd2-inpaint" else "",
        ),
        ArticleCheck(
            1, "UNet: 50 steps",
            f"{report.steps} steps x batch {unet.batch} per {report.unit} in this study",
            "setting", f"UNet cost per {report.unit} scales linearly with steps",
        ),
        ArticleCheck(
            1, "VAE decoder: 512x512 output", f"{'x'.join(map(str, dec.output_shape[1:]))}",
            "holds" if out_hw == (512, 512) else "setting",
        ),
    ]  # fmt: skip


def _share_checks(report: WorkloadReport) -> list[ArticleCheck]:
    """Row 2: the share of MACs by op class of each model."""
    claims = CONV_SHARE_CLAIMS

    def check(stage: StageName, claim: str) -> ArticleCheck:
        share = report.stage(stage).share_by_class()
        conv, linear = share["conv"], share["linear"]
        return _conv_share_check(2, claim, claims[stage], conv, linear, stage.display)

    unet = report.stage(StageName.UNET).share_by_class()
    attention, linear = unet["attention"], unet["linear"]
    holds = abs(attention - UNET_ATTENTION_CLAIM) <= SHARE_TOLERANCE
    encoder = report.find(StageName.VAE_ENCODER) is not None
    autoencoder = "98% of the autoencoder is convolutions"
    return [
        *([check(StageName.VAE_ENCODER, autoencoder)] if encoder else []),
        check(StageName.VAE_DECODER, autoencoder),
        check(StageName.TEXT_ENCODER, "98% of the text encoder is convolutions"),
        check(StageName.UNET, "84% of the UNet is convolutions"),
        ArticleCheck(
            2, "the rest of the UNet (16%) is attention matmuls",
            f"attention (QK^T, AV) {_pct(attention)} of MACs", "holds" if holds else "wrong",
            "the attention projections (Q, K, V, out) and feed-forwards are linear: "
            f"{_pct(linear)}",
        ),
    ]  # fmt: skip


def article_to_dicts(checks: list[ArticleCheck]) -> list[dict[str, object]]:
    return [
        {"row": c.row, "claim": c.claim, "measured": c.measured, "verdict": c.verdict,
         "note": c.note}
        for c in checks
    ]  # fmt: skip
