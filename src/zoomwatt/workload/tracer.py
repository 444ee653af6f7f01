"""Trace one call of a model at the aten-op level and record every op it runs.

Three hooks work together during the call:

- forward pre/post hooks on every submodule keep a stack of module paths, so each op is
  attributed to the innermost module that issued it;
- a ``TorchDispatchMode`` sees every aten op after autograd and decompositions, looks up its
  cost in :mod:`zoomwatt.workload.formulas` and counts the bytes it reads and writes;
- a ``TorchFunctionMode`` catches ``scaled_dot_product_attention`` before it is decomposed, so
  that fused attention is recorded as one fused op (its score matrix never written to memory),
  whatever kernel the device would pick. On the ``meta`` device the op is not run at all: its
  output shape is known.

Weights are told from activations by identity: parameters, and every view or copy made of one
during the call, are weights. A matmul with a weight operand is ``linear``; one between two
activations is ``attention``. Peak activation memory is the largest sum of live activation
tensors (each storage counted once, freed when Python frees it), model inputs included.

Nothing is allocated on the ``meta`` device, so a 2048x2048 trace needs no more memory than a
512x512 one.
"""

from __future__ import annotations

import gc
import logging
import math
import weakref
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from zoomwatt.errors import InputError
from zoomwatt.workload.formulas import (
    SKIPPED_OPS,
    VIEW_OPS,
    OpCall,
    OpCost,
    lookup,
)
from zoomwatt.workload.meta_shapes import fast_meta
from zoomwatt.workload.records import (
    DTYPE_BYTES,
    MODEL_DTYPES,
    LayerRecord,
    OpClass,
    Trace,
)

log = logging.getLogger(__name__)

aten = torch.ops.aten

_SDPA = aten.scaled_dot_product_attention.default
_WRITE_ONLY = frozenset({aten.copy_, aten.fill_, aten.zero_, aten.normal_, aten.index_put_})
_UNKNOWN_COST = (OpCost(OpClass.OTHER, 0, 0),)


def _tensors(values: Any) -> list[torch.Tensor]:
    """Tensors among ``values``, one level into lists and tuples (aten argument structure)."""
    found: list[torch.Tensor] = []
    for v in values:
        if isinstance(v, torch.Tensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            found.extend(x for x in v if isinstance(x, torch.Tensor))
    return found


def _distinct_numel(t: torch.Tensor) -> int:
    """Elements a view really touches: broadcast (stride 0) dimensions read one element."""
    n = 1
    for size, stride in zip(t.shape, t.stride(), strict=True):
        if stride != 0:
            n *= size
    return n


class _Recorder:
    """State shared by the hooks and the two modes during one traced call."""

    def __init__(self, module: torch.nn.Module, dtype: str, activation_dtype: str, fast_meta: bool):
        self.fast_meta = fast_meta
        self.dtype = dtype
        self.activation_dtype = activation_dtype
        self.weight_bytes_per_element = DTYPE_BYTES[dtype]
        self.act_bytes_per_element = DTYPE_BYTES[activation_dtype]
        self.record_act_dtype = None if activation_dtype == dtype else activation_dtype
        self.stack: list[str] = []
        # id(tensor) -> (tensor, id of the parameter it derives from). The strong reference
        # keeps ids unique for the whole call.
        self.weights: dict[int, tuple[torch.Tensor, int]] = {}
        self.param_numel: dict[int, int] = {}
        for p in module.parameters():
            self.weights[id(p)] = (p, id(p))
            self.param_numel[id(p)] = p.numel()
        self.params_read: set[int] = set()
        self.records: list[LayerRecord] = []
        self.unknown: set[str] = set()
        self.live_storages: set[int] = set()
        self.live_bytes = 0.0
        self.peak_bytes = 0.0
        self.paused = False
        self._schema_info: dict[Any, bool] = {}

    # --- bytes ------------------------------------------------------------------------------

    def _bytes(self, t: torch.Tensor, numel: int) -> float:
        if t.is_floating_point():
            return numel * self.act_bytes_per_element
        return float(numel * t.element_size())  # token ids, masks: their real size

    def add_live(self, t: torch.Tensor) -> None:
        """Count ``t``'s storage as live until Python frees it (once per storage, so views,
        in-place results and ``_unsafe_view`` aliases are not counted again)."""
        storage = t.untyped_storage()
        key = id(storage)
        if key in self.live_storages:
            return
        size = self._bytes(t, storage.nbytes() // t.element_size())
        self.live_storages.add(key)
        self.live_bytes += size
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        weakref.finalize(storage, self._free, key, size)

    def _free(self, key: int, size: float) -> None:
        self.live_storages.discard(key)
        self.live_bytes -= size

    # --- ops --------------------------------------------------------------------------------

    def _mutates(self, func: Any) -> bool:
        """Whether an OpOverload writes into its first argument (in-place), cached."""
        mutates = self._schema_info.get(func)
        if mutates is None:
            schema = func._schema
            first = schema.arguments[0].alias_info if schema.arguments else None
            mutates = self._schema_info[func] = first is not None and first.is_write
        return mutates

    def view(self, func: Any, args: tuple, kwargs: dict) -> Any:
        out = func(*args, **kwargs)
        source = next((a for a in args if isinstance(a, torch.Tensor)), None)
        if source is not None and id(source) in self.weights:
            param = self.weights[id(source)][1]
            for t in _tensors((out,)):
                self.weights[id(t)] = (t, param)
        return out

    def record(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        packet = func.overloadpacket
        mutates = self._mutates(func)
        inputs = _tensors(args) + _tensors(kwargs.values())
        outputs = tuple(_tensors((out,)))

        # 1. Split operands into weights and activations.
        weight_params: list[int] = []
        weight_bytes = 0.0
        input_bytes = 0.0
        read = inputs[1:] if mutates and packet in _WRITE_ONLY else inputs
        for t in read:
            entry = self.weights.get(id(t))
            if entry is None:
                input_bytes += self._bytes(t, _distinct_numel(t))
                continue
            weight_params.append(entry[1])
            if packet is aten.embedding:  # a lookup reads only the rows it gathers
                rows = min(_distinct_numel(inputs[1]), t.shape[0])
                row_numel = math.prod(t.shape[1:])
                weight_bytes += rows * row_numel * self.weight_bytes_per_element
            else:
                weight_bytes += _distinct_numel(t) * self.weight_bytes_per_element
        self.params_read.update(weight_params)
        output_bytes = sum(self._bytes(t, t.numel()) for t in outputs)

        # 2. Cost from the table; unknown ops are kept as 0-FLOP "other" and reported.
        formula = lookup(func)
        if formula is None:
            self.unknown.add(str(func))
            costs = _UNKNOWN_COST
        else:
            costs = formula.cost(OpCall(args, kwargs, outputs, bool(weight_params)))

        # 3. One record per cost part; fused parts that stay on chip carry no bytes.
        module = self.stack[-1] if self.stack else ""
        name = str(func)
        for cost in costs:
            moves = cost.moves_bytes
            self.records.append(
                LayerRecord(
                    module=module,
                    op=f"{name}[{cost.part}]" if cost.part else name,
                    op_class=cost.op_class,
                    macs=cost.macs,
                    flops=cost.flops,
                    weight_bytes=weight_bytes if moves else 0.0,
                    input_bytes=input_bytes if moves else 0.0,
                    output_bytes=output_bytes if moves else 0.0,
                    dtype=self.dtype,
                    activation_dtype=self.record_act_dtype,
                )
            )
            weight_bytes = input_bytes = output_bytes = 0.0  # bytes belong to the first part

        # 4. A copy of a weight is still a weight; new storages become live activations.
        if weight_params and packet in (aten.clone, aten._to_copy, aten.contiguous):
            for t in outputs:
                self.weights[id(t)] = (t, weight_params[0])
        for t in outputs:
            self.add_live(t)

    def dispatch(self, func: Any, args: tuple, kwargs: dict) -> Any:
        packet = func.overloadpacket
        if self.paused or packet in SKIPPED_OPS:
            return func(*args, **kwargs)
        if func.is_view or packet in VIEW_OPS:
            return self.view(func, args, kwargs)
        out = fast_meta(func, args, kwargs) if self.fast_meta else None
        if out is None:
            out = func(*args, **kwargs)
        self.record(func, args, kwargs, out)
        return out

    def fused_attention(self, func: Callable, args: tuple, kwargs: dict) -> Any:
        if self.paused:
            return func(*args, **kwargs)
        # query, key and value positionally, so that the formula finds them
        kwargs = dict(kwargs)
        args = (*args, *(kwargs.pop(n) for n in ("query", "key", "value")[len(args) :]))
        query, value = args[0], args[2]
        if query.device.type == "meta":
            out = query.new_empty((*query.shape[:-1], value.shape[-1]))
        else:
            self.paused = True
            try:
                out = func(*args, **kwargs)
            finally:
                self.paused = False
        self.record(_SDPA, args, kwargs, out)
        return out


class _DispatchMode(TorchDispatchMode):
    def __init__(self, recorder: _Recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return self.recorder.dispatch(func, args, kwargs or {})


class _FunctionMode(TorchFunctionMode):
    def __init__(self, recorder: _Recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is F.scaled_dot_product_attention:
            return self.recorder.fused_attention(func, args, kwargs or {})
        return func(*args, **(kwargs or {}))


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def trace_call(
    module: torch.nn.Module,
    fn: Callable[..., Any],
    *args: Any,
    dtype: str = "fp16",
    activation_dtype: str | None = None,
    select_output: Callable[[Any], torch.Tensor] | None = None,
    fast: bool = True,
    **kwargs: Any,
) -> Trace:
    """Run ``fn(*args, **kwargs)`` (``module`` itself or one of its methods) under the tracer.

    Module paths are relative to ``module``; ops outside every submodule get ``""``. Bytes are
    counted in ``dtype`` for weights and ``activation_dtype`` (default: ``dtype``) for
    activations, whatever dtype the tensors really have. ``select_output`` picks the output
    whose shape is reported (default: the first tensor found). ``fast=False`` runs every
    meta kernel instead of computing the hot ops' output shapes directly (same records, slower).
    """
    # 1. Check inputs.
    if not isinstance(module, torch.nn.Module):
        raise InputError("module", type(module).__name__, "a torch.nn.Module")
    if dtype not in MODEL_DTYPES:
        raise InputError("dtype", dtype, f"one of {', '.join(MODEL_DTYPES)}")
    activation_dtype = activation_dtype or dtype
    if activation_dtype not in MODEL_DTYPES:
        raise InputError("activation_dtype", activation_dtype, f"one of {', '.join(MODEL_DTYPES)}")

    # 2. Global module hooks (two registrations instead of two per submodule) keep the stack
    #    of module paths; modules outside `module` are ignored.
    recorder = _Recorder(module, dtype, activation_dtype, fast)
    stack = recorder.stack
    names = {id(sub): name for name, sub in module.named_modules()}

    def enter(sub: torch.nn.Module, _args: Any) -> None:
        name = names.get(id(sub))
        if name is not None:
            stack.append(name)

    def leave(sub: torch.nn.Module, _args: Any, _out: Any) -> None:
        if id(sub) in names:
            stack.pop()  # returns None: a forward hook's return value replaces the output

    # The call's inputs, also inside a dict argument (SDXL's ``added_cond_kwargs``).
    values = [*args, *kwargs.values()]
    values += [v for d in values if isinstance(d, dict) for v in d.values()]
    inputs = _tensors(values)
    for t in inputs:
        recorder.add_live(t)

    # 3. Run the call under both modes. The cyclic GC is paused: the trace makes many small
    #    objects and no cycles, and collections would cost more than the trace itself.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    pre = torch.nn.modules.module.register_module_forward_pre_hook(enter)
    post = torch.nn.modules.module.register_module_forward_hook(leave)
    try:
        with torch.no_grad(), _FunctionMode(recorder), _DispatchMode(recorder):
            out = fn(*args, **kwargs)
    finally:
        pre.remove()
        post.remove()
        if gc_was_enabled:
            gc.enable()
    if recorder.unknown:
        log.debug("ops not in the formula table: %s", ", ".join(sorted(recorder.unknown)))

    # 4. Summarise.
    selected = select_output(out) if select_output else _first_tensor(out)
    params = sum(recorder.param_numel[p] for p in recorder.params_read)
    return Trace(
        records=tuple(recorder.records),
        params=params,
        weight_bytes=params * DTYPE_BYTES[dtype],
        peak_activation_bytes=recorder.peak_bytes,
        input_shapes=tuple(tuple(t.shape) for t in inputs),
        output_shape=tuple(selected.shape) if selected is not None else (),
        unknown_ops=tuple(sorted(recorder.unknown)),
    )
