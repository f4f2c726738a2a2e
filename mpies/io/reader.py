"""Read run files -- finished, live (being written by a run) or left by a killed run.

Files are opened read-only in SWMR mode without file locking, so a reader never blocks or
disturbs the writer, and a file whose writer was killed mid-write still opens.
"""

from __future__ import annotations

import os
import time

import h5py
import numpy as np

from .schema import RESUMABLE_VERSIONS, SCHEMA_VERSION


class RunFileError(Exception):
    """A file that is missing, not HDF5, or not an mpies run: the message is one line."""


def open_run(path: str | os.PathLike, retries: int = 5) -> h5py.File:
    """Open a run file for reading; raise RunFileError with a clear message if it is not one."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise RunFileError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise RunFileError(f"{path}: not an HDF5 file (truncated, or not written by mpies)")
    try:  # a plain open checks the file is complete (SWMR opens skip that check)...
        f = h5py.File(path, "r", locking=False)
    except OSError as exc:
        if "truncated" in str(exc):
            raise RunFileError(f"{path}: truncated HDF5 file ({exc}); it cannot be read or resumed") from None
        f = _open_swmr(path, retries)  # ...but refuses files a writer holds open, or was killed in
    return _check_run_file(f, path)


def _open_swmr(path: str, retries: int) -> h5py.File:
    for attempt in range(retries):
        try:
            return h5py.File(path, "r", swmr=True, locking=False)
        except OSError as exc:  # a writer may be mid-write: try again shortly
            if attempt == retries - 1:
                raise RunFileError(f"{path}: cannot be read as HDF5 ({exc})") from None
            time.sleep(0.2)


def _check_run_file(f: h5py.File, path: str) -> h5py.File:
    if "schema_version" not in f.attrs or "history" not in f:
        f.close()
        raise RunFileError(f"{path}: an HDF5 file, but not an mpies run (no schema_version / history)")
    version = int(f.attrs["schema_version"])
    if version > SCHEMA_VERSION:
        written_by = str(f.attrs.get("mpies_version", "?"))
        f.close()
        raise RunFileError(f"{path}: written by mpies {written_by} (schema version {version}), newer "
                           f"than this mpies understands ({SCHEMA_VERSION}); upgrade mpies")
    return f


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
    slot, next_generation = (int(v) for v in f["state/pointer"][()])
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
        stored = str(f.attrs["config"])
        pointer = f["state/pointer"][()]
    differing = _differing_keys(stored, config_text)
    if differing:
        raise RunFileError(f"{path}: holds a run of another configuration (differs in "
                           f"{', '.join(differing)}); pass -o for a new file, or --overwrite to replace it")
    if int(pointer[0]) < 0:
        return "new"
    with open_run(path) as f:
        check_resumable(f)
    return "finished" if int(pointer[1]) >= generations else "resume"


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
