"""Reference operation energies at 45 nm (Horowitz, ISSCC 2014) and their scaling to a device.

A profile that does not state an energy per MAC for a dtype gets one derived here:

    energy per MAC = (multiply + accumulate at 45 nm) x node_scale x overhead_factor

``node_scale`` scales 45 nm / 0.9 V logic energy to the device's process (the profile says by how
much and why: energy ~ C V^2, C follows the contacted gate pitch); ``overhead_factor`` adds the
operand delivery and control energy that the bare arithmetic leaves out (register files,
operand networks, instruction issue). Accumulation is in the wide type the hardware uses:
int8 products into int32, fp16/bf16/fp8 products into fp32.
"""

from __future__ import annotations

from zoomwatt.hardware.quantity import Quantity, make_quantity

HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm 0.9 V"

# (multiply pJ, accumulate pJ, how the figure is made) at 45 nm
MAC_45NM_PJ: dict[str, tuple[float, float, str]] = {
    "fp32": (3.7, 0.9, "fp32 mul 3.7 + fp32 add 0.9"),
    "fp16": (1.1, 0.9, "fp16 mul 1.1 + fp32 add 0.9 (fp32 accumulation)"),
    "bf16": (1.1, 0.9, "taken as fp16 mul 1.1 + fp32 add 0.9 (no bf16 figure in the table)"),
    "fp8": (0.3, 0.4, "estimate: fp8 mul ~0.3 (between int8 and fp16) + fp16-width add 0.4"),
    "int8": (0.2, 0.1, "int8 mul 0.2 + int32 add 0.1 (int32 accumulation)"),
    "int4": (0.05, 0.1, "estimate: int4 mul ~0.2/4 (multiplier area ~ bits^2) + int32 add 0.1"),
    "uint8": (0.2, 0.1, "as int8: int8 mul 0.2 + int32 add 0.1"),
}

# 64-bit SRAM reads at 45 nm: 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ.
SRAM_1MB_PJ_PER_BYTE = 100.0 / 8.0  # large on-chip buffers are built from ~1 MB arrays


def derived_mac_energy(dtype: str, node_scale: Quantity, overhead_factor: Quantity) -> Quantity:
    """Energy per MAC for ``dtype`` from the 45 nm table, as a Quantity whose estimate text
    shows the arithmetic."""
    mul, add, how = MAC_45NM_PJ[dtype]
    pj = (mul + add) * node_scale.si * overhead_factor.si
    text = (
        f"derived: {HOROWITZ}: {how} = {mul + add:g} pJ, x node_scale {node_scale.si:g} "
        f"x overhead_factor {overhead_factor.si:g} = {pj:.3g} pJ"
    )
    return make_quantity(round(pj, 6), "pJ", estimate=text)


def derived_on_chip_energy(node_scale: Quantity) -> Quantity:
    """Energy per byte for a large on-chip SRAM, from the 1 MB array figure."""
    pj = SRAM_1MB_PJ_PER_BYTE * node_scale.si
    text = (
        f"derived: {HOROWITZ}: 64-bit read from a 1 MB SRAM 100 pJ = 12.5 pJ/B, "
        f"x node_scale {node_scale.si:g} = {pj:.3g} pJ/B"
    )
    return make_quantity(round(pj, 6), "pJ/B", estimate=text)
