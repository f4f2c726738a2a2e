"""What a member's parameters are evaluated on: a gymnasium policy task or a benchmark function.

A task turns ``params (num_params,)`` and episode seeds into one gathered row: fitness (mean
return), mean episode length, environment steps, and (policy tasks with observation
normalisation) the sums of the observations seen.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from .config import ConfigError, RunConfig
from .envs import make_env
from .envs.functions import FUNCTIONS
from .policies import ObsNormalizer, Policy
from .rollout import run_episode

FUNCTION_PREFIX = "fn:"


@dataclass
class Evaluation:
    """One member's evaluation over its episodes (see :class:`mpies.runner` row layout)."""

    fitness: float
    length: float
    steps: int
    obs_sum: np.ndarray | None = None
    obs_sumsq: np.ndarray | None = None
    obs_count: int = 0
    descriptor: np.ndarray | None = None


class GymTask:
    """A policy network acting in a gymnasium environment (``rank`` labels its warnings)."""

    descriptor_dim = 0

    def __init__(self, config: RunConfig, rank: int = 0):
        self.rank = rank
        self.env = make_env(config.env, config.env_kwargs)
        spec_steps = self.env.spec.max_episode_steps if self.env.spec else None
        self.max_steps = config.rollout.max_steps or spec_steps or 1000
        p = config.policy
        self.policy = Policy(self.env.observation_space, self.env.action_space, p.kind, p.hidden)
        self.num_params = self.policy.num_params
        self.obs_dim = self.policy.obs_dim if p.obs_norm else 0  # gathered statistics per member
        self.init_scale = p.init_scale
        self.obs_buffer = np.empty((self.max_steps, self.policy.obs_dim)) if p.obs_norm else None
        self._identity = (np.zeros(self.policy.obs_dim), np.ones(self.policy.obs_dim))
        self._warned = False

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        return self.policy.initial_params(rng, self.init_scale)

    def _warn_once(self, exc: Exception) -> None:
        """Report the first environment failure of this process on stderr (the rest are counted)."""
        if not self._warned:
            self._warned = True
            print(f"[rank {self.rank}] warning: an episode raised {type(exc).__name__}: {exc}; the member "
                  f"counts as failed (NaN), further failures are only counted", file=sys.stderr, flush=True)

    def evaluate(self, params, seeds, normalizer: ObsNormalizer, action_noise: float = 0.0,
                 collect_obs: bool = False, noise_stream: int = 0) -> Evaluation:
        """Play one episode per seed with ``params``; average the returns."""
        obs_mean, obs_std = normalizer.mean_std()
        if obs_mean.size == 0:  # observation normalisation is off
            obs_mean, obs_std = self._identity
        buffer = self.obs_buffer if (collect_obs and self.obs_dim) else None
        out = Evaluation(0.0, 0.0, 0)
        returns = []
        for seed in seeds:
            rng = np.random.default_rng([int(seed), noise_stream]) if action_noise else None
            act = self.policy.actor(params, obs_mean, obs_std, action_noise, rng)
            try:
                episode = run_episode(self.env, act, int(seed), self.max_steps, buffer)
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


class FunctionTask:
    """Maximise ``-f(x)`` for a benchmark function ``f`` of the parameters themselves."""

    obs_dim = descriptor_dim = 0

    def __init__(self, config: RunConfig):
        name = config.env[len(FUNCTION_PREFIX):]
        if name not in FUNCTIONS:
            raise ConfigError(f"env: unknown function {config.env!r}; allowed: "
                              + ", ".join(FUNCTION_PREFIX + f for f in sorted(FUNCTIONS)))
        kwargs = dict(config.env_kwargs)
        unknown = set(kwargs) - {"dim", "x0"}
        if unknown:
            raise ConfigError(f"env_kwargs: {sorted(unknown)} not understood by {config.env}; allowed: dim, x0")
        dim, x0 = kwargs.get("dim", 10), kwargs.get("x0", 3.0)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"env_kwargs.dim: got {dim!r}; expected an integer >= 1")
        if isinstance(x0, bool) or not isinstance(x0, (int, float)):
            raise ConfigError(f"env_kwargs.x0: got {x0!r}; expected a number (the start of every coordinate)")
        self.function, self.num_params, self.x0 = FUNCTIONS[name], dim, float(x0)

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        return np.full(self.num_params, self.x0)

    def evaluate(self, params, seeds, normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0) -> Evaluation:
        value = self.function(np.asarray(params, dtype=np.float64))
        return Evaluation(-value if np.isfinite(value) else float("nan"), 1.0, 1)

    def close(self) -> None:
        pass


class TetrisTask:
    """Research Tetris with a linear policy over board features (:mod:`mpies.envs.tetris`).

    ``env = "tetris"``, ``env_kwargs = {height = 20, features = "bt", max_pieces = 0}``. The
    parameters are the feature weights; fitness is the number of lines cleared; an episode is a
    game, its "steps" the pieces placed. The whole game runs in compiled code.
    """

    obs_dim = descriptor_dim = 0
    OPTIONS = {"height": 20, "features": "bt", "max_pieces": 0}

    def __init__(self, config: RunConfig):
        from .envs import tetris
        kwargs = {**self.OPTIONS, **config.env_kwargs}
        unknown = set(kwargs) - set(self.OPTIONS)
        if unknown:
            raise ConfigError(f"env_kwargs: {sorted(unknown)} not understood by tetris; allowed: "
                              + ", ".join(self.OPTIONS))
        if kwargs["features"] not in tetris.FEATURE_SETS:
            raise ConfigError(f"env_kwargs.features: got {kwargs['features']!r}; allowed: "
                              + ", ".join(repr(k) for k in tetris.FEATURE_SETS))
        try:
            self.height = tetris.check_height(kwargs["height"])
        except ValueError as exc:
            raise ConfigError(f"env_kwargs.height: {exc}") from None
        max_pieces = kwargs["max_pieces"]
        if isinstance(max_pieces, bool) or not isinstance(max_pieces, int) or max_pieces < 0:
            raise ConfigError(f"env_kwargs.max_pieces: got {max_pieces!r}; expected an integer >= 0 (0 = no cap)")
        self.features, self.max_pieces = kwargs["features"], max_pieces
        self.num_params = tetris.FEATURE_SETS[self.features]
        self._play = tetris.play_games

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(self.num_params)

    def evaluate(self, params, seeds, normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0) -> Evaluation:
        lines, pieces = self._play(params, self.features, self.height, np.asarray(seeds), self.max_pieces)
        return Evaluation(float(lines.mean()), float(pieces.mean()), int(pieces.sum()))

    def close(self) -> None:
        pass


class ArmTask:
    """The planar robot arm, the standard fast quality-diversity benchmark.

    ``env = "arm"``, ``env_kwargs = {joints = 10}``. The parameters are the joint angles (radians)
    of an arm of ``joints`` equal links of total length 1 anchored at the origin; the behaviour
    descriptor is the end-effector position ``(x, y)`` in ``[-1, 1]^2``; fitness is minus the
    variance of the joint angles (smooth arms are better; 0 is the maximum).
    """

    obs_dim = 0
    descriptor_dim = 2
    DESCRIPTOR_BOUNDS = (-1.0, 1.0)

    def __init__(self, config: RunConfig):
        kwargs = {"joints": 10, **config.env_kwargs}
        unknown = set(kwargs) - {"joints"}
        if unknown:
            raise ConfigError(f"env_kwargs: {sorted(unknown)} not understood by arm; allowed: joints")
        joints = kwargs["joints"]
        if isinstance(joints, bool) or not isinstance(joints, int) or joints < 1:
            raise ConfigError(f"env_kwargs.joints: got {joints!r}; expected an integer >= 1")
        self.num_params = joints

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(self.num_params)

    def evaluate(self, params, seeds, normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0) -> Evaluation:
        angles = np.cumsum(params)
        link = 1.0 / self.num_params
        position = np.array([link * np.cos(angles).sum(), link * np.sin(angles).sum()])
        fitness = -float(np.var(params))
        return Evaluation(fitness if np.isfinite(fitness) else float("nan"), 1.0, 1, descriptor=position)

    def close(self) -> None:
        pass


TETRIS = "tetris"
ARM = "arm"
ANT = "ant"


def make_task(config: RunConfig, rank: int = 0):
    """The task named by ``config.env``: ``tetris``, ``arm``, ``ant`` (open-loop gaits for
    MAP-Elites), ``fn:NAME`` (a benchmark function), or a gymnasium id."""
    if config.env == TETRIS:
        return TetrisTask(config)
    if config.env == ARM:
        return ArmTask(config)
    if config.env == ANT:
        from .envs.ant import AntGaitTask
        return AntGaitTask(config)
    if config.env.startswith(FUNCTION_PREFIX):
        return FunctionTask(config)
    return GymTask(config, rank)
