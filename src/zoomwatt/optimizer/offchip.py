"""Off-chip access minimization (ROMANet, Putra et al. arXiv 1902.10222; adaptive scheduling,
Zheng et al. TCAS-II 2022): per conv/linear layer, search tile sizes and the loop order under
the on-chip buffer, and count DRAM bytes and DRAM energy (row-buffer hits vs misses) against a
naive layer-at-a-time schedule.

A layer is a GEMM  O[M, K] = I[M, C] x W[C, K]  (a conv: M = output pixels x batch, K = output
channels, C = input channels x kernel taps; the input tensor itself holds ``in_elems`` elements,
less than M x C when kernel windows overlap). Tiles (Tm, Tk, Tc) run in an order of the three
tile loops (outer -> inner). An operand's tile is fetched again whenever a loop it depends on
(I: m, c; W: c, k; O: m, k) advances, and also whenever a loop outside its innermost dependent
loop does; so, with n_x = ceil(X / Tx) trips,

    traffic(I) = |I| x product of n over loops at or outside I's innermost loop that I ignores
    traffic(W) = |W| x (the same for W)
    traffic(O) = |O| x (2 n_c - 1)  when c runs outside O's innermost loop (partial sums are
                 written and read back), else |O| (written once)

Buffer: Tm Tc (in_elems / (M C)) b_I + Tc Tk b_W + Tm Tk b_O <= on-chip buffer (one buffer,
no double buffering; halos ignored). Naive: order (m, k, c), equal power-of-two tiles, tensors
laid out row-major. Searched: every order x power-of-two tiles, each tile stored contiguously
in DRAM (ROMANet's DRAM mapping).

DRAM energy = bytes x E_byte + row activations x E_act. A fetch is a run of contiguous bytes;
each run opens ceil(run / row) rows (a miss each), the other bursts hit the open row. Naive
runs are one tile row long (Tc, Tk or Tk elements); searched runs are a whole tile.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from zoomwatt.errors import InputError
from zoomwatt.perfmodel.layer_table import DTYPES, OP_CLASS_INDEX, LayerTable
from zoomwatt.workload.records import DTYPE_BYTES, OpClass

ORDERS: tuple[tuple[str, str, str], ...] = tuple(itertools.permutations("mkc"))
DEPENDS = {"I": "mc", "W": "kc", "O": "mk"}
ROW_BYTES = 2048  # estimate: LPDDR5 page of 2 KB per channel (JEDEC JESD209-5 x16 die)
BURST_BYTES = 64  # estimate: one LPDDR5 BL16 access on a 32-bit channel
ROW_ACTIVATION_J = 1.0e-9  # estimate: ACT + PRE of one LPDDR row, ~1 nJ (DRAMPower-class)


@dataclass(frozen=True)
class GemmShape:
    """A conv or linear layer as a GEMM (see module doc); element counts and bytes each."""

    name: str
    m: int
    k: int
    c: int
    in_elems: float
    bytes_i: float = 2.0
    bytes_w: float = 2.0
    bytes_o: float = 2.0
    depthwise: bool = False  # one input channel per output channel: I depends on m and k

    @property
    def sizes(self) -> dict[str, float]:
        w_elems = self.k * self.c
        return {
            "I": self.in_elems * self.bytes_i,
            "W": w_elems * self.bytes_w,
            "O": self.m * self.k * self.bytes_o,
        }


@dataclass(frozen=True)
class Schedule:
    """A tiling and loop order of one layer, with its DRAM traffic and energy."""

    order: str  # e.g. "mkc" (outer -> inner)
    tile_m: int
    tile_k: int
    tile_c: int
    buffer_bytes_used: float
    dram_bytes: float
    row_misses: float
    row_hits: float
    dram_energy_j: float  # bytes x E_byte + misses x E_act
    row_miss_energy_j: float


@dataclass(frozen=True)
class LayerSchedules:
    layer: str
    macs: float
    naive: Schedule
    searched: Schedule
    lower_bound_bytes: float  # each operand once: |I| + |W| + |O|

    @property
    def dram_saving(self) -> float:
        return 1 - self.searched.dram_energy_j / self.naive.dram_energy_j


@dataclass(frozen=True)
class OffChipStudy:
    """Per-layer schedules and totals (one call of each layer, weighted by ``calls``)."""

    buffer_bytes: float
    dram_j_per_byte: float
    layers: list[LayerSchedules]
    calls: list[float]
    naive_dram_bytes: float
    searched_dram_bytes: float
    lower_bound_bytes: float
    naive_dram_energy_j: float
    searched_dram_energy_j: float
    naive_row_miss_energy_j: float
    searched_row_miss_energy_j: float

    @property
    def energy_saving(self) -> float:
        return 1 - self.searched_dram_energy_j / self.naive_dram_energy_j

    @property
    def bytes_saving(self) -> float:
        return 1 - self.searched_dram_bytes / self.naive_dram_bytes


def _tiles(n: int) -> np.ndarray:
    """Powers of two below n, and n itself."""
    t = [1 << i for i in range(max(1, int(math.log2(max(n, 1))) + 1)) if (1 << i) < n]
    return np.array([*t, n], dtype=float)


def _traffic(shape: GemmShape, order: str, tm, tk, tc):
    """Bytes of I, W, O for tile sizes (arrays broadcast together) and one loop order."""
    trips = {"m": np.ceil(shape.m / tm), "k": np.ceil(shape.k / tk), "c": np.ceil(shape.c / tc)}
    sizes = shape.sizes
    deps = dict(DEPENDS)
    if shape.depthwise:
        deps["I"] = "mk"
    out = {}
    for operand in ("I", "W"):
        inner = max(order.index(loop) for loop in deps[operand])
        reload = 1.0
        for loop in order[: inner + 1]:
            if loop not in deps[operand]:
                reload = reload * trips[loop]
        out[operand] = sizes[operand] * reload
    inner_o = max(order.index(loop) for loop in deps["O"])
    reload_o = 1.0
    for loop in order[:inner_o]:
        if loop not in deps["O"]:
            reload_o = reload_o * trips[loop]
    spills = order.index("c") < inner_o
    out["O"] = sizes["O"] * (2 * reload_o - 1 if spills else 1.0)
    return out


def _tile_bytes(shape: GemmShape, tm, tk, tc):
    if shape.depthwise:  # an input tile is the window of Tm pixels of Tk channels
        i_tile = tm * tk * (shape.in_elems / (shape.m * shape.k)) * shape.bytes_i
    else:
        i_tile = tm * tc * (shape.in_elems / (shape.m * shape.c)) * shape.bytes_i
    return {"I": i_tile, "W": tc * tk * shape.bytes_w, "O": tm * tk * shape.bytes_o}


def _row_stats(traffic, runs, e_byte):
    misses = sum(traffic[x] / runs[x] * np.ceil(runs[x] / ROW_BYTES) for x in traffic)
    accesses = sum(np.ceil(traffic[x] / BURST_BYTES) for x in traffic)
    total = sum(traffic.values())
    return (
        total,
        misses,
        np.maximum(accesses - misses, 0),
        total * e_byte + misses * ROW_ACTIVATION_J,
    )


def _evaluate(shape, order, tm, tk, tc, buffer, e_byte, contiguous):
    traffic = _traffic(shape, order, tm, tk, tc)
    tiles = _tile_bytes(shape, tm, tk, tc)
    used = tiles["I"] + tiles["W"] + tiles["O"]
    if contiguous:
        runs = {x: np.maximum(tiles[x], 1.0) for x in tiles}
    else:  # row-major tensors: one tile row per run
        runs = {
            "I": np.maximum(tc * shape.bytes_i, 1.0),
            "W": np.maximum(tk * shape.bytes_w, 1.0),
            "O": np.maximum(tk * shape.bytes_o, 1.0),
        }
    total, misses, hits, energy = _row_stats(traffic, runs, e_byte)
    return used, total, misses, hits, energy


def _schedule(order, tm, tk, tc, used, total, misses, hits, energy) -> Schedule:
    return Schedule(
        order="".join(order),
        tile_m=int(tm),
        tile_k=int(tk),
        tile_c=int(tc),
        buffer_bytes_used=float(used),
        dram_bytes=float(total),
        row_misses=float(misses),
        row_hits=float(hits),
        dram_energy_j=float(energy),
        row_miss_energy_j=float(misses * ROW_ACTIVATION_J),
    )


def naive_schedule(shape: GemmShape, buffer_bytes: float, e_byte: float) -> Schedule:
    """Order (m, k, c), the largest equal power-of-two tiles (capped by each dim) that fit,
    row-major tensors."""
    best = None
    for t in _tiles(max(shape.m, shape.k, shape.c)):
        tm, tk, tc = min(t, shape.m), min(t, shape.k), min(t, shape.c)
        res = _evaluate(shape, "mkc", tm, tk, tc, buffer_bytes, e_byte, contiguous=False)
        if res[0] <= buffer_bytes or best is None:
            best = _schedule("mkc", tm, tk, tc, *res)
    return best


def search_schedule(shape: GemmShape, buffer_bytes: float, e_byte: float) -> Schedule:
    """The order and power-of-two tiles with the least DRAM energy that fit the buffer, tiles
    stored contiguously (ties: fewer bytes)."""
    tm, tk, tc = np.meshgrid(_tiles(shape.m), _tiles(shape.k), _tiles(shape.c), indexing="ij")
    tm, tk, tc = tm.ravel(), tk.ravel(), tc.ravel()
    best, best_key = None, None
    for order in ORDERS:
        used, total, misses, hits, energy = _evaluate(
            shape, order, tm, tk, tc, buffer_bytes, e_byte, contiguous=True
        )
        fits = used <= buffer_bytes
        if not fits.any():
            fits = used <= used.min()
        key_e = np.where(fits, energy, np.inf)
        i = int(np.argmin(key_e))
        key = (float(key_e[i]), float(total[i]))
        if best_key is None or key < best_key:
            best_key = key
            best = _schedule(
                order, tm[i], tk[i], tc[i], used[i], total[i], misses[i], hits[i], energy[i]
            )
    return best


def study_shapes(
    shapes: list[GemmShape],
    buffer_bytes: float,
    dram_j_per_byte: float,
    calls: list[float] | None = None,
) -> OffChipStudy:
    """Naive vs searched schedule of each layer, and the totals."""
    # 1. inputs
    if not (math.isfinite(buffer_bytes) and buffer_bytes > 0):
        raise InputError("buffer_bytes", buffer_bytes, "an on-chip buffer size in bytes > 0")
    if not (math.isfinite(dram_j_per_byte) and dram_j_per_byte > 0):
        raise InputError("dram_j_per_byte", dram_j_per_byte, "J per byte > 0")
    calls = [1.0] * len(shapes) if calls is None else list(calls)
    if len(calls) != len(shapes):
        raise InputError("calls", len(calls), f"one count per shape ({len(shapes)})")
    # 2. each layer
    layers = []
    for s in shapes:
        naive = naive_schedule(s, buffer_bytes, dram_j_per_byte)
        searched = search_schedule(s, buffer_bytes, dram_j_per_byte)
        lower = sum(s.sizes.values())
        layers.append(LayerSchedules(s.name, float(s.m) * s.k * s.c, naive, searched, lower))

    # 3. totals
    def tot(get) -> float:
        return float(sum(c * get(la) for c, la in zip(calls, layers, strict=True)))

    return OffChipStudy(
        buffer_bytes=buffer_bytes,
        dram_j_per_byte=dram_j_per_byte,
        layers=layers,
        calls=calls,
        naive_dram_bytes=tot(lambda la: la.naive.dram_bytes),
        searched_dram_bytes=tot(lambda la: la.searched.dram_bytes),
        lower_bound_bytes=tot(lambda la: la.lower_bound_bytes),
        naive_dram_energy_j=tot(lambda la: la.naive.dram_energy_j),
        searched_dram_energy_j=tot(lambda la: la.searched.dram_energy_j),
        naive_row_miss_energy_j=tot(lambda la: la.naive.row_miss_energy_j),
        searched_row_miss_energy_j=tot(lambda la: la.searched.row_miss_energy_j),
    )


def shapes_from_table(table: LayerTable) -> tuple[list[GemmShape], list[int]]:
    """GEMM shapes of the conv and linear layers of a layer table, recovered from MACs and
    bytes (C = MACs / output elements, K = weights / C, M = outputs / K; biases make K a
    little large and are rounded away). Returns the shapes and their layer indices."""
    classes = (OP_CLASS_INDEX[OpClass.CONV], OP_CLASS_INDEX[OpClass.LINEAR])
    idx = np.flatnonzero(np.isin(table.op_class, classes) & (table.macs > 0))
    starts = np.searchsorted(table.stage_index, np.arange(table.n_stages))
    shapes = []
    for i in idx:
        b = DTYPE_BYTES[DTYPES[table.dtype[i]]]
        stage = table.stages[table.stage_index[i]]
        record = stage.layers[i - starts[table.stage_index[i]]]
        out_elems = record.output_bytes / b
        w_elems = record.weight_bytes / b
        c = max(1, round(table.macs[i] / out_elems))
        k = _out_channels(w_elems, c, out_elems)
        m = max(1, round(out_elems / k))
        name = f"{stage.name}.{record.module}"
        shapes.append(GemmShape(name, m, k, c, record.input_bytes / b, b, b, b))
    return shapes, [int(i) for i in idx]


def _out_channels(w_elems: float, c: int, out_elems: float) -> int:
    """K from the weight count: K x C without a bias, K x (C + 1) with one."""
    for k in (w_elems / (c + 1), w_elems / c):
        if abs(k - round(k)) < 1e-6 and round(k) > 0 and out_elems % round(k) == 0:
            return round(k)
    return max(1, round(w_elems / c))


# Layer shapes for the ROMANet sanity check (ImageNet 224 x 224, batch 1).
def vgg16_shapes() -> list[GemmShape]:
    """The 13 conv layers of VGG-16 (3x3, stride 1, 'same') as GEMMs, 8-bit data."""
    cfg = [
        (3, 64, 224),
        (64, 64, 224),
        (64, 128, 112),
        (128, 128, 112),
        (128, 256, 56),
        (256, 256, 56),
        (256, 256, 56),
        (256, 512, 28),
        (512, 512, 28),
        (512, 512, 28),
        (512, 512, 14),
        (512, 512, 14),
        (512, 512, 14),
    ]
    return [
        GemmShape(f"vgg16.conv{i + 1}", h * h, k, c * 9, c * h * h, 1, 1, 1)
        for i, (c, k, h) in enumerate(cfg)
    ]


def mobilenet_shapes() -> list[GemmShape]:
    """MobileNet v1 (1.0, 224): the first conv, then depthwise 3x3 + pointwise 1x1 pairs."""
    # (input channels, output channels, input side, stride) of each depthwise-separable block
    blocks = [
        (32, 64, 112, 1),
        (64, 128, 112, 2),
        (128, 128, 56, 1),
        (128, 256, 56, 2),
        (256, 256, 28, 1),
        (256, 512, 28, 2),
        *[(512, 512, 14, 1)] * 5,
        (512, 1024, 14, 2),
        (1024, 1024, 7, 1),
    ]
    shapes = [GemmShape("mobilenet.conv1", 112 * 112, 32, 27, 3 * 224 * 224, 1, 1, 1)]
    for i, (c, k, h, stride) in enumerate(blocks):
        out = h // stride
        shapes.append(
            GemmShape(f"mobilenet.dw{i + 1}", out * out, c, 9, c * h * h, 1, 1, 1, depthwise=True)
        )
        shapes.append(GemmShape(f"mobilenet.pw{i + 1}", out * out, k, c, c * out * out, 1, 1, 1))
    return shapes
