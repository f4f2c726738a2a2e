"""Noiseless evaluation of a policy stored in a run file (single process)."""

from __future__ import annotations

import numpy as np

from . import config as config_mod
from .io import open_run
from .io.policy import read_policy
from .tasks import make_task


def evaluate_run(path, episodes: int, which: str = "best", seed: int = 1_000_000) -> dict:
    """Play ``episodes`` episodes (seeds ``seed, seed+1, ...``) of the best or final policy
    (:func:`mpies.io.policy.read_policy`).

    Returns a dict with ``returns``, ``lengths``, ``mean``, ``std``, ``env`` and ``which``.
    """
    with open_run(path) as f:
        cfg = config_mod.from_toml(str(f.attrs["config"]))
        policy = read_policy(f, which)
    task = make_task(cfg)
    fixed = _FixedStatistics(policy.obs_mean, policy.obs_std)
    try:
        results = [task.evaluate(policy.params, [seed + i], fixed) for i in range(episodes)]
    finally:
        task.close()
    returns = [r.fitness for r in results]
    return {"env": cfg.env, "which": which, "returns": returns, "lengths": [int(r.steps) for r in results],
            "mean": float(np.mean(returns)), "std": float(np.std(returns))}


class _FixedStatistics:
    """Stands in for an ObsNormalizer whose statistics were stored with the policy."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        self._mean_std = (mean, std)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        return self._mean_std
