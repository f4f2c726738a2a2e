"""What every task shares: the :class:`Evaluation` it returns, its interface, and the parsing of
``env_kwargs`` into options (errors name the field: ``env_kwargs.NAME: got ...; expected ...``).

A task turns ``params (num_params,)`` and episode seeds into one :class:`Evaluation`, the
member's gathered row: fitness, mean episode length, environment steps, and where the task has
them the sums of the observations seen (``obs_dim > 0``) and a behaviour descriptor
(``descriptor_dim > 0``, quality-diversity tasks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import INT64_MAX, ConfigError, RunConfig, echo


@dataclass
class Evaluation:
    """One member's evaluation over its episodes.

    Attributes:
        fitness: mean return over the episodes (maximised); NaN for a failed evaluation.
        length: mean episode length, in steps.
        steps: environment steps taken, all episodes together.
        obs_sum, obs_sumsq: float64 ``(obs_dim,)`` sums of the raw observations and their squares,
            or None when none were collected.
        obs_count: observations summed.
        descriptor: float64 ``(descriptor_dim,)`` behaviour descriptor, or None.
    """

    fitness: float
    length: float
    steps: int
    obs_sum: np.ndarray | None = None
    obs_sumsq: np.ndarray | None = None
    obs_count: int = 0
    descriptor: np.ndarray | None = None


class Task:
    """The interface the generation loop uses; a task without episodes (a function of the
    parameters) overrides :meth:`evaluate` and :meth:`initial_params` only.

    Attributes:
        num_params: length of a parameter vector.
        obs_dim: observation statistics gathered per member (0: none).
        descriptor_dim: behaviour descriptor length (0: not a quality-diversity task).
        params_field: the config field that sets ``num_params`` (named when a run's memory
            estimate says to reduce it, :mod:`mpies.memory`).
        buffer_bytes: bytes of the scratch arrays the task allocates per rank, at the latest at
            its first evaluation (after the run's memory check), and ``buffer_field`` the config
            field that sets their size.
    """

    num_params: int
    obs_dim = 0
    descriptor_dim = 0
    params_field = "policy.hidden"
    buffer_bytes = 0
    buffer_field = "rollout.max_steps"

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        """The search's starting point, float64 ``(num_params,)``: zeros unless a task knows better."""
        return np.zeros(self.num_params)

    def evaluate(self, params, seeds, normalizer=None, action_noise: float = 0.0, collect_obs: bool = False,
                 noise_stream: int = 0, reward_shift: float = 0.0) -> Evaluation:  # pragma: no cover - abstract
        """Evaluate ``params`` on one episode per seed.

        Args:
            params: float ``(num_params,)``.
            seeds: episode seeds.
            normalizer: observation statistics (:class:`mpies.policies.ObsNormalizer` or anything
                with ``mean_std()``); policy tasks only.
            action_noise: std of the Gaussian noise on continuous actions.
            collect_obs: whether to sum the observations seen into the evaluation.
            noise_stream: the task id of this evaluation in its generation (seeds the action noise).
            reward_shift: subtracted from every step's reward (``rollout.reward_shift``, which the
                search program passes for member episodes only); policy tasks only.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release the environment (nothing to release by default)."""


def read_options(config: RunConfig, defaults: dict, task: str) -> dict:
    """``config.env_kwargs`` over ``defaults``; ConfigError for a key not in ``defaults``."""
    unknown = set(config.env_kwargs) - set(defaults)
    if unknown:
        raise ConfigError(f"env_kwargs: {sorted(unknown)} not understood by {task}; allowed: "
                          + ", ".join(defaults))
    return {**defaults, **config.env_kwargs}


def integer_option(options: dict, name: str, minimum: int, note: str = "") -> int:
    """``options[name]`` as an int from ``minimum`` to ``2**63 - 1`` (bools refused); ConfigError
    naming ``env_kwargs.name``."""
    value = options[name]
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= INT64_MAX:
        raise ConfigError(f"env_kwargs.{name}: got {echo(value)}; expected an integer >= {minimum}{note} "
                          f"(and < 2**63)")
    return value

