"""Opening HDF5 files so that a damaged byte fails within a second instead of hanging.

In SWMR mode -- reading a file a writer may be writing, or writing one readers may read -- HDF5
retries a metadata read whose checksum fails, up to 100 times (``H5F_SWMR_METADATA_READ_ATTEMPTS``)
with a back-off that doubles from 1 ns: a damaged superblock or object header costs hours inside
one C call, deaf to Ctrl-C. ``h5py.File(path, "r", swmr=True)`` and ``f.swmr_mode = True`` both
use that default (the second ignores any setting). SWMR opens here retry
:data:`METADATA_READ_ATTEMPTS` times, about ``2**attempts`` ns in all, then raise; other opens
read once (HDF5's default without SWMR), failing at once.

h5py does not wrap ``H5Pset_metadata_read_attempts``; it is called through ctypes in the libhdf5
that h5py itself loaded (a dependency of h5py's ``h5`` extension module, so looking the symbol up
in that module finds it). Where it cannot be found, SWMR opens keep HDF5's default.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re

import h5py
from h5py import h5f, h5p

METADATA_READ_ATTEMPTS = 24
"""SWMR metadata read attempts: back-off 1 ns, 2 ns, ... 2**23 ns, 17 ms in all (measured: 0.024 s
on a file with a flipped superblock byte); a reader racing a writer's flush needs microseconds."""

LIBVER = ("v110", "v110")
"""Format bounds of what mpies writes (``h5py.File(..., libver=LIBVER)``): superblock version 3,
needed for SWMR and still readable by HDF5 1.10 tools."""


@functools.cache
def _set_read_attempts():
    """``H5Pset_metadata_read_attempts(fapl_id, attempts)`` of h5py's libhdf5, or None."""
    try:
        function = ctypes.CDLL(h5py.h5.__file__).H5Pset_metadata_read_attempts
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = [ctypes.c_int64, ctypes.c_uint], ctypes.c_int
    return function


def _file_access(libver, swmr: bool) -> h5p.PropFAID:
    fapl = h5p.create(h5p.FILE_ACCESS)
    fapl.set_file_locking(False, True)  # mpies never relies on HDF5's locks (lock.py has its own)
    fapl.set_libver_bounds(*libver)
    set_attempts = _set_read_attempts()
    if swmr and set_attempts is not None and set_attempts(fapl.id, METADATA_READ_ATTEMPTS) < 0:
        raise RuntimeError("H5Pset_metadata_read_attempts failed")
    return fapl


def open_file(path: str | os.PathLike, write: bool = False, swmr: bool = False,
              file_class: type[h5py.File] = h5py.File) -> h5py.File:
    """Open an existing HDF5 file without HDF5 file locks, every metadata read bounded.

    Args:
        path: the file.
        write: open for writing (``r+``; superblock version 3 bounds) rather than reading.
        swmr: reading: SWMR read (opens files whose consistency flags are set, e.g. by a live
            writer); writing: SWMR write (readers may read while this writes).
        file_class: ``h5py.File`` or a subclass, to wrap the opened file in.

    Raises:
        OSError or RuntimeError: HDF5's, as ``h5py.File`` raises them.
    """
    if write:
        flags = h5f.ACC_RDWR | (h5f.ACC_SWMR_WRITE if swmr else 0)
        libver = tuple(getattr(h5f, f"LIBVER_{bound.upper()}") for bound in LIBVER)
    else:
        flags = h5f.ACC_RDONLY | (h5f.ACC_SWMR_READ if swmr else 0)
        libver = (h5f.LIBVER_EARLIEST, h5f.LIBVER_LATEST)
    return file_class(h5f.open(os.fsencode(path), flags, fapl=_file_access(libver, swmr)))


def is_hdf5_error(exc: BaseException) -> bool:
    """Whether ``exc`` is HDF5's report of a failed open, read or write: h5py raises OSError or
    RuntimeError, and KeyError ("Unable to ... open object") for an object it cannot open
    (missing, or its header unreadable)."""
    if isinstance(exc, (OSError, RuntimeError)):
        return True
    return isinstance(exc, KeyError) and str(exc.args[0] if exc.args else "").startswith("Unable to")


def describe(exc: BaseException) -> str:
    """A short reason for an I/O failure: the OS's words ("No space left on device") rather than
    HDF5's error stack, which names the failing call's errno deep inside a long message."""
    if isinstance(exc, OSError) and exc.errno and exc.strerror:
        ours = exc.strerror.startswith(os.strerror(exc.errno))
        return exc.strerror if ours else os.strerror(exc.errno)
    text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    errno = re.search(r"\berrno = (\d+)", text)
    if errno and int(errno.group(1)):
        return os.strerror(int(errno.group(1)))
    return text.splitlines()[0] if text else type(exc).__name__
