"""Read run files -- finished, live (being written by a run) or left by a killed run.

Files are opened read-only without file locking, so a reader never blocks or disturbs the
writer: plainly when they are clean, in SWMR mode when a writer holds them open (or was killed in
a write). Every open and read is bounded in time (:mod:`mpies.io.hdf5`), and damage that HDF5 or
the checks here notice is a one-line :class:`RunFileError`.
"""

from __future__ import annotations

import contextlib
import os
import time
import tomllib

import h5py
import numpy as np

from .hdf5 import describe, is_hdf5_error, open_file
from .schema import FAMILIES, RESUMABLE_VERSIONS, SCHEMA_VERSION, V1_HISTORY_DTYPE, history_dtype


class RunFileError(Exception):
    """A file that is missing, not HDF5, damaged, or not an mpies run: the message is one line."""


def damaged(path, exc: BaseException) -> RunFileError:
    """The error for an HDF5 failure reading ``path``: HDF5 notices damage (a checksum that fails,
    an address past the end) only when it reads the damaged part."""
    return RunFileError(f"{path}: damaged ({describe(exc)}); it cannot be read or resumed")


@contextlib.contextmanager
def reading(path):
    """A block that reads the run file ``path``: HDF5's errors become :func:`damaged`'s."""
    try:
        yield
    except (OSError, RuntimeError, KeyError) as exc:
        if not is_hdf5_error(exc):
            raise
        raise damaged(path, exc) from None


class RunFile(h5py.File):
    """An open run file (:func:`open_run`): an HDF5 error raised inside its ``with`` block
    becomes :func:`damaged`'s one-line RunFileError."""

    def __exit__(self, kind, exc, traceback):
        path = self.filename
        super().__exit__(kind, exc, traceback)
        if exc is not None and is_hdf5_error(exc):
            raise damaged(path, exc) from None


def open_run(path: str | os.PathLike, retries: int = 5) -> RunFile:
    """Open a run file for reading, within seconds whatever its state.

    Checks what every reader relies on (``schema_version``, ``status``, ``/history`` of its
    version's layout); :func:`check_complete` checks the rest of a run.

    Raises:
        RunFileError: a directory, no such file, not HDF5, truncated, damaged, not an mpies run,
            or written by a newer mpies.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise RunFileError(f"{path}: is a directory; give a run file (.h5)")
    if not os.path.exists(path):
        raise RunFileError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise RunFileError(f"{path}: not an HDF5 file (truncated, or not written by mpies)")
    try:  # a plain open checks the file is complete (SWMR opens skip that check)...
        f = open_file(path, file_class=RunFile)
    except (OSError, RuntimeError) as exc:
        if "truncated" in str(exc):
            raise RunFileError(f"{path}: truncated HDF5 file ({describe(exc)}); it cannot be read or "
                               f"resumed") from None
        f = _open_swmr(path, retries)  # ...but refuses files a writer holds open, or was killed in
    try:
        _check_identity(f, path)
    except BaseException:
        f.close()
        raise
    return f


def _open_swmr(path: str, retries: int) -> RunFile:
    for attempt in range(retries):
        try:
            return open_file(path, swmr=True, file_class=RunFile)
        except (OSError, RuntimeError) as exc:  # a writer may be mid-write: try again shortly
            if attempt == retries - 1:
                raise damaged(path, exc) from None
            time.sleep(0.2)


def _check_identity(f: h5py.File, path: str) -> None:
    """Raise RunFileError unless ``f`` is a run file of a schema version this mpies reads."""
    with reading(path):
        version = f.attrs.get("schema_version")
        if not _is_integer(version) or "history" not in f:
            raise RunFileError(f"{path}: an HDF5 file, but not an mpies run (no schema_version / history)")
        version = int(version)
        if version > SCHEMA_VERSION:
            raise RunFileError(f"{path}: written by mpies {f.attrs.get('mpies_version', '?')} (schema "
                               f"version {version}), newer than this mpies understands "
                               f"({SCHEMA_VERSION}); upgrade mpies")
        if version < 1:
            raise RunFileError(f"{path}: schema_version {version} is not one mpies ever wrote; the file is damaged")
        if "status" not in f.attrs:
            raise RunFileError(f"{path}: no status attribute; the file is damaged")
        history = f["history"]
        expected = V1_HISTORY_DTYPE if version == 1 else _family_dtype(f, path)
        if not isinstance(history, h5py.Dataset) or history.ndim != 1 or history.dtype != expected:
            found = history.dtype if isinstance(history, h5py.Dataset) else "a group"
            raise RunFileError(f"{path}: /history is {_short(found)}, not the rows of schema version "
                               f"{version}; the file is damaged")


def _family_dtype(f: h5py.File, path: str) -> np.dtype:
    family = str(f.attrs.get("history_family", ""))
    if family not in FAMILIES:
        raise RunFileError(f"{path}: history_family {_short(family)!r} is not one of "
                           f"{', '.join(FAMILIES)}; the file is damaged")
    return history_dtype(family)


def _is_integer(value) -> bool:
    value = np.asarray(value)
    return value.shape == () and value.dtype.kind in "iu"


def _short(value, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def layout(group: h5py.Group) -> dict[str, tuple]:
    """Every object under ``group`` (read from object headers only): relative name ->
    ``("group",)`` or ``(shape, dtype)``, with None for the extendable dimensions of a shape."""
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            maxshape = obj.maxshape or obj.shape
            out[name] = (tuple(None if m is None else s for s, m in zip(obj.shape, maxshape)), obj.dtype)
        else:
            out[name] = ("group",)
    group.visititems(visit)
    return out


def read_pointer(f: h5py.File) -> tuple[int, int]:
    """``/state/pointer``: ``(slot of the latest complete checkpoint or -1, its next generation)``.

    Raises:
        RunFileError: no pointer, or one that names no slot of the file.
    """
    if "state/pointer" not in f:
        raise RunFileError(f"{f.filename}: no /state/pointer; the file is damaged")
    pointer = f["state/pointer"]
    if not isinstance(pointer, h5py.Dataset) or pointer.shape != (2,) or pointer.dtype.kind not in "iu":
        raise RunFileError(f"{f.filename}: /state/pointer is not 2 integers; the file is damaged")
    slot, next_generation = (int(v) for v in pointer[()])
    if slot not in (-1, 0, 1) or next_generation < 0 or (slot >= 0 and f"state/slot{slot}" not in f):
        raise RunFileError(f"{f.filename}: /state/pointer names slot {slot} at generation "
                           f"{next_generation}, which the file does not have; the file is damaged")
    return slot, next_generation


def check_complete(f: h5py.File) -> None:
    """Raise RunFileError unless ``f`` (from :func:`open_run`) holds a whole run: a TOML config, a
    pointer to a checkpoint slot no further than the history, both slots of one layout, ``/best``,
    and object headers that read (every checksum is checked)."""
    path = f.filename
    with reading(path):
        objects = layout(f)
        config = f.attrs.get("config")
        if not isinstance(config, str):
            raise RunFileError(f"{path}: no config attribute (TOML text); the file is damaged")
        try:
            tomllib.loads(config)
        except tomllib.TOMLDecodeError as exc:
            raise RunFileError(f"{path}: its config attribute is not TOML ({exc}); the file is damaged") from None
        _, next_generation = read_pointer(f)
        rows = f["history"].shape[0]
        if next_generation > rows:
            raise RunFileError(f"{path}: its checkpoint is of generation {next_generation}, but the "
                               f"history has {rows} rows; the file is damaged")
        if objects.get("best") != ("group",):
            raise RunFileError(f"{path}: no /best group; the file is damaged")
        if "state/slot0" in f and "state/slot1" in f:
            slots = [layout(f[f"state/slot{i}"]) for i in (0, 1)]
            if slots[0] != slots[1]:
                name = next(n for n in sorted(set(slots[0]) | set(slots[1])) if slots[0].get(n) != slots[1].get(n))
                raise RunFileError(f"{path}: its checkpoint slots differ in {name}; the file is damaged")


def check_run_file(path: str | os.PathLike) -> None:
    """Raise RunFileError (one line) unless ``path`` is a whole run file (:func:`check_complete`):
    what a command checks before it reads."""
    with open_run(path) as f:
        check_complete(f)


def check_resumable(f: h5py.File) -> None:
    """Raise RunFileError unless this mpies can continue the run in ``f`` (its schema version)."""
    version = int(f.attrs["schema_version"])
    if version not in RESUMABLE_VERSIONS:
        from .. import __version__
        raise RunFileError(f"{f.filename}: written by mpies {f.attrs.get('mpies_version', '?')} (schema "
                           f"version {version}); mpies {__version__} reads it but cannot resume it: "
                           f"continue it with the mpies that wrote it")


def read_history(f: h5py.File) -> np.ndarray:
    """All history rows as a structured array (its columns: :mod:`mpies.io.schema`)."""
    return f["history"][()]


def _read_tree(group: h5py.Group) -> dict[str, np.ndarray]:
    out = {}
    group.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def read_state(f: h5py.File) -> tuple[int, dict[str, np.ndarray]]:
    """The latest complete checkpoint: ``(next_generation, flat name -> array)``.

    Raises RunFileError if the run never reached a checkpoint.
    """
    slot, next_generation = read_pointer(f)
    if slot < 0:
        raise RunFileError(f"{f.filename}: the run stopped before its first checkpoint; start it again")
    return next_generation, _read_tree(f[f"state/slot{slot}"])


def read_best(f: h5py.File) -> dict[str, np.ndarray]:
    """``/best``: params, fitness, generation, obs_mean, obs_std (generation -1: none yet)."""
    return _read_tree(f["best"])


def resume_action(path, config_text: str, generations: int) -> str:
    """What ``mpies run --resume auto`` does with an existing output file.

    Returns ``"new"`` (no file, or a file of this config without a checkpoint), ``"resume"`` (an
    unfinished run of this config with a checkpoint) or ``"finished"``. Raises RunFileError if the
    file holds a run of another configuration (it is never overwritten then).
    """
    if not os.path.exists(path):
        return "new"
    with open_run(path) as f:
        check_complete(f)
        stored = str(f.attrs["config"])
        slot, next_generation = read_pointer(f)
        differing = _differing_keys(stored, config_text)
        if differing:
            raise RunFileError(f"{path}: holds a run of another configuration (differs in "
                               f"{', '.join(differing)}); pass -o for a new file, or --overwrite to replace it")
        if slot < 0:
            return "new"
        check_resumable(f)
    return "finished" if next_generation >= generations else "resume"


def _differing_keys(a: str, b: str) -> list[str]:
    """Config keys whose values differ between two TOML texts; where the file lives
    (``output.path``) is not part of a run's identity."""
    import tomllib

    def flat(text):
        out = {}
        for key, value in tomllib.loads(text).items():
            if isinstance(value, dict) and key != "env_kwargs":
                out.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                out[key] = value
        out.pop("output.path", None)
        return out
    fa, fb = flat(a), flat(b)
    return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
