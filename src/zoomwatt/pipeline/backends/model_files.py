"""Cheap checks of a Stable Diffusion 2 inpainting pipeline folder, before any weights load.

Everything here reads only small files: ``model_index.json``, each component's JSON configs and
tokenizer files, and the header of each safetensors file (8 bytes of header length, then a JSON
header; the tensors themselves are never read). A folder that diffusers or transformers would
fail to load (or would load into a model the inpainting pipeline cannot run) is refused with one
line naming the file, what was expected and how to get a good copy, so the zoom never starts
work on weights that cannot load.

What is checked, beyond "it parses":

- ``model_index.json``: a JSON object whose ``unet``, ``vae``, ``text_encoder``, ``tokenizer``
  and ``scheduler`` entries are the ``[library, class]`` pairs of SD2 inpainting;
- configs: the keys diffusers and transformers need to build the same models as the weights
  (a missing key silently takes a default of another size), integers in sane ranges, group
  norms that divide the channels, and the wiring of inpainting: the UNet reads
  ``2 * latent_channels + 1`` channels (noisy latents, the mask, the masked picture's latents),
  writes ``latent_channels``, and attends to text of the text encoder's width; the autoencoder
  downsamples 8x, as the zoom's sizes in multiples of 8 assume;
- safetensors headers, as the safetensors library validates them: the header length fits the
  file, the header is a JSON object, every tensor has a known dtype, a shape and data offsets,
  the tensors' bytes match their shapes, and they tile the data exactly (no overlap, gap,
  truncation or trailing bytes); a few tensors whose names are stable across library versions
  (the first and last convolutions, the token embedding) are compared with the config.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoomwatt.errors import InputError, shorten

#: Largest JSON file (config, tokenizer) read; real ones are at most a few megabytes.
MAX_JSON_BYTES = 64 * 2**20
#: Largest safetensors header, as the safetensors library limits it.
MAX_HEADER_BYTES = 100_000_000
#: Bounds of the integers in a config: far beyond any released diffusion model, far below what
#: would try to allocate terabytes.
MAX_CHANNELS = 8192
MAX_BLOCKS = 8
MAX_LAYERS = 128
MAX_TRAIN_TIMESTEPS = 100_000

#: model_index.json entries SD2 inpainting needs: allowed libraries and classes (None: any
#: diffusers scheduler class).
REQUIRED_COMPONENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "unet": (("diffusers",), ("UNet2DConditionModel",)),
    "vae": (("diffusers",), ("AutoencoderKL",)),
    "text_encoder": (("transformers",), ("CLIPTextModel",)),
    "tokenizer": (("transformers",), ("CLIPTokenizer", "CLIPTokenizerFast")),
    "scheduler": (("diffusers",), None),
}
OPTIONAL_COMPONENTS = ("safety_checker", "feature_extractor", "image_encoder")
#: The weights file each library loads from a component folder (or its sharded index).
WEIGHTS_FILE = {
    "diffusers": "diffusion_pytorch_model.safetensors",
    "transformers": "model.safetensors",
}
#: Bits per element of each safetensors dtype.
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
SD2_INPAINTING = "stabilityai/stable-diffusion-2-inpainting"


class _NonFinite(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NonFinite(name)


def is_repo_id(model: str) -> bool:
    return (
        "/" in model
        and not Path(model).expanduser().exists()
        and not model.startswith((".", "/", "~"))
    )


def repair_hint(model: str) -> str:
    """How to get a good copy, in one short sentence."""
    if is_repo_id(model):
        return f"Fetch it again: hf download {model} --force-download"
    return "Re-download or re-save the pipeline"


def _dims(value: Any) -> str:
    return "[" + ", ".join(str(v) for v in value) + "]" if isinstance(value, list) else str(value)


@dataclass
class PipelineFacts:
    """What the checks learnt that later checks need."""

    train_timesteps: int = 1000


class PipelineFiles:
    """Checks one pipeline folder; every refusal is an :class:`InputError` on ``argument``
    quoting ``model`` (the folder or repo id the user gave)."""

    def __init__(self, folder: Path, model: str | None = None, argument: str = "model"):
        self.folder = Path(folder)
        self.model = str(folder) if model is None else str(model)
        self.argument = argument

    # --- refusals ------------------------------------------------------------------------

    def bad(self, rel: str, requirement: str, finding: str, fix: str | None = None) -> InputError:
        """``model=...: expected REL REQUIREMENT. FINDING. FIX`` (by default: how to get a good
        copy)."""
        return InputError(
            self.argument,
            self.model,
            f"{rel} {requirement}",
            f"{finding}. {fix or repair_hint(self.model)}",
        )

    def unreadable(self, rel: str, exc: OSError) -> InputError:
        return self.bad(rel, "to be a readable file", f"Reading it failed: {exc.strerror or exc}")

    def missing(self, rel: str, key: str) -> InputError:
        return self.bad(rel, f"to set {key} (a default may not fit the weights)", "It does not")

    # --- reading -------------------------------------------------------------------------

    def read_json(self, rel: str) -> Any:
        """The parsed JSON file ``rel`` (UTF-8, at most 64 MB, finite numbers only)."""
        path = self.folder / rel
        try:
            size = path.stat().st_size
            if size > MAX_JSON_BYTES:
                raise self.bad(rel, "to be a JSON file of at most 64 MB", f"It has {size} bytes")
            raw = path.read_bytes()
        except OSError as exc:
            raise self.unreadable(rel, exc) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.bad(
                rel,
                "to be JSON in UTF-8",
                f"Byte {exc.start} (0x{raw[exc.start]:02x}) is not UTF-8",
            ) from None
        try:
            return json.loads(text, parse_constant=_no_constant)
        except _NonFinite as exc:
            raise self.bad(rel, "to hold finite numbers only", f"It holds {exc}") from None
        except json.JSONDecodeError as exc:
            raise self.bad(
                rel, "to be valid JSON", f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
        except RecursionError:
            raise self.bad(rel, "to be JSON nested a sane depth", "It nests too deeply") from None

    def read_object(self, rel: str, what: str = "a JSON object") -> dict[str, Any]:
        data = self.read_json(rel)
        if not isinstance(data, dict):
            raise self.bad(rel, f"to be {what}", f"It is a JSON {_json_kind(data)}")
        return data

    # --- model_index.json ----------------------------------------------------------------

    def check_index(self) -> dict[str, Any]:
        """model_index.json as a dict whose components, where listed, are well-formed pairs
        (which components SD2 inpainting needs: :meth:`check_required`)."""
        rel = "model_index.json"
        index = self.read_object(rel, "a JSON object of the pipeline's components")
        for name in REQUIRED_COMPONENTS:
            pair = index.get(name, ["", ""])
            if not _is_pair(pair) or not all(isinstance(v, str) for v in pair):
                raise self.bad(
                    rel,
                    f'to give the {name} as ["library", "class"]',
                    f"It gives {shorten(pair, 40)}",
                )
        for name in OPTIONAL_COMPONENTS:
            pair = index.get(name, [None, None])
            if not _is_pair(pair) or not (
                all(v is None for v in pair) or all(isinstance(v, str) for v in pair)
            ):
                raise self.bad(
                    rel,
                    f'to give the {name} as ["library", "class"] or [null, null]',
                    f"It gives {shorten(pair, 40)}",
                )
        return index

    def check_required(self, index: dict[str, Any]) -> None:
        """Every component SD2 inpainting needs is listed, with its library and class."""
        rel = "model_index.json"
        for name, (libraries, classes) in REQUIRED_COMPONENTS.items():
            if name not in index:
                needs = ", ".join(REQUIRED_COMPONENTS)
                raise self.bad(
                    rel, f"to list the {name} component", f"It does not ({needs} needed)"
                )
            library, cls = index[name]
            wanted = " or ".join(classes) if classes else "a ...Scheduler class"
            ok = library in libraries and (
                cls in classes if classes else re.fullmatch(r"[A-Za-z0-9_]+Scheduler", cls)
            )
            if not ok:
                raise self.bad(
                    rel,
                    f"to give the {name} as {libraries[0]} {wanted}, as SD2 inpainting has",
                    f"It gives {shorten(library, 30)} {shorten(cls, 40)}",
                )

    # --- the components ------------------------------------------------------------------

    def check_components(self, index: dict[str, Any]) -> PipelineFacts:
        """Every component's JSON files, weights headers and configs (the folders exist and
        hold weights: checked before, with the messages that say how to get the weights)."""
        self.check_required(index)
        for name, spec in index.items():
            if name.startswith("_") or not _is_pair(spec) or spec[0] is None:
                continue
            sub = self.folder / name
            if sub.is_dir():
                for path in sorted(sub.glob("*.json")):
                    self.read_object(f"{name}/{path.name}")
        tok_max = self.check_tokenizer()
        text_width = self.check_text_encoder(tok_max)
        latent = self.check_vae()
        self.check_unet(latent, text_width)
        return self.check_scheduler()

    def config(self, component: str, what: str) -> dict[str, Any]:
        return self.read_object(f"{component}/config.json", f"a JSON object of {what} settings")

    def weights_shapes(self, component: str, library: str) -> dict[str, list[int]]:
        """Validate the safetensors file(s) the library will load; return every tensor's shape."""
        sub = self.folder / component
        name = WEIGHTS_FILE[library]
        index_rel = f"{component}/{name}.index.json"
        if (sub / name).exists():
            files = [f"{component}/{name}"]
        elif (sub / f"{name}.index.json").is_file():
            files = self._shards(index_rel)
        else:
            files = sorted(f"{component}/{p.name}" for p in sub.glob("*.safetensors"))
        shapes: dict[str, list[int]] = {}
        for rel in files:
            shapes.update(self.safetensors_header(rel))
        return shapes

    def _shards(self, rel: str) -> list[str]:
        component = rel.split("/")[0]
        weight_map = self.read_object(rel).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise self.bad(rel, "to map tensor names to shard files (weight_map)", "It has none")
        shards = set()
        for shard in weight_map.values():
            if not isinstance(shard, str) or not re.fullmatch(r"[\w.-]+\.safetensors", shard):
                raise self.bad(
                    rel, "to list shard files in its folder", f"It lists {shorten(shard, 60)}"
                )
            if not (self.folder / component / shard).is_file():
                raise self.bad(rel, "to list shard files that exist", f"{shard} is missing")
            shards.add(f"{component}/{shard}")
        return sorted(shards)

    def safetensors_header(self, rel: str) -> dict[str, list[int]]:
        """Validate the header of one safetensors file as the library does, without reading
        the tensors; return each tensor's shape."""

        def broken(finding: str) -> InputError:
            return InputError(
                self.argument,
                self.model,
                f"an intact {rel}",
                f"{finding}. {repair_hint(self.model)}",
            )

        try:
            with open(self.folder / rel, "rb") as handle:
                size = handle.seek(0, 2)
                handle.seek(0)
                if size < 8:
                    raise broken(f"It has {size} bytes: too short for safetensors")
                length = int.from_bytes(handle.read(8), "little")
                if length > MAX_HEADER_BYTES:
                    raise broken(f"Its header length {length} is over 100 MB: not safetensors")
                if length + 8 > size:
                    raise broken(
                        f"Its header needs {length + 8} bytes, the file has {size}: truncated"
                    )
                raw = handle.read(length)
        except OSError as exc:
            raise self.unreadable(rel, exc) from None
        try:
            header = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise broken("Its header is not JSON: damaged, or not safetensors") from None
        if not isinstance(header, dict):
            raise broken(f"Its header is a JSON {_json_kind(header)}, not an object")
        data_size = size - 8 - length
        metadata = header.pop("__metadata__", {})
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise broken("Its __metadata__ is not an object of strings")
        spans, shapes = [], {}
        for name, entry in header.items():
            label = shorten(name, 40)
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("dtype"), str)
                and _int_list(entry.get("shape"))
                and all(d >= 0 for d in entry["shape"])
                and _int_list(entry.get("data_offsets"))
                and len(entry["data_offsets"]) == 2
            ):
                raise broken(f"Tensor {label} has no valid dtype, shape and offsets")
            begin, end = entry["data_offsets"]
            if not 0 <= begin <= end:
                raise broken(f"Tensor {label} has offsets {begin} to {end}")
            if end > data_size:
                raise broken(
                    f"Its tensors need {end} data bytes or more, it has {data_size}: truncated"
                )
            bits = DTYPE_BITS.get(entry["dtype"])
            if bits is None:
                raise broken(f"Tensor {label} has an unknown dtype {shorten(entry['dtype'], 20)}")
            wanted = (math.prod(entry["shape"]) * bits + 7) // 8
            if end - begin != wanted:
                raise broken(
                    f"Tensor {label} has {end - begin} bytes; its shape and dtype need {wanted}"
                )
            spans.append((begin, end))
            shapes[name] = list(entry["shape"])
        position = 0
        for begin, end in sorted(spans):
            if begin != position:
                raise broken("Its tensors overlap or leave gaps")
            position = end
        if position != data_size:
            raise broken(f"Its tensors cover {position} of its {data_size} data bytes")
        return shapes

    def _shape_agrees(
        self, component: str, shapes: dict[str, list[int]], name: str, expected: list[int]
    ) -> None:
        if name in shapes and shapes[name] != expected:
            raise self.bad(
                f"{component}/config.json",
                "to match its weights",
                f"It makes {name} {_dims(expected)}; the weights hold {_dims(shapes[name])}",
            )

    # --- settings ------------------------------------------------------------------------

    def integer(
        self,
        rel: str,
        config: dict[str, Any],
        key: str,
        low: int,
        high: int,
        default: int | None = None,
    ) -> int:
        if key not in config:
            if default is None:
                raise self.missing(rel, key)
            return default
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.bad(
                rel, f"to have {key} an integer from {low} to {high}", f"It is {shorten(value, 40)}"
            )
        return value

    def integers(
        self,
        rel: str,
        config: dict[str, Any],
        key: str,
        low: int,
        high: int,
        length: int | None = None,
        required: bool = True,
        allow_single: bool = False,
    ) -> list[int] | None:
        """A list of integers (of ``length``), or with ``allow_single`` one integer for all."""
        if key not in config or (not required and config[key] is None):
            if required:
                raise self.missing(rel, key)
            return None
        value = config[key]
        if allow_single and isinstance(value, int) and not isinstance(value, bool):
            value = [value] * (length or 1)
        n = f"{length} " if length else ""
        if (
            not _int_list(value)
            or not value
            or len(value) > MAX_BLOCKS
            or (length is not None and len(value) != length)
            or not all(low <= v <= high for v in value)
        ):
            raise self.bad(
                rel,
                f"to have {key} as {n}integers from {low} to {high}",
                f"It is {shorten(config[key], 40)}",
            )
        return value

    def names(self, rel: str, config: dict[str, Any], key: str, length: int) -> None:
        value = config.get(key)
        if value is None:
            raise self.missing(rel, key)
        if (
            not isinstance(value, list)
            or len(value) != length
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise self.bad(
                rel,
                f"to have {key} as {length} block names, one per block_out_channels",
                f"It is {shorten(value, 40)}",
            )

    def groups_divide(self, rel: str, config: dict[str, Any], channels: list[int]) -> None:
        groups = config.get("norm_num_groups", 32)
        if groups is None:
            return
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            found = f"It is {shorten(groups, 40)}"
            raise self.bad(rel, "to have norm_num_groups a positive integer", found)
        if any(c % groups for c in channels):
            raise self.bad(
                rel,
                "to have norm_num_groups dividing every block_out_channels",
                f"{groups} does not divide {_dims(channels)}",
            )

    def number(self, rel: str, config: dict[str, Any], key: str, low: float, high: float) -> None:
        """An optional finite number in [low, high] (None is allowed)."""
        value = config.get(key)
        if value is None:
            return
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not low <= value <= high
        ):
            found = f"It is {shorten(value, 40)}"
            raise self.bad(rel, f"to have {key} a number from {low:g} to {high:g}", found)

    # --- each component ------------------------------------------------------------------

    def check_tokenizer(self) -> int | None:
        """The tokenizer's files parse; returns its model_max_length when it is a sane one."""
        sub = self.folder / "tokenizer"
        has_fast = (sub / "tokenizer.json").is_file()
        has_slow = (sub / "vocab.json").is_file() and (sub / "merges.txt").is_file()
        if not has_fast and not has_slow:
            raise self.bad(
                "tokenizer/",
                "to hold tokenizer.json, or vocab.json and merges.txt",
                "It holds neither",
            )
        if (sub / "merges.txt").is_file():
            try:
                (sub / "merges.txt").read_bytes().decode("utf-8")
            except OSError as exc:
                raise self.unreadable("tokenizer/merges.txt", exc) from None
            except UnicodeDecodeError as exc:
                raise self.bad(
                    "tokenizer/merges.txt", "to be UTF-8 text", f"Byte {exc.start} is not UTF-8"
                ) from None
        if (sub / "tokenizer_config.json").is_file():
            length = self.read_object("tokenizer/tokenizer_config.json").get("model_max_length")
            if isinstance(length, int) and not isinstance(length, bool) and 0 < length <= 100_000:
                return length
        return None

    def check_text_encoder(self, tokenizer_max_length: int | None) -> int:
        """The CLIP text tower's config against its weights; returns its width."""
        rel = "text_encoder/config.json"
        config = self.config("text_encoder", "CLIPTextModel")
        if config.get("model_type") == "clip" and isinstance(config.get("text_config"), dict):
            config = config["text_config"]
        width = self.integer(rel, config, "hidden_size", 1, MAX_CHANNELS)
        heads = self.integer(rel, config, "num_attention_heads", 1, 1024)
        self.integer(rel, config, "num_hidden_layers", 1, MAX_LAYERS)
        if width % heads:
            raise self.bad(
                rel,
                "to have hidden_size a multiple of num_attention_heads",
                f"{width} is not a multiple of {heads}",
            )
        self.integer(rel, config, "intermediate_size", 1, 8 * MAX_CHANNELS, default=2048)
        vocab = self.integer(rel, config, "vocab_size", 1, 10_000_000, default=49408)
        positions = self.integer(rel, config, "max_position_embeddings", 1, 100_000, default=77)
        if tokenizer_max_length is not None and positions < tokenizer_max_length:
            raise self.bad(
                rel,
                f"to have max_position_embeddings >= the tokenizer's {tokenizer_max_length} tokens",
                f"It is {positions}",
            )
        shapes = self.weights_shapes("text_encoder", "transformers")
        for prefix in ("text_model.embeddings.", "embeddings."):  # older and newer names
            token = f"{prefix}token_embedding.weight"
            position = f"{prefix}position_embedding.weight"
            self._shape_agrees("text_encoder", shapes, token, [vocab, width])
            self._shape_agrees("text_encoder", shapes, position, [positions, width])
        return width

    def check_vae(self) -> int:
        """The KL autoencoder's config against its weights; returns its latent channels."""
        rel = "vae/config.json"
        config = self.config("vae", "AutoencoderKL")
        channels = self.integers(rel, config, "block_out_channels", 1, MAX_CHANNELS)
        blocks = len(channels)
        if blocks != 4:
            raise self.bad(
                rel,
                "to have 4 block_out_channels (8x downsampling, as the zoom's sizes in "
                "multiples of 8 assume)",
                f"It has {blocks}",
            )
        self.names(rel, config, "down_block_types", blocks)
        self.names(rel, config, "up_block_types", blocks)
        latent = self.integer(rel, config, "latent_channels", 1, 64)
        for key in ("in_channels", "out_channels"):
            if self.integer(rel, config, key, 1, 64, default=3) != 3:
                raise self.bad(rel, f"to have {key} 3 (RGB)", f"It is {config[key]}")
        self.integer(rel, config, "layers_per_block", 1, MAX_LAYERS, default=1)
        self.groups_divide(rel, config, channels)
        self.number(rel, config, "scaling_factor", 1e-6, 1e6)
        if config.get("scaling_factor") == 0:
            raise self.bad(rel, "to have scaling_factor above 0", "It is 0")
        self.number(rel, config, "shift_factor", -1e6, 1e6)
        shapes = self.weights_shapes("vae", "diffusers")
        self._shape_agrees("vae", shapes, "encoder.conv_in.weight", [channels[0], 3, 3, 3])
        self._shape_agrees("vae", shapes, "decoder.conv_in.weight", [channels[-1], latent, 3, 3])
        return latent

    def check_unet(self, latent: int, text_width: int) -> None:
        """The UNet's config against its weights and the other models."""
        rel = "unet/config.json"
        config = self.config("unet", "UNet2DConditionModel")
        channels = self.integers(rel, config, "block_out_channels", 1, MAX_CHANNELS)
        blocks = len(channels)
        self.names(rel, config, "down_block_types", blocks)
        self.names(rel, config, "up_block_types", blocks)
        inputs = self.integer(rel, config, "in_channels", 1, 1024)
        if inputs != 2 * latent + 1:  # noisy latents, the mask, the masked picture's latents
            wanted = f"to have in_channels {2 * latent + 1} (an inpainting UNet)"
            if inputs == latent:
                raise self.bad(
                    rel,
                    wanted,
                    f"It is {inputs}: a text-to-image UNet",
                    f"Use an inpainting model, e.g. {SD2_INPAINTING}",
                )
            raise self.bad(rel, wanted, f"It is {inputs}")
        outputs = self.integer(rel, config, "out_channels", 1, 1024)
        if outputs != latent:
            wanted = f"to have out_channels {latent} (the VAE's latent_channels)"
            raise self.bad(rel, wanted, f"It is {outputs}")
        cross = self.integers(
            rel, config, "cross_attention_dim", 1, MAX_CHANNELS, blocks, allow_single=True
        )
        if any(c != text_width for c in cross):
            raise self.bad(
                rel,
                f"to have cross_attention_dim {text_width} (the text encoder's hidden_size)",
                f"It is {shorten(config['cross_attention_dim'], 40)}",
            )
        self.integers(
            rel, config, "layers_per_block", 1, MAX_LAYERS, blocks, False, allow_single=True
        )
        self.integers(
            rel, config, "attention_head_dim", 1, MAX_CHANNELS, blocks, False, allow_single=True
        )
        self.integers(
            rel, config, "num_attention_heads", 1, MAX_CHANNELS, blocks, False, allow_single=True
        )
        self.groups_divide(rel, config, channels)
        kernel_in = self.integer(rel, config, "conv_in_kernel", 1, 15, default=3)
        kernel_out = self.integer(rel, config, "conv_out_kernel", 1, 15, default=3)
        shapes = self.weights_shapes("unet", "diffusers")
        first = [channels[0], inputs, kernel_in, kernel_in]
        self._shape_agrees("unet", shapes, "conv_in.weight", first)
        last = [outputs, channels[0], kernel_out, kernel_out]
        self._shape_agrees("unet", shapes, "conv_out.weight", last)

    def check_scheduler(self) -> PipelineFacts:
        rel = "scheduler/scheduler_config.json"
        if not (self.folder / rel).is_file():
            raise self.bad("scheduler/", "to hold scheduler_config.json", "It does not")
        config = self.read_object(rel, "a JSON object of scheduler settings")
        steps = self.integer(
            rel, config, "num_train_timesteps", 1, MAX_TRAIN_TIMESTEPS, default=1000
        )
        for key in ("beta_start", "beta_end"):
            self.number(rel, config, key, 0.0, 1.0)
        for key in ("beta_schedule", "timestep_spacing"):
            if key in config and not isinstance(config[key], str):
                raise self.bad(rel, f"to have {key} a name", f"It is {shorten(config[key], 40)}")
        prediction = config.get("prediction_type", "epsilon")
        if prediction not in PREDICTION_TYPES:
            raise self.bad(
                rel,
                f"to have prediction_type one of {', '.join(PREDICTION_TYPES)}",
                f"It is {shorten(prediction, 40)}",
            )
        betas = config.get("trained_betas")
        if betas is not None and not (
            isinstance(betas, list)
            and len(betas) == steps
            and all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
                for b in betas
            )
        ):
            raise self.bad(
                rel,
                f"to have trained_betas null or {steps} numbers in [0, 1)",
                f"It is {shorten(betas, 40)}",
            )
        return PipelineFacts(train_timesteps=steps)


def check_autoencoder_tiny(folder: Path, model: str) -> None:
    """A TAESD folder: its config is a JSON object and its safetensors headers are sound."""
    files = PipelineFiles(Path(folder), model, argument="taesd")
    files.read_object("config.json", "a JSON object of AutoencoderTiny settings")
    for path in sorted(Path(folder).glob("*.safetensors")):
        files.safetensors_header(path.name)


def describe_load_error(model: str, folder: Path | None, exc: BaseException) -> str:
    """``"unet/config.json failed with 'OSError: ...'"``: where it failed (the file the
    library names, relative to the folder, or the component it was loading) and the library's
    first line with the folder's path taken out."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    where = ""
    if folder is not None:
        for prefix in {str(folder), str(Path(folder).resolve())}:
            match = re.search(re.escape(prefix) + r"/([\w./-]+)", text)
            if match and not where:
                where = match.group(1).rstrip(".")
            text = text.replace(prefix + "/", "").replace(prefix, "")
        filename = getattr(exc, "filename", None)
        if not where and isinstance(filename, str) and filename.startswith(str(folder)):
            where = filename[len(str(folder)) :].lstrip("/")
    if not where:
        where = _failed_component(exc)
    text = text.strip().rstrip(".")
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"{where or 'its files'} failed with {shorten(message, 110)}"


def load_error(model: str, folder: Path | None, exc: BaseException) -> InputError:
    """A library's error on loading the pipeline, as one line naming the file and the fix."""
    if isinstance(exc, MemoryError):
        return InputError(
            "model",
            model,
            "a pipeline that fits in memory",
            "Loading it ran out of memory; try --dtype fp16 or a machine with more memory",
        )
    return InputError(
        "model",
        model,
        "a pipeline diffusers can load",
        f"Loading {describe_load_error(model, folder, exc)}. {repair_hint(model)}",
    )


def _failed_component(exc: BaseException) -> str:
    """``"unet/"`` when diffusers was loading the component ``unet`` as it failed (its
    ``load_sub_model`` frame in the traceback says which); else ``""``."""
    tb = exc.__traceback__
    found = ""
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "load_sub_model":
            name = frame.f_locals.get("name")
            if isinstance(name, str) and re.fullmatch(r"\w+", name):
                found = f"{name}/"
        tb = tb.tb_next
    return found


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


def _json_kind(value: Any) -> str:
    return {
        list: "list",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
        dict: "object",
    }.get(type(value), type(value).__name__)
