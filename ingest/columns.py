"""Helpers for adapters that build the message table column by column, for large exports.

A million-message export read row by row into Python tuples and dicts is slow twice over:
every row costs several small objects, and the cyclic garbage collector walks all the live
ones again and again while they accumulate (time grows faster than the export). Adapters on
the hot path instead append plain values to one list per column, store a thread's or a file's
values once and refer to them by index, and hand the lists to :func:`strings` (arrow-backed
columns built in C) with the collector paused by :func:`no_gc`.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while reading (reference counting still frees everything).

    Parsed JSON and rows hold no reference cycles, so a collection there finds no garbage; it
    only walks the growing set of live objects. Nested use is fine: the outermost one re-enables.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def strings(values: Sequence[str | None], index: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """A ``string`` column (arrow-backed, as the schema wants) of ``values``, or ``values[index]``.

    With ``index``, ``values`` are the distinct values (one per thread or file) and the column
    repeats them without a Python object per row.
    """
    arr = pa.array(values, type=pa.large_string())
    if index is not None:
        arr = arr.take(pa.array(index))
    return pd.arrays.ArrowStringArray(arr)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_column(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A ``string`` column of ``uint64`` values as 16 lower-case hex digits each (``f"{v:016x}"``)."""
    raw = np.ascontiguousarray(values, dtype=">u8").view(np.uint8)
    out = np.empty(raw.size * 2, dtype=np.uint8)
    out[0::2] = _HEX[raw >> 4]
    out[1::2] = _HEX[raw & 15]
    offsets = np.arange(0, out.size + 1, 16, dtype=np.int64)
    arr = pa.LargeStringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(out))
    return pd.arrays.ArrowStringArray(arr)
