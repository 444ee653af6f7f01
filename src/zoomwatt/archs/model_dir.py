"""``--model DIR``: a local diffusers pipeline folder, read as a
:class:`~zoomwatt.archs.pipelines.PipelineSpec` from its JSON files alone.

Read: ``model_index.json`` (the pipeline class and its components), each model's
``config.json`` (``unet``, ``vae``, ``text_encoder`` and, for SDXL, ``text_encoder_2``) and
``scheduler/scheduler_config.json`` (the prediction type). No weights are read or needed, so a
folder of configs alone is enough to count the work of the pipeline it describes.

The kind follows from the UNet and the class: a UNet reading the VAE's latent channels makes
pictures from text (``StableDiffusionPipeline``, ``StableDiffusionXLPipeline``); one reading
``2 * latent + 1`` channels (latents, mask, masked-picture latents) inpaints
(``StableDiffusionInpaintPipeline``, ``StableDiffusionXLInpaintPipeline``). Any other folder, or
one whose parts do not fit together (the UNet's text width is not the text encoders' widths
summed, SDXL's added embedding does not match its time ids and pooled text), is refused with
one :class:`~zoomwatt.errors.InputError` line naming the file.

Steps and guidance are not in a folder: 20 steps with guidance (``guidance_scale`` 7.5, 5.0
for SDXL, the diffusers defaults); the workload options override them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoomwatt.archs.pipelines import INPAINT, PREDICTION_TYPES, TXT2IMG, PipelineSpec, make_spec
from zoomwatt.errors import InputError, shorten

MAX_JSON_BYTES = 16 * 2**20
MAX_WIDTH = 8192  # channels, hidden sizes, tokens: far above any released model
MAX_BLOCKS = 8

PIPELINE_CLASSES: dict[str, str] = {
    "StableDiffusionPipeline": TXT2IMG,
    "StableDiffusionInpaintPipeline": INPAINT,
    "StableDiffusionXLPipeline": TXT2IMG,
    "StableDiffusionXLInpaintPipeline": INPAINT,
}
# Component: (library, classes model_index.json may name).
COMPONENT_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "text_encoder": ("transformers", ("CLIPTextModel", "CLIPTextModelWithProjection")),
    "text_encoder_2": ("transformers", ("CLIPTextModelWithProjection",)),
    "unet": ("diffusers", ("UNet2DConditionModel",)),
    "vae": ("diffusers", ("AutoencoderKL",)),
}
# Keys every config must set (a default could be another size than the real model).
_NEEDED: dict[str, tuple[str, ...]] = {
    "unet": ("in_channels", "out_channels", "cross_attention_dim", "sample_size"),
    "vae": ("in_channels", "latent_channels"),
    "text": ("hidden_size", "max_position_embeddings", "num_hidden_layers"),
}
_TRANSFORMERS_META = ("architectures", "torch_dtype", "dtype", "transformers_version")


class _Folder:
    """One folder; every refusal names ``argument=folder`` and the file."""

    def __init__(self, folder: Path, argument: str):
        self.folder = folder
        self.argument = argument

    def bad(self, rel: str, requirement: str, finding: str) -> InputError:
        return InputError(self.argument, str(self.folder), f"{rel} {requirement}", finding)

    def read_object(self, rel: str) -> dict[str, Any]:
        """The JSON object in ``rel`` (UTF-8, at most 16 MB, finite numbers)."""
        path = self.folder / rel
        try:
            size = path.stat().st_size
            raw = path.read_bytes() if size <= MAX_JSON_BYTES else b""
        except FileNotFoundError:
            raise self.bad(rel, "to exist", "It is missing") from None
        except OSError as exc:
            raise self.bad(rel, "to be a readable file", str(exc.strerror or exc)) from None
        if size > MAX_JSON_BYTES:
            raise self.bad(rel, "to be a JSON file of at most 16 MB", f"It has {size} bytes")
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise self.bad(rel, "to be valid JSON", str(exc)[:120]) from None
        if not isinstance(data, dict):
            raise self.bad(rel, "to be a JSON object", f"It is {type(data).__name__}")
        return data

    def whole(self, rel: str, config: dict[str, Any], key: str, limit: int = MAX_WIDTH) -> int:
        value = config.get(key)
        if value is None:
            raise self.bad(rel, f"to set {key}", "It does not (a default may be another size)")
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            found = f"It is {shorten(value, 40)}"
            raise self.bad(rel, f"to set {key} to an integer from 1 to {limit}", found)
        return value

    def widths(self, rel: str, config: dict[str, Any]) -> list[int]:
        value = config.get("block_out_channels")
        ok = isinstance(value, list) and 1 <= len(value) <= MAX_BLOCKS
        if not ok or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            found = f"It is {shorten(value, 40)}"
            raise self.bad(rel, f"to set block_out_channels to 1 to {MAX_BLOCKS} integers", found)
        if not all(1 <= v <= MAX_WIDTH for v in value):
            found = f"It is {shorten(value, 40)}"
            raise self.bad(rel, f"to keep block_out_channels in 1..{MAX_WIDTH}", found)
        return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _index(reader: _Folder) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The pipeline class, each model component's class, and the whole index."""
    rel = "model_index.json"
    index = reader.read_object(rel)
    cls = index.get("_class_name")
    if not isinstance(cls, str) or cls not in PIPELINE_CLASSES:
        found = f"It names {shorten(cls, 60)}"
        raise reader.bad(rel, f"to name one of {', '.join(PIPELINE_CLASSES)}", found)
    needed = ["text_encoder", "unet", "vae"] + (["text_encoder_2"] if "XL" in cls else [])
    classes = {}
    for name in needed:
        pair = index.get(name)
        if pair is None or pair == [None, None]:
            raise reader.bad(rel, f"to list the {name} of a {cls}", "It does not")
        library, allowed = COMPONENT_CLASSES[name]
        if not (isinstance(pair, list) and len(pair) == 2 and pair[0] == library
                and pair[1] in allowed):  # fmt: skip
            wanted = f'["{library}", "{" or ".join(allowed)}"]'
            raise reader.bad(rel, f"to give the {name} as {wanted}", f"It gives {shorten(pair)}")
        classes[name] = pair[1]
    return cls, classes, index


def _component(reader: _Folder, name: str, cls: str) -> dict[str, Any]:
    """One model's config, as the shipped configs are written (``_class_name``, ``_source``)."""
    rel = f"{name}/config.json"
    raw = reader.read_object(rel)
    if "_class_name" in raw and raw["_class_name"] != cls:
        found = f"It describes {shorten(raw['_class_name'], 40)}"
        raise reader.bad(rel, f"to describe a {cls}, as model_index.json says", found)
    config = {k: v for k, v in raw.items() if not k.startswith("_") and k not in _TRANSFORMERS_META}
    for key in _NEEDED["text" if name.startswith("text") else name]:
        reader.whole(rel, config, key)
    if name.startswith("text"):
        reader.whole(rel, config, "num_hidden_layers", 128)
        if cls == "CLIPTextModelWithProjection":
            reader.whole(rel, config, "projection_dim")
    else:
        reader.widths(rel, config)
    return {"_class_name": cls, "_source": f"{reader.folder / rel}", **config}


def _kind(reader: _Folder, cls: str, configs: dict[str, dict[str, Any]]) -> str:
    """txt2img or inpaint, from the UNet's input channels; the class must agree."""
    latent = configs["vae"]["latent_channels"]
    unet = configs["unet"]
    rel = "unet/config.json"
    by_channels = {latent: TXT2IMG, 2 * latent + 1: INPAINT}
    kind = by_channels.get(unet["in_channels"])
    if kind is None:
        raise reader.bad(
            rel,
            f"to read {latent} (txt2img) or {2 * latent + 1} (inpainting) channels",
            f"in_channels is {unet['in_channels']}",
        )
    if kind != PIPELINE_CLASSES[cls]:
        raise reader.bad(
            rel,
            f"to fit a {cls} ({PIPELINE_CLASSES[cls]})",
            f"A UNet of {unet['in_channels']} input channels is {kind}",
        )
    if unet["out_channels"] != latent:
        raise reader.bad(rel, f"to write the VAE's {latent} latent channels", "It does not")
    return kind


def _check_text(reader: _Folder, cls: str, configs: dict[str, dict[str, Any]]) -> None:
    """The UNet attends to the text encoders' hidden states, side by side; SDXL's added
    embedding is the pooled text plus ``addition_time_embed_dim`` per time id."""
    rel = "unet/config.json"
    unet = configs["unet"]
    texts = [configs[c] for c in ("text_encoder", "text_encoder_2") if c in configs]
    width = sum(t["hidden_size"] for t in texts)
    if unet["cross_attention_dim"] != width:
        found = f"It is {unet['cross_attention_dim']}"
        raise reader.bad(rel, f"to attend to text of width {width} (the encoders')", found)
    added = unet.get("addition_embed_type")
    if added != ("text_time" if "XL" in cls else None):
        raise reader.bad(rel, f"to set the addition_embed_type of a {cls}", f"It is {added!r}")
    if added is None:
        return
    per_id = reader.whole(rel, unet, "addition_time_embed_dim")
    total = reader.whole(rel, unet, "projection_class_embeddings_input_dim", 65536)
    pooled = configs["text_encoder_2"]["projection_dim"]
    if total <= pooled or (total - pooled) % per_id:
        found = f"It is {total}, with pooled text of {pooled} and {per_id} per time id"
        raise reader.bad(rel, "to fit SDXL's added embedding (pooled text + time ids)", found)


def _scheduler(reader: _Folder, index: dict[str, Any]) -> tuple[str, str]:
    """The scheduler class and its prediction type (``epsilon`` when not set)."""
    pair = index.get("scheduler")
    if not (isinstance(pair, list) and len(pair) == 2 and pair[0] == "diffusers"
            and isinstance(pair[1], str) and pair[1].endswith("Scheduler")):  # fmt: skip
        found = f"It gives {shorten(pair)}"
        raise reader.bad("model_index.json", 'to give the scheduler as ["diffusers", ...]', found)
    rel = "scheduler/scheduler_config.json"
    prediction = reader.read_object(rel).get("prediction_type", "epsilon")
    if prediction not in PREDICTION_TYPES:
        found = f"It is {shorten(prediction, 40)}"
        raise reader.bad(
            rel, f"to set prediction_type to one of {', '.join(PREDICTION_TYPES)}", found
        )
    return pair[1], prediction


def read_model_dir(folder: str | Path, argument: str = "model") -> PipelineSpec:
    """The pipeline a local diffusers folder describes, from its JSON files only.

    >>> spec = read_model_dir("~/models/stable-diffusion-xl-base-1.0")  # doctest: +SKIP
    >>> spec.kind, spec.native_size_px, spec.text_encoders  # doctest: +SKIP
    ('txt2img', 1024, ('text_encoder', 'text_encoder_2'))
    """
    path = Path(folder).expanduser()
    reader = _Folder(path, argument)
    if not path.is_dir():
        expected = "a local diffusers pipeline folder (with model_index.json)"
        raise InputError(argument, str(folder), expected, "It is not a folder")
    cls, classes, index = _index(reader)
    configs = {name: _component(reader, name, c) for name, c in classes.items()}
    kind = _kind(reader, cls, configs)
    _check_text(reader, cls, configs)
    scheduler, prediction = _scheduler(reader, index)
    xl = "XL" in cls
    zeros = index.get("force_zeros_for_empty_prompt", xl)
    if not isinstance(zeros, bool):
        found = f"It is {shorten(zeros, 40)}"
        raise reader.bad(
            "model_index.json", "to set force_zeros_for_empty_prompt to true or false", found
        )
    return make_spec(
        str(path), configs, kind=kind, pipeline_class=cls, default_steps=20, cfg=True,
        guidance_scale=5.0 if xl else 7.5, prediction_type=prediction, scheduler=scheduler,
        force_zeros_for_empty_prompt=zeros, source=f"local folder {path} (JSON configs only)",
    )  # fmt: skip
