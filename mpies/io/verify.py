"""Checking a run file against the run its config makes, before ``mpies resume`` writes a byte.

A resume overwrites the checkpoint slot not pointed at, appends to ``/history`` and rewrites
``/best`` and the program's tables, so each of those must have exactly the layout the program
would create today: :func:`check_checkpoint` compares the file with that layout (every state
array's name, shape and dtype in both slots, the history's columns, ``/best``, the tables, the
root attributes), then reads every object of the file. HDF5 notices damage to metadata only when
it reads the damaged part; reading it all here finds it before a write instead of in the middle
of one, and leaves the file as it was.
"""

from __future__ import annotations

import uuid

import h5py
import numpy as np

from .reader import RunFileError, layout, reading
from .writer import write_layout

READ_BLOCK_BYTES = 1 << 26
"""Bytes read at a time from a large dataset by :func:`read_everything` (64 MiB)."""


class RunLayout:
    """What a new run file of a program holds: object layouts (:func:`mpies.io.reader.layout`)
    and root attribute names. Made in memory from the same :func:`mpies.io.writer.write_layout`
    that creates real run files (so it holds one copy of the state while it is made)."""

    def __init__(self, attrs: dict, state: dict[str, np.ndarray], best: dict[str, np.ndarray],
                 family: str, tables=None):
        with h5py.File(f"layout-{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False) as f:
            write_layout(f, attrs, state, best, family, tables)
            self.objects = layout(f)
            self.attrs = set(f.attrs)


def _text(entry: tuple | None) -> str:
    if entry is None:
        return "missing"
    if entry == ("group",):
        return "a group"
    shape, dtype = entry
    kind = f"a table of {len(dtype.names)} columns" if dtype.names else str(dtype)
    return f"{kind} of shape ({', '.join('n' if n is None else str(n) for n in shape)}{',' * (len(shape) == 1)})"


def check_checkpoint(f: h5py.File, expected: RunLayout) -> None:
    """Raise RunFileError (one line) unless the open run file ``f`` has every object and root
    attribute of ``expected`` with the same layout, and every object of it reads."""
    path = f.filename
    with reading(path):
        stored = layout(f)
        for name, entry in sorted(expected.objects.items()):
            if stored.get(name) != entry:
                raise RunFileError(f"{path}: /{name} is {_text(stored.get(name))}, where its config makes "
                                   f"{_text(entry)}; the file is damaged or does not belong to its config")
        missing = sorted(expected.attrs - set(f.attrs))
        if missing:
            raise RunFileError(f"{path}: no {', '.join(missing)} attribute; the file is damaged")
        read_everything(f)


def read_everything(f: h5py.File) -> None:
    """Read every attribute and every dataset of ``f`` (large ones a block at a time), so that
    HDF5 checks every checksum of its metadata; raises HDF5's error at the first damaged part."""
    def read(obj) -> None:
        for name in obj.attrs:
            obj.attrs[name]
        if not isinstance(obj, h5py.Dataset):
            return
        if obj.ndim == 0 or obj.size == 0:
            obj[()]
            return
        rows = max(1, READ_BLOCK_BYTES // max(obj.dtype.itemsize * (obj.size // obj.shape[0]), 1))
        for start in range(0, obj.shape[0], rows):
            obj[start:start + rows]
    read(f)
    f.visititems(lambda name, obj: read(obj))
