"""One stage of the SD2 keyframe (the UNet, the encode or the decode stage) run by the OpenVINO
runtime on the CPU, in fp32, with static shapes: the ``openvino`` lever of :mod:`.levers`.

:class:`OpenVINOStage` wraps a torch callable. On its first call with a given set of input
shapes and dtypes it converts the callable with ``openvino.convert_model`` (TorchScript tracing,
that call's inputs as the example) with those shapes fixed, and compiles it for the CPU plugin
with ``INFERENCE_PRECISION_HINT`` f32 (a CPU with AMX or AVX512-BF16 would otherwise run bf16:
not the same picture) and as many threads as torch uses; later calls of the same shapes reuse
the compiled model, a new shape converts again. ``weights="int8"`` (the ``nncf-int8`` lever)
compresses the converted model's weights with NNCF before compiling (data-free int8,
asymmetric, per output channel); the plugin then decompresses them inside its kernels. Its
result has the structure of the wrapped callable's: one tensor, or a flat tuple of tensors
(OpenVINO returns the traced outputs flat).
:class:`OpenVINOUNet` takes the call the lean keyframe path makes of the UNet
(``unet(x, t, encoder_hidden_states=e, return_dict=False)[0]``).

The wrapped modules are not changed: conversion traces them (OpenVINO sets ``eval()`` on what it
traces; the training flags are put back after) and shares their weights read-only. OpenVINO is
imported here only, inside functions: ``import zoomwatt`` does not load it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from contextlib import contextmanager
from typing import Any

from zoomwatt.errors import InputError, ZoomwattError, shorten

log = logging.getLogger(__name__)

DEVICE = "CPU"
LEVER = "openvino"
INT8_LEVER = "nncf-int8"  # the same stages, their weights compressed to int8 by NNCF
WEIGHTS = ("fp32", "int8")


def cpu_config(threads: int) -> dict[str, Any]:
    """The CPU plugin's settings, the lever's and the host calibration's alike: fp32 (a CPU with
    AMX or AVX512-BF16 would otherwise run bf16) on ``threads`` threads."""
    return {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": int(threads)}


def _torch_module(fn: Any, modules: tuple = ()) -> Any:
    """``fn`` as an ``nn.Module`` OpenVINO can trace (a module is taken as it is); ``modules``:
    the modules ``fn`` computes with, registered so that their weights are the module's."""
    import torch

    if isinstance(fn, torch.nn.Module):
        return fn

    class _Call(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = torch.nn.ModuleList([m for m in modules if m is not None])

        def forward(self, *inputs):
            return fn(*inputs)

    return _Call()


@contextmanager
def _training_kept(module: Any):
    """Put every submodule's ``training`` flag back after the block (conversion sets eval)."""
    flags = [(m, m.training) for m in module.modules()]
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def _traced(module: Any, example: tuple) -> Any:
    """What ``openvino.convert_model`` takes: ``module`` traced on ``example`` by OpenVINO's
    TorchScript decoder without torch's trace check (a second run of the module compared with
    the first: a third of a UNet's conversion time, for a check this lever's tests make on the
    picture), as optimum-intel does; the module itself where that decoder is not found."""
    try:
        from openvino.frontend.pytorch.ts_decoder import TorchScriptPythonDecoder
    except ImportError:  # another OpenVINO layout: its own tracing, with the check
        return module
    return TorchScriptPythonDecoder(
        module, example_input=example, trace_kwargs={"check_trace": False}
    )


def _converted(module: Any, inputs: tuple) -> Any:
    """``module`` as an OpenVINO model with the static shapes of ``inputs``, traced on them."""
    import openvino as ov
    import torch

    shapes = [ov.PartialShape(list(x.shape)) for x in inputs]
    with (
        torch.inference_mode(False),
        torch.no_grad(),
        _training_kept(module),
        warnings.catch_warnings(),
    ):
        # Python branches on shapes become constants of the trace: right here, since every new
        # shape is traced again
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        example = tuple(x.detach().clone() for x in inputs)  # plain tensors, not inference ones
        return ov.convert_model(_traced(module, example), input=shapes)


@contextmanager
def _quiet(nncf: Any):
    """NNCF's statistics table (logged at INFO to its own handler) and its progress bar (a
    console of its own) kept off the user's terminal and logged at debug level instead:
    library code logs, never prints."""
    logger = nncf.common.logging.nncf_logger
    levels = [(h, h.level) for h in (logger, *logger.handlers)]
    nncf.set_log_level(logging.WARNING)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    finally:
        for handler, level in levels:
            handler.setLevel(level)
        text = (out.getvalue() + err.getvalue()).strip()
        if text:
            log.debug("nncf said: %s", shorten(text, 2000))


def _signature(inputs: tuple) -> tuple:
    """The static-shape key of a call: each input's shape and dtype."""
    return tuple((tuple(x.shape), str(x.dtype)) for x in inputs)


class OpenVINOStage:
    """``fn`` (a torch module or callable of tensors) run by OpenVINO's CPU plugin in fp32, one
    compiled model per set of input shapes (module doc). ``stage`` names it in logs and errors;
    ``modules``: the torch modules a plain callable computes with (unnamed, their weights would
    reach the tracer as constants that need grad, which it refuses); ``threads``: the CPU
    threads (default: ``torch.get_num_threads()``)."""

    def __init__(
        self,
        fn: Any,
        stage: str,
        modules: tuple = (),
        threads: int | None = None,
        weights: str = "fp32",
    ):
        if weights not in WEIGHTS:
            raise InputError("weights", weights, f"one of {', '.join(WEIGHTS)}")
        if not callable(fn):
            raise InputError("fn", fn, "a torch module or callable to run through OpenVINO")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
            raise InputError("threads", threads, "a positive number of CPU threads, or None")
        if threads is not None and threads < 1:
            raise InputError("threads", threads, "a positive number of CPU threads, or None")
        self.stage = stage
        self.weights = weights
        self._module = _torch_module(fn, modules)
        self._threads = threads
        self._compiled: dict[tuple, Any] = {}
        self.conversions = 0  # how many times a model was converted (one per input signature)
        self.convert_s: dict[tuple, float] = {}  # seconds converting + compiling, per signature

    @property
    def lever(self) -> str:
        """The lever that runs this stage: openvino, or nncf-int8 with int8 weights."""
        return INT8_LEVER if self.weights == "int8" else LEVER

    def __call__(self, *inputs: Any) -> Any:
        import torch

        # 1. inputs: tensors on the CPU (OpenVINO's CPU plugin reads host memory)
        for i, x in enumerate(inputs):
            if not isinstance(x, torch.Tensor) or x.device.type != "cpu":
                raise InputError(
                    f"{self.stage} input {i}", shorten(x, 60), "a torch tensor on the CPU"
                )
        # 2. the compiled model of these shapes, converted on first use
        key = _signature(inputs)
        if key not in self._compiled:
            self._compiled[key] = self._convert(inputs, key)
        request = self._compiled[key]
        # 3. run it; outputs are copied out of OpenVINO's buffers (the next call reuses them)
        arrays = [x.detach().contiguous().numpy() for x in inputs]
        try:
            result = request.infer(arrays, share_inputs=True, share_outputs=False)
        except Exception as exc:  # OpenVINO's runtime errors, translated where they enter
            raise ZoomwattError(
                f"openvino: running the {self.stage} failed ({shorten(str(exc), 160)}); run "
                f"without the {self.lever} lever"
            ) from exc
        outputs = tuple(torch.from_numpy(result[i]) for i in range(len(result)))
        return outputs[0] if len(outputs) == 1 else outputs

    def _convert(self, inputs: tuple, key: tuple) -> Any:
        """Convert and compile the wrapped callable for the shapes of ``inputs``."""
        import openvino as ov
        import torch

        started = time.perf_counter()
        try:
            model = _converted(self._module, inputs)
        except ZoomwattError:
            raise
        except Exception as exc:  # tracing or an operation OpenVINO cannot convert
            raise self._cannot_apply("converting", "OpenVINO can convert", exc) from exc
        if self.weights == "int8":
            model = self._compressed(model)
        converted_s = time.perf_counter() - started
        threads = self._threads or torch.get_num_threads()
        try:
            compiled = ov.Core().compile_model(model, DEVICE, cpu_config(threads))
        except Exception as exc:
            raise self._cannot_apply("compiling", "OpenVINO's CPU plugin can compile", exc) from exc
        self.conversions += 1
        self.convert_s[key] = time.perf_counter() - started
        log.info(
            "openvino: %s converted%s for %s in %.1f s, compiled (CPU, f32, %d threads) in %.1f s",
            self.stage,
            " and its weights compressed to int8" if self.weights == "int8" else "",
            ", ".join(f"{list(s)} {d.removeprefix('torch.')}" for s, d in key),
            converted_s,
            threads,
            self.convert_s[key] - converted_s,
        )
        return compiled.create_infer_request()

    def _compressed(self, model: Any) -> Any:
        """``model`` with NNCF's data-free int8 weight compression (its default: asymmetric,
        per output channel, every convolution, linear and embedding layer)."""
        try:
            import nncf
        except ImportError as exc:
            raise InputError(
                "levers", INT8_LEVER, "the nncf package installed", "pip install nncf"
            ) from exc
        started = time.perf_counter()
        try:
            with _quiet(nncf):
                compressed = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
        except Exception as exc:  # NNCF's errors, translated where they enter
            raise self._cannot_apply("compressing", "NNCF can compress", exc) from exc
        seconds = time.perf_counter() - started
        log.info("nncf: %s weights compressed to int8 in %.1f s", self.stage, seconds)
        return compressed

    def _cannot_apply(self, doing: str, able: str, exc: Exception) -> InputError:
        """The error of a stage OpenVINO could not take, translated where it entered."""
        return InputError(
            "levers",
            self.lever,
            f"a {self.stage} {able}",
            f"{doing} the {self.stage} failed ({shorten(str(exc), 160)}): the {self.lever} "
            f"lever cannot apply to it; run without {self.lever}",
        )


class _UNetForward:
    """The UNet's noise prediction as a function of tensors only (what OpenVINO traces)."""

    def __init__(self, unet: Any):
        self.unet = unet

    def __call__(self, sample, timestep, encoder_hidden_states):
        return self.unet(
            sample, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False
        )[0]


class OpenVINOUNet:
    """A diffusers UNet run through :class:`OpenVINOStage`, called as the lean path calls it:
    ``unet(x, t, encoder_hidden_states=e, return_dict=False)`` -> ``(noise_pred,)``."""

    def __init__(self, unet: Any, threads: int | None = None, weights: str = "fp32"):
        self.unet = unet
        self.stage = OpenVINOStage(_UNetForward(unet), "UNet", (unet,), threads, weights)

    @property
    def conversions(self) -> int:
        return self.stage.conversions

    def __call__(self, sample, timestep, encoder_hidden_states=None, return_dict=False):
        if return_dict:
            raise InputError("return_dict", return_dict, "False (the OpenVINO UNet gives a tuple)")
        if encoder_hidden_states is None:
            raise InputError("encoder_hidden_states", None, "the text embeddings (a tensor)")
        return (self.stage(sample, timestep, encoder_hidden_states),)
