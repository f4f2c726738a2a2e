"""Noiseless evaluation of a policy stored in a run file (single process)."""

from __future__ import annotations

import numpy as np

from . import config as config_mod
from .envs import make_env
from .io import RunFileError, open_run, read_best, read_state
from .policies import ObsNormalizer, Policy
from .rollout import run_episode


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
            params = state["strategy/theta"]
            normalizer = ObsNormalizer(len(state["normalizer/sum"]))
            normalizer.state = {k: state[f"normalizer/{k}"] for k in normalizer.state}
            obs_mean, obs_std = normalizer.mean_std()
    env = make_env(cfg.env, cfg.env_kwargs)
    policy = Policy(env.observation_space, env.action_space, cfg.policy.kind, cfg.policy.hidden)
    max_steps = cfg.rollout.max_steps or (env.spec.max_episode_steps if env.spec else None) or 1000
    act = policy.actor(params, obs_mean, obs_std)
    results = [run_episode(env, act, seed + i, max_steps) for i in range(episodes)]
    env.close()
    returns = [r.total_return for r in results]
    return {"env": cfg.env, "which": which, "returns": returns, "lengths": [r.length for r in results],
            "mean": float(np.mean(returns)), "std": float(np.std(returns))}
