"""One episode: policy x environment x seed -> return, length, observation statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Episode:
    """Outcome of one episode.

    Attributes:
        total_return: sum of rewards, each less the episode's ``reward_shift`` (NaN if the
            environment produced a non-finite reward).
        length: steps taken.
        obs_sum, obs_sumsq: float64 ``(obs_dim,)`` sums of raw observations and their squares,
            or ``None`` when statistics were not collected.
    """

    total_return: float
    length: int
    obs_sum: np.ndarray | None = None
    obs_sumsq: np.ndarray | None = None


def run_episode(env, act, seed: int, max_steps: int, obs_buffer: np.ndarray | None = None,
                reward_shift: float = 0.0) -> Episode:
    """Play one episode.

    Args:
        env: a gymnasium environment.
        act: function ``obs -> action`` (see :meth:`mpies.policies.Policy.actor`).
        seed: episode seed passed to ``env.reset``.
        max_steps: step cap.
        obs_buffer: float64 ``(max_steps, obs_dim)`` scratch space; when given, the observations the
            policy saw are summed into ``obs_sum`` / ``obs_sumsq``.
        reward_shift: subtracted from every step's reward (ARS's survival-bonus shift: the return
            is ``sum(reward) - reward_shift * length``).
    """
    obs, _ = env.reset(seed=seed)
    total, steps = 0.0, 0
    while steps < max_steps:
        if obs_buffer is not None:
            obs_buffer[steps] = obs
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        total += float(reward) - reward_shift
        steps += 1
        if terminated or truncated:
            break
    if not np.isfinite(total):
        total = float("nan")
    if obs_buffer is None:
        return Episode(total, steps)
    seen = obs_buffer[:steps]
    return Episode(total, steps, seen.sum(axis=0), np.einsum("ij,ij->j", seen, seen))
