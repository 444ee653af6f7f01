"""Plain-text tables for the CLI: columns padded to their widest cell, a dashed rule under the
header, chosen columns right-aligned."""

from __future__ import annotations


def text_table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Lines of a table; ``right`` holds the indices of right-aligned (numeric) columns."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]
