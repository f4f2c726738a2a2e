"""Noiseless evaluation of a policy stored in a run file (single process)."""

from __future__ import annotations

import numpy as np

from . import config as config_mod
from .io import RunFileError, open_run, read_best, read_state
from .policies import ObsNormalizer
from .tasks import make_task


def evaluate_run(path, episodes: int, which: str = "best", seed: int = 1_000_000) -> dict:
    """Play ``episodes`` episodes (seeds ``seed, seed+1, ...``) of the best or final policy.

    Returns a dict with ``returns``, ``lengths``, ``mean``, ``std``, ``env`` and ``which``.
    """
    with open_run(path) as f:
        cfg = config_mod.from_toml(str(f.attrs["config"]))
        if which == "best":
            best = read_best(f)
            if int(best["generation"]) < 0:
                raise RunFileError(f"{path}: no evaluation has run yet; use --which final")
            params, obs_mean, obs_std = best["params"], best["obs_mean"], best["obs_std"]
        else:
            _, state = read_state(f)
            params = state["mean"]
            normalizer = ObsNormalizer(len(state["normalizer/sum"]))
            normalizer.state = {k: state[f"normalizer/{k}"] for k in normalizer.state}
            obs_mean, obs_std = normalizer.mean_std()
    task = make_task(cfg)
    fixed = _FixedStatistics(obs_mean, obs_std)
    results = [task.evaluate(params, [seed + i], fixed) for i in range(episodes)]
    task.close()
    returns = [r.fitness for r in results]
    return {"env": cfg.env, "which": which, "returns": returns, "lengths": [int(r.steps) for r in results],
            "mean": float(np.mean(returns)), "std": float(np.std(returns))}


class _FixedStatistics:
    """Stands in for an ObsNormalizer whose statistics were stored with the policy."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        self._mean_std = (mean, std)

    def mean_std(self):
        return self._mean_std
