"""The article's claims (SYSTEM_DESIGN.md rows 1-2) beside the measurement."""

from __future__ import annotations

from zoomwatt.workload import characterize, check_article


def _verdicts(report):
    return [(c.claim, c.verdict) for c in check_article(report)]


def test_sd2_verdicts():
    checks = check_article(characterize())
    verdicts = dict((c.claim, c.verdict) for c in checks)
    assert verdicts["CLIP text encoder output 77x768"] == "wrong"
    assert verdicts["CLIP text encoder: 85M parameters"] == "wrong"
    assert verdicts["UNet: 865M parameters"] == "holds"
    assert verdicts["VAE encoder: latents 64x64"] == "holds"
    assert verdicts["VAE decoder: 512x512 output"] == "holds"
    assert verdicts["84% of the UNet is convolutions"] == "partly"  # 52% conv + 32% linear
    assert verdicts["98% of the text encoder is convolutions"] == "partly"  # all linear
    assert verdicts["the rest of the UNet (16%) is attention matmuls"] == "holds"
    text = next(c for c in checks if c.claim.endswith("77x768"))
    assert text.measured == "77x1024"
    params = next(c for c in checks if c.claim.endswith("85M parameters"))
    assert "340.4M" in params.measured
    autoencoder = [c for c in checks if "autoencoder" in c.claim]
    assert len(autoencoder) == 2  # encoder and decoder, each measured


def test_sd15_text_width_holds():
    verdicts = dict(_verdicts(characterize(pipeline="sd15-inpaint")))
    assert verdicts["CLIP text encoder output 77x768"] == "holds"
    assert verdicts["CLIP text encoder: 85M parameters"] == "wrong"  # 123.1M with embeddings


def test_other_sizes_are_settings():
    verdicts = dict(_verdicts(characterize(size=768)))
    assert verdicts["VAE encoder: latents 64x64"] == "setting"
