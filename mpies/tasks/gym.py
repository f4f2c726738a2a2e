"""A policy network acting in a gymnasium environment: any registered id (or ``module:Env-v0``)
with a flat Box observation space and a Discrete or flat Box action space."""

from __future__ import annotations

import sys

import numpy as np

from .. import seeding
from ..config import ConfigError, RunConfig
from ..envs import make_env
from ..policies import Policy, unsupported_spaces
from ..rollout import run_episode
from .base import Evaluation, Task


class GymTask(Task):
    """Episodes of ``config.policy`` in ``config.env``; ``rank`` labels this process's warnings.

    Raises:
        ConfigError: the environment cannot be made, or its spaces are not ones a policy serves
            (checked once, at construction, before any rollout).
    """

    def __init__(self, config: RunConfig, rank: int = 0):
        self.rank = rank
        self.env = make_env(config.env, config.env_kwargs)
        problem = unsupported_spaces(self.env.observation_space, self.env.action_space)
        if problem:
            self.env.close()
            raise ConfigError(f"env: {config.env} is not supported: its {problem}; mpies policies act on "
                              f"flat Box observations with Discrete or flat Box actions")
        spec_steps = self.env.spec.max_episode_steps if self.env.spec else None
        self.max_steps = config.rollout.max_steps or spec_steps or 1000
        p = config.policy
        self.policy = Policy(self.env.observation_space, self.env.action_space, p.kind, p.hidden, p.squash)
        self.num_params = self.policy.num_params
        self.obs_dim = self.policy.obs_dim if p.obs_norm else 0  # gathered statistics per member
        self.init_scale = p.init_scale
        self._obs_buffer = None  # allocated at the first evaluation that collects observations
        self.buffer_bytes = self.max_steps * self.policy.obs_dim * 8 if p.obs_norm else 0
        self._identity = (np.zeros(self.policy.obs_dim), np.ones(self.policy.obs_dim))
        self._warned = False

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        """:meth:`mpies.policies.Policy.initial_params` at ``policy.init_scale``."""
        return self.policy.initial_params(rng, self.init_scale)

    @property
    def obs_buffer(self) -> np.ndarray:
        """float64 ``(max_steps, policy.obs_dim)``: the observations of one episode, allocated at
        first use (so that the run's memory check comes first)."""
        if self._obs_buffer is None:
            self._obs_buffer = np.empty((self.max_steps, self.policy.obs_dim))
        return self._obs_buffer

    def _warn_once(self, exc: Exception) -> None:
        """Report the first environment failure of this process on stderr (the rest are counted)."""
        if not self._warned:
            self._warned = True
            print(f"[rank {self.rank}] warning: an episode raised {type(exc).__name__}: {exc}; the member "
                  f"counts as failed (NaN), further failures are only counted", file=sys.stderr, flush=True)

    def evaluate(self, params, seeds, normalizer, action_noise: float = 0.0, collect_obs: bool = False,
                 noise_stream: int = 0, reward_shift: float = 0.0) -> Evaluation:
        """Play one episode per seed with ``params``; average the returns (see :meth:`Task.evaluate`)."""
        obs_mean, obs_std = normalizer.mean_std()
        if obs_mean.size == 0:  # observation normalisation is off
            obs_mean, obs_std = self._identity
        buffer = self.obs_buffer if (collect_obs and self.obs_dim) else None
        out = Evaluation(0.0, 0.0, 0)
        returns = []
        for seed in seeds:
            rng = seeding.action_noise_generator(seed, noise_stream) if action_noise else None
            act = self.policy.actor(params, obs_mean, obs_std, action_noise, rng)
            try:
                episode = run_episode(self.env, act, int(seed), self.max_steps, buffer, reward_shift)
            except Exception as exc:  # noqa: BLE001 - a failing environment fails the member only
                self._warn_once(exc)
                return Evaluation(float("nan"), 0.0, 0)
            returns.append(episode.total_return)
            out.length += episode.length / len(seeds)
            out.steps += episode.length
            if episode.obs_sum is not None:
                out.obs_sum = episode.obs_sum if out.obs_sum is None else out.obs_sum + episode.obs_sum
                out.obs_sumsq = episode.obs_sumsq if out.obs_sumsq is None else out.obs_sumsq + episode.obs_sumsq
                out.obs_count += episode.length
        out.fitness = float(np.mean(returns))
        return out

    def close(self) -> None:
        self.env.close()
