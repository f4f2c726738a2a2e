"""``/archive`` of a quality-diversity run file, read back into an archive object.

The writer keeps the archive's state arrays (``occupied``, ``fitness``, ``descriptors``, ``params``,
``parent_cell``, ``key``, see :mod:`mpies.qd.archives`) as datasets of ``/archive`` and its
geometry (``kind``, ``lower``, ``upper``, then ``bins`` or ``centroids``, ``seed``, ...) as
attributes, or as datasets when large (CVT centroids).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np

from ..policies import ObsNormalizer
from ..qd.archives import ArchiveBase, CVTArchive, GridArchive
from .history import read_family_history
from .policy import latest_normalizer
from .reader import RunFileError, open_run

REQUIRED = ("occupied", "fitness", "descriptors", "params")
"""State arrays an archive cannot be read without (``parent_cell`` and ``key`` are lineage)."""
LINEAGE = ("parent_cell", "key")


@dataclass
class ArchiveRun:
    """A quality-diversity run file as its readers (``plot --archive``, ``adapt``) need it.

    Attributes:
        path: the file.
        archive: its archive, every cell as stored.
        env, algorithm, status: root attributes.
        config: the stored configuration (TOML text).
        history: ``/history`` as its family's columns (:func:`mpies.io.history.read_family_history`).
        normalizer: observation statistics of the latest checkpoint (empty: the identity).
    """

    path: str
    archive: ArchiveBase
    env: str
    algorithm: str
    status: str
    config: str
    history: np.ndarray
    normalizer: ObsNormalizer


def _geometry(group: h5py.Group, name: str, path: str):
    """A geometry value, kept as an attribute or (when large) as a dataset of ``/archive``."""
    if name in group.attrs:
        return group.attrs[name]
    if name in group:
        return group[name][()]
    raise RunFileError(f"{path}: /archive has no {name!r}; not a complete quality-diversity archive")


def read_archive(f: h5py.File, path: str | None = None) -> ArchiveBase:
    """The archive of an open run file, as a :class:`~mpies.qd.archives.GridArchive` or
    :class:`~mpies.qd.archives.CVTArchive` holding the stored cells.

    Raises:
        RunFileError: no ``/archive``, an incomplete one, or a kind this mpies does not know;
            one line naming ``path`` (default: the file's name).
    """
    path = f.filename if path is None else path
    if "archive" not in f:
        raise RunFileError(f"{path}: no /archive in this run file (algorithm {f.attrs.get('algorithm', '?')}): "
                           f"not a quality-diversity (MAP-Elites) run")
    group = f["archive"]
    missing = [name for name in REQUIRED if name not in group]
    if missing:
        raise RunFileError(f"{path}: /archive lacks {', '.join(missing)}; not a complete quality-diversity archive")
    state = {name: group[name][()] for name in REQUIRED + LINEAGE if name in group}
    kind = str(_geometry(group, "kind", path))
    lower = np.asarray(_geometry(group, "lower", path), dtype=np.float64).reshape(-1)
    upper = np.asarray(_geometry(group, "upper", path), dtype=np.float64).reshape(-1)
    try:
        num_params = np.shape(state["params"])[-1]
        if kind == "grid":
            bins = np.asarray(_geometry(group, "bins", path), dtype=np.int64).reshape(-1)
            archive = GridArchive(lower.size, bins, lower, upper, num_params)
        elif kind == "cvt":
            centroids = np.asarray(_geometry(group, "centroids", path), dtype=np.float64)
            archive = CVTArchive(lower.size, len(centroids), lower, upper, num_params,
                                 seed=int(group.attrs.get("seed", 0)), centroids=centroids)
        else:
            raise RunFileError(f"{path}: /archive kind {kind!r} is not one this mpies knows (grid, cvt)")
        archive.load_state_dict({**archive.state, **state})
    except ValueError as exc:  # shapes that do not fit the geometry
        raise RunFileError(f"{path}: /archive is inconsistent: {exc}") from None
    return archive


def read_archive_run(path: str | os.PathLike) -> ArchiveRun:
    """Open ``path`` and read its archive and what goes with it (see :class:`ArchiveRun`).

    Raises:
        RunFileError: not a run file, or see :func:`read_archive`.
    """
    path = os.fspath(path)
    with open_run(path) as f:
        return ArchiveRun(path=path, archive=read_archive(f, path), env=str(f.attrs.get("env", "?")),
                          algorithm=str(f.attrs.get("algorithm", "?")), status=str(f.attrs.get("status", "")),
                          config=str(f.attrs["config"]), history=read_family_history(f),
                          normalizer=latest_normalizer(f))
