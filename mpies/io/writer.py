"""The rank-0 writer of a run file.

The file is opened only for the moment of a write and closed again (SWMR mode while open, flushed
before close). A writer killed between writes -- nearly always the case, as writes take
milliseconds and generations take seconds -- leaves a closed, clean file that ``h5dump``, h5py and
``mpies resume`` open directly. A writer killed in the middle of a write leaves the SWMR
consistency flags set; mpies readers open it in SWMR mode anyway and ``mpies resume`` rewrites it
(see :func:`repair`), while the A/B checkpoint slots guarantee the last complete checkpoint survives.

Before each open the writer checks the free space and then takes the disk blocks the write may
need (:func:`reserve`), so a disk that fills in between fails the write with the OS's reason
before HDF5 changes a byte: the file stays clean, readable by plain h5py, and resumable.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

import h5py
import numpy as np

from .hdf5 import LIBVER, describe, open_file
from .schema import SCHEMA_VERSION, columns, history_dtype

HISTORY_CHUNK = 256  # rows per chunk of /history
HISTORY_ROW_BYTES = 256  # an upper bound of any family's row size, for the free-space check
WRITE_BYTES = 4 * HISTORY_CHUNK * HISTORY_ROW_BYTES
"""Bytes one write may add to the file, reserved before it: a new history chunk, new chunks of a
program's tables (POET's are 256 rows of at most 100 bytes) and the metadata they bring."""
SPACE_MARGIN = 1 << 20  # bytes kept free beyond what a write needs
UNRESERVABLE = (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)
"""posix_fallocate errors of file systems that cannot reserve: the write goes ahead unreserved."""


class OutputError(Exception):
    """Writing the run file failed (disk full, file-size limit, I/O error): one line, ready to print."""


def ensure_space(directory: Path, needed: int) -> None:
    """Raise OSError(ENOSPC) unless ``needed`` bytes plus a margin are free under ``directory``.

    HDF5 can crash the process when a write hits a full disk; checking first (one statvfs call)
    turns that into an error mpies can report, with the run file untouched.
    """
    free = shutil.disk_usage(directory).free
    if free < needed + SPACE_MARGIN:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({free} bytes free, "
                                    f"{needed + SPACE_MARGIN} needed)")


def _nbytes(arrays: dict) -> int:
    return sum(np.asarray(v).nbytes for v in arrays.values())


def reserve(path: Path, nbytes: int) -> None:
    """Allocate ``nbytes`` of disk past the end of ``path`` before HDF5 opens it.

    HDF5 puts what a write adds at its end-of-allocation mark, below the reserved end, so those
    bytes land in blocks already taken; its flush truncates the file back to that mark, giving
    the rest back. A full disk (or a file-size limit) fails here with the OS's reason, before
    anything in the file changed.
    """
    if not hasattr(os, "posix_fallocate"):  # e.g. macOS: the free-space check alone
        return
    fd = os.open(path, os.O_WRONLY)
    try:
        os.posix_fallocate(fd, os.fstat(fd).st_size, nbytes)
    except OSError as exc:
        if exc.errno not in UNRESERVABLE:
            raise
    finally:
        os.close(fd)


def _in_h5py_dealloc(tb) -> bool:
    frames = traceback.extract_tb(tb)
    return bool(frames) and frames[-1].filename.startswith("h5py") and "dealloc" in frames[-1].name


def silence_h5py_close_errors() -> None:
    """From now on, drop h5py's echoes of its later attempts to close a file whose write failed:
    whenever that file's objects are freed, h5py closes it again, fails again, and prints the
    traceback (through ``sys.excepthook``) and "Exception ignored in ... __dealloc__" (through
    ``sys.unraisablehook``). The error itself is raised and reported once."""
    if getattr(sys.excepthook, "drops_h5py_echoes", False):
        return
    excepthook, unraisablehook = sys.excepthook, sys.unraisablehook

    def on_exception(kind, value, tb):
        if not _in_h5py_dealloc(tb):
            excepthook(kind, value, tb)

    def on_unraisable(unraisable):
        if "h5py" not in repr(unraisable.object):
            unraisablehook(unraisable)
    on_exception.drops_h5py_echoes = True
    sys.excepthook, sys.unraisablehook = on_exception, on_unraisable


@contextlib.contextmanager
def quiet_cleanup():
    """A block that writes an HDF5 file: if it fails, :func:`silence_h5py_close_errors`."""
    try:
        yield
    except BaseException:
        silence_h5py_close_errors()
        raise


def write_datasets(group: h5py.Group, arrays: dict[str, np.ndarray], docs: dict | None = None,
                prefix: str = "") -> None:
    """Datasets ``group/NAME`` of ``arrays``, each with the attrs ``doc`` and ``units`` of
    ``docs[prefix + NAME]`` (a ``(doc, units)`` pair) where given."""
    for name, value in arrays.items():
        dataset = group.create_dataset(name, data=np.asarray(value))
        if docs and prefix + name in docs:
            dataset.attrs["doc"], dataset.attrs["units"] = docs[prefix + name]


def document_columns(dataset: h5py.Dataset, doc: str, columns) -> None:
    """A compound dataset's ``doc``, and per column ``doc:NAME`` and ``units:NAME`` (``units``
    itself says where they are): ``columns`` are :class:`mpies.io.schema.Column`."""
    dataset.attrs["doc"] = doc
    dataset.attrs["units"] = "per column: units:NAME"
    for column in columns:
        dataset.attrs[f"doc:{column.name}"] = column.doc
        dataset.attrs[f"units:{column.name}"] = column.units


def write_layout(f: h5py.File, attrs: dict, state: dict[str, np.ndarray], best: dict[str, np.ndarray],
                 family: str, tables=None, docs: dict | None = None) -> None:
    """Lay out a new run in the empty file ``f``: root ``attrs`` (with ``schema_version``,
    ``history_family``, ``status`` and ``end_time``), an empty ``family`` history, the pointer,
    two state slots shaped like ``state``, ``/best``, and ``tables(f)``'s groups if given.

    ``docs`` (:meth:`mpies.program.Program.docs`) gives each dataset of the slots and of
    ``/best`` (as ``best/NAME``) its ``doc`` and ``units`` attributes."""
    f.attrs.update({"schema_version": SCHEMA_VERSION, "history_family": family,
                    "status": "running", "end_time": "", **attrs})
    history = f.create_dataset("history", shape=(0,), maxshape=(None,),
                               dtype=history_dtype(family), chunks=(HISTORY_CHUNK,))
    document_columns(history, "one row per generation", columns(family))
    pointer = f.create_dataset("state/pointer", data=np.array([-1, 0], dtype=np.int64))
    pointer.attrs["doc"] = ("[slot of the latest complete checkpoint (-1: none), generations done at it]; "
                            "state/slot0 and slot1 hold a checkpoint each (A/B)")
    pointer.attrs["units"] = "1"
    for slot in ("slot0", "slot1"):
        write_datasets(f.create_group(f"state/{slot}"), state, docs)
    write_datasets(f.create_group("best"), best, docs, "best/")
    if tables is not None:
        tables(f)


class RunWriter:
    """Appends generations and checkpoints to one run file. Use on rank 0 only."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, path, attrs: dict, state: dict[str, np.ndarray], best: dict[str, np.ndarray],
               family: str = "search", overwrite: bool = False, tables=None, docs: dict | None = None) -> "RunWriter":
        """Create a new run file with an empty ``family`` history and two state slots shaped like
        ``state``; ``tables(f)``, if given, adds the program's own groups (e.g. ``/archive``);
        ``docs`` documents the datasets (:func:`write_layout`)."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            ensure_space(path.parent, 3 * _nbytes(state) + _nbytes(best))
            with quiet_cleanup(), h5py.File(tmp, "w", libver=LIBVER, locking=False) as f:
                write_layout(f, attrs, state, best, family, tables, docs)
            os.replace(tmp, path)
        except (OSError, RuntimeError) as exc:
            tmp.unlink(missing_ok=True)
            raise OSError(describe(exc)) from None
        return cls(path)

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def _open(self, swmr: bool):
        reason = None
        try:
            with quiet_cleanup():
                yield from self._opened(swmr)
        except (OSError, RuntimeError) as exc:
            reason = describe(exc)
        if reason is not None:  # raised here, not chained to HDF5's long error stack
            raise OutputError(f"cannot write {self.path}: {reason}. The last complete checkpoint in it is "
                              f"intact: fix the cause (disk space, quota, permissions), then "
                              f"`mpies resume {self.path}`")

    def _opened(self, swmr: bool):
        ensure_space(self.path.parent, WRITE_BYTES)
        reserve(self.path, WRITE_BYTES)
        try:
            f = open_file(self.path, write=True, swmr=swmr)
        except OSError as exc:
            if "already open for write" not in str(exc):
                raise
            repair(self.path)
            f = open_file(self.path, write=True, swmr=swmr)
        try:
            yield f
            f.flush()
        finally:
            f.close()

    def write_generation(self, row: np.void | dict, state: dict | None = None,
                         best: dict | None = None, tables=None) -> None:
        """Append one history row; optionally write a checkpoint and/or the new best, in one open.

        Args:
            row: a record with the fields of the file's ``/history``.
            state: flat ``name -> array`` (same names and shapes as at creation) plus
                ``next_generation``: written to the slot not pointed at, then the pointer flips.
            best: ``name -> array`` replacing ``/best``.
            tables: ``tables(f)`` updates the program's own datasets in place (SWMR rules: resize
                and overwrite, no new objects).
        """
        with self._open(swmr=True) as f:
            history = f["history"]
            n = history.shape[0]
            history.resize((n + 1,))
            record = np.zeros((), dtype=history.dtype)
            for name in history.dtype.names:
                record[name] = row[name]
            history[n] = record
            for name, value in (best or {}).items():
                f["best"][name][...] = value
            if tables is not None:
                tables(f)
            if state is not None:
                self._write_checkpoint(f, state)

    def _write_checkpoint(self, f: h5py.File, state: dict) -> None:
        pointer = f["state/pointer"]
        slot = 1 - int(pointer[0]) if pointer[0] >= 0 else 0
        group = f[f"state/slot{slot}"]
        for name, value in state.items():
            if name == "next_generation":
                continue
            if group[name].shape != np.shape(value):
                raise ValueError(f"state {name!r} changed shape: {group[name].shape} -> {np.shape(value)}")
            group[name][...] = value
        f.flush()  # the slot is complete on disk before the pointer names it
        pointer[...] = np.array([slot, state["next_generation"]], dtype=np.int64)

    def edit(self):
        """Context manager: the file opened for writing (not SWMR: datasets may be created), flushed
        and closed on exit; write errors become :class:`OutputError`."""
        return self._open(swmr=False)

    def truncate_history(self, generations: int, tables=None) -> None:
        """Drop history rows past ``generations`` (rows written after the checkpoint resumed from);
        ``tables(f)`` drops the program's rows of those generations likewise."""
        with self._open(swmr=False) as f:
            if f["history"].shape[0] > generations:
                f["history"].resize((generations,))
            if tables is not None:
                tables(f)

    def set_attrs(self, **attrs) -> None:
        """Update root attributes (not possible while in SWMR mode, hence a plain open)."""
        with self._open(swmr=False) as f:
            f.attrs.update(attrs)

    def finish(self, status: str) -> None:
        self.set_attrs(status=status, end_time=time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def repair(path: str | os.PathLike) -> None:
    """Rewrite a file whose writer died mid-write (consistency flags still set) into a clean copy.

    Reads in SWMR mode (which ignores the flags), copies every object and attribute into a new
    file, then atomically replaces the original.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.repair-{os.getpid()}")
    with open_file(path, swmr=True) as src, h5py.File(tmp, "w", libver=LIBVER, locking=False) as dst:
        dst.attrs.update(src.attrs)
        for name in src:
            src.copy(src[name], dst, name=name)
    os.replace(tmp, path)


def create_group(f: h5py.File, name: str, arrays: dict[str, np.ndarray], attrs: dict | None = None,
                 docs: dict | None = None) -> None:
    """A new group of fixed-shape datasets (a program's table, e.g. ``/archive``); attribute values
    of more than 64 entries become datasets (HDF5 attributes are limited to 64 KiB). ``docs``:
    name -> ``(doc, units)`` of the datasets (arrays and large attributes alike)."""
    group = f.create_group(name)
    write_datasets(group, arrays, docs)
    for key, value in (attrs or {}).items():
        if np.size(value) > 64:
            write_datasets(group, {key: value}, docs)
        else:
            group.attrs[key] = value


def overwrite_group(f: h5py.File, name: str, arrays: dict[str, np.ndarray]) -> None:
    """Overwrite the datasets of a group made by :func:`create_group` in place (SWMR-safe)."""
    group = f[name]
    for key, value in arrays.items():
        group[key][...] = value
