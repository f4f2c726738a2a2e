"""The policies a run file stores: ``/best`` and the mean of the latest checkpoint, each with the
observation statistics it acts with."""

from __future__ import annotations

from typing import NamedTuple

import h5py
import numpy as np

from ..policies import ObsNormalizer
from .reader import RunFileError, read_best, read_state

NORMALIZER_PREFIX = "normalizer/"
"""Checkpoint names of the observation normaliser's sums: ``normalizer/sum``, ``/sumsq``, ``/count``."""


class StoredPolicy(NamedTuple):
    """Parameters float64 ``(num_params,)`` and the statistics ``(obs_dim,)`` they were used with."""

    params: np.ndarray
    obs_mean: np.ndarray
    obs_std: np.ndarray


def normalizer_from_state(state: dict[str, np.ndarray]) -> ObsNormalizer:
    """The observation normaliser of a checkpoint (:func:`mpies.io.read_state`); an empty one (the
    identity) for a run without observation statistics."""
    if NORMALIZER_PREFIX + "sum" not in state:
        return ObsNormalizer(0)
    normalizer = ObsNormalizer(len(state[NORMALIZER_PREFIX + "sum"]))
    normalizer.state = {k: state[NORMALIZER_PREFIX + k] for k in normalizer.state}
    return normalizer


def latest_normalizer(f: h5py.File) -> ObsNormalizer:
    """The normaliser of the latest checkpoint; the identity when the run has no checkpoint yet."""
    try:
        _, state = read_state(f)
    except RunFileError:
        return ObsNormalizer(0)
    return normalizer_from_state(state)


def read_policy(f: h5py.File, which: str) -> StoredPolicy:
    """``which = "best"``: the best evaluated policy (``/best``); ``"final"``: the mean of the
    latest checkpoint with its normaliser's statistics.

    Raises:
        RunFileError: no evaluation has run yet (best), or no checkpoint was written (final).
    """
    if which == "best":
        best = read_best(f)
        if int(best["generation"]) < 0:
            raise RunFileError(f"{f.filename}: no evaluation has run yet; use --which final")
        return StoredPolicy(best["params"], best["obs_mean"], best["obs_std"])
    _, state = read_state(f)
    return StoredPolicy(state["mean"], *normalizer_from_state(state).mean_std())
