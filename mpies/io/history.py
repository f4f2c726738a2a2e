"""``/history`` as its family's columns, for readers of any schema version.

Version 2 files store the columns of their family (:data:`mpies.io.schema.FAMILIES`); version 1
files (mpies 0.1) stored one layout for every algorithm (:data:`~mpies.io.schema.V1_HISTORY_DTYPE`),
with ``archive_filled = -1`` outside quality diversity and POET's active pairs, best score and mean
sigma in ``archive_filled``, ``eval_return`` and ``sigma``. :func:`read_family_history` gives both
as the family's columns, so readers test ``name in history.dtype.names`` and never the version.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import h5py
import numpy as np

from .reader import RunFileError, open_run
from .schema import V1_HISTORY_DTYPE, columns

POET = "poet"
QD = "qd"
SEARCH = "search"

V1_RENAMES = {POET: {"archive_filled": "active_pairs", "eval_return": "score_max", "sigma": "sigma_mean"}}
"""Family -> {version-1 column: the family's name for what it held}."""


def is_v1_history(f: h5py.File) -> bool:
    """Whether ``/history`` has the single layout of version 1."""
    return f["history"].dtype.names == V1_HISTORY_DTYPE.names


def history_family(f: h5py.File) -> str:
    """``"search"``, ``"qd"`` or ``"poet"``: POET by the root attr ``algorithm``; quality diversity
    by a ``qd_score`` column (version 2) or an ``/archive`` or ``archive_filled >= 0`` (version 1)."""
    if str(f.attrs.get("algorithm", "")) == POET:
        return POET
    if is_v1_history(f):
        return QD if "archive" in f or bool(np.any(f["history"]["archive_filled"] >= 0)) else SEARCH
    return QD if "qd_score" in f["history"].dtype.names else SEARCH


def read_family_history(f: h5py.File) -> np.ndarray:
    """All history rows as a structured array of the family's columns that the file holds, in the
    family's order (version 1: renamed as :data:`V1_RENAMES` says; columns it never had are absent)."""
    history = f["history"][()]
    if not is_v1_history(f):
        return history
    family = history_family(f)
    stored = {V1_RENAMES.get(family, {}).get(name, name): name for name in history.dtype.names}
    names = [c.name for c in columns(family) if c.name in stored]
    out = np.empty(history.shape, dtype=[(n, history.dtype[stored[n]]) for n in names])
    for name in names:
        out[name] = history[stored[name]]
    return out


class RunHistory(NamedTuple):
    """The history of one run file with what labels it: ``family``, ``env`` and ``config`` (root
    attrs; ``config`` is the stored TOML)."""

    path: str
    env: str
    family: str
    history: np.ndarray
    config: str = ""


def read_run_history(path: str | os.PathLike) -> RunHistory:
    """Open ``path`` and read its history as the family's columns (:func:`read_family_history`)."""
    path = os.fspath(path)
    with open_run(path) as f:
        return RunHistory(path, str(f.attrs.get("env", "?")), history_family(f), read_family_history(f),
                          str(f.attrs.get("config", "")))


def require_columns(run: RunHistory, names) -> None:
    """Raise RunFileError (one line) naming the first of ``names`` that ``run``'s history lacks."""
    have = run.history.dtype.names
    for name in names:
        if name not in have:
            raise RunFileError(f"{run.path}: no {name} in the history of this {run.family} run; it has "
                               + ", ".join(have))
