"""OpenAI-ES: Salimans, Ho, Chen, Sidor & Sutskever (2017), "Evolution Strategies as a Scalable
Alternative to Reinforcement Learning", arXiv:1703.03864.

Search distribution ``N(theta, sigma^2 I)``. Member ``i`` is ``theta + sign_i * sigma * eps(key_i)``;
with mirrored sampling members ``2j`` and ``2j+1`` share ``key_j`` with signs ``+1, -1``.
The gradient estimate of ``E[F(theta + sigma eps)]`` (Algorithm 1 of the paper) is

    g = 1 / (n sigma) * sum_i s_i * sign_i * eps(key_i)

with ``s = shaping(F)`` over the ``n`` valid members; weight decay subtracts ``weight_decay * theta``
and Adam or SGD turns ``g`` into a step; sigma then decays by ``sigma_decay`` down to ``sigma_min``.
The learning rate is part of the state: POET decays it per pair. Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, StrategyConfig, option
from ..optim import AdamState, SGDState, make_optimizer
from ..registry import Algorithm
from ..shaping import SHAPINGS
from .base import State, Strategy


@dataclass
class OpenAIESConfig(StrategyConfig):
    """OpenAI-ES (Salimans et al. 2017): gradient estimate from mirrored Gaussian perturbations."""

    population: int = option(64, "members per generation (even when mirrored)", min=2)
    sigma: float = option(0.05, "std of parameter perturbations", gt=0.0)
    sigma_decay: float = option(1.0, "sigma multiplied by this after every generation", gt=0.0, max=1.0)
    sigma_min: float = option(0.0, "lower bound of sigma under decay", min=0.0)
    mirrored: bool = option(True, "antithetic pairs +eps / -eps")
    shaping: str = option(
        "centered_rank", "fitness shaping", choices=("centered_rank", "normalized", "none")
    )
    optimizer: str = option("adam", "step rule applied to the gradient estimate", choices=("adam", "sgd"))
    learning_rate: float = option(0.01, "optimizer step size", gt=0.0)
    momentum: float = option(0.9, "sgd momentum", min=0.0, max=1.0)
    beta1: float = option(0.9, "adam beta1", min=0.0, max=1.0)
    beta2: float = option(0.999, "adam beta2", min=0.0, max=1.0)
    weight_decay: float = option(0.005, "L2 coefficient subtracted from the gradient", min=0.0)

    def validate(self, run) -> None:
        if self.mirrored and self.population % 2:
            raise ConfigError(
                f"strategy.population: got {self.population}; must be even when strategy.mirrored = true"
            )


@dataclass
class OpenAIESState(State):
    """What changes each generation.

    Attributes:
        theta: float64 ``(dim,)`` the mean of the search distribution.
        sigma: float64 ``()`` perturbation std of the next generation.
        learning_rate: float64 ``()`` the optimizer's step size for the next update (the
            config's; POET's pair table decays it after each of the pair's steps).
        generation: int64 ``()`` updates so far (the key generation of the next ask).
        optimizer: the optimizer's state (:class:`mpies.optim.AdamState` or ``SGDState``).
    """

    theta: np.ndarray
    sigma: np.ndarray
    learning_rate: np.ndarray
    generation: np.ndarray
    optimizer: AdamState | SGDState

    @classmethod
    def initial(cls, config: OpenAIESConfig, theta0: np.ndarray) -> OpenAIESState:
        """The state before the first generation: ``theta0``, the config's sigma and learning rate."""
        theta = np.array(theta0, dtype=np.float64)
        return cls(theta, np.asarray(config.sigma, dtype=np.float64),
                   np.asarray(config.learning_rate, dtype=np.float64), np.zeros((), dtype=np.int64),
                   make_optimizer(config).init(theta.shape[0]))


@dataclass(frozen=True)
class Population:
    """What every rank derives identically for one generation.

    Attributes:
        generation: generation number.
        keys: int64 ``(n_keys,)`` perturbation keys; ``n_keys = n // 2`` when mirrored.
        size: number of members ``n``.
        mirrored: whether members come in +/- pairs.
        sigma: perturbation std for this generation.
    """

    generation: int
    keys: np.ndarray
    size: int
    mirrored: bool
    sigma: float

    def key_index(self, member: int) -> int:
        return member // 2 if self.mirrored else member

    def sign(self, member: int) -> float:
        return -1.0 if (self.mirrored and member % 2) else 1.0

    def episode_group(self, member: int) -> int:
        """Members of one mirrored pair play the same episode seeds (common random numbers)."""
        return self.key_index(member)


class OpenAIES(Strategy):
    """Ask/tell OpenAI-ES.

    Args:
        config: an :class:`OpenAIESConfig` (or a subclass, e.g. POET's).
        theta0: float64 ``(dim,)`` initial mean.
        noise: a noise source from :mod:`mpies.noise` with ``noise.dim == dim``.
        state: work on this state (updated in place, e.g. a row of POET's pair table) instead of
            :meth:`OpenAIESState.initial` of ``theta0``.
    """

    def __init__(self, config: OpenAIESConfig, theta0: np.ndarray, noise, state: OpenAIESState | None = None):
        self.config, self.noise = config, noise
        self.state = OpenAIESState.initial(config, theta0) if state is None else state
        self.optimizer = make_optimizer(config)
        self._shape = SHAPINGS[config.shaping]

    @property
    def mean(self) -> np.ndarray:
        """Current mean parameters ``(dim,)``: what a noiseless evaluation runs."""
        return self.state.theta

    @property
    def sigma(self) -> float:
        return float(self.state.sigma)

    def _ask(self) -> Population:
        n = self.config.population
        n_keys = n // 2 if self.config.mirrored else n
        return Population(self.generation, self.noise.keys(self.generation, n_keys), n,
                          self.config.mirrored, self.sigma)

    def member_params(self, population: Population, member: int) -> np.ndarray:
        """Parameters of ``member``: float64 ``(dim,)``, rebuilt from its key."""
        eps = self.noise.vector(int(population.keys[population.key_index(member)]))
        return self.mean + np.float64(population.sign(member) * population.sigma) * eps  # float64 result

    def gradient(self, population: Population, fitness: np.ndarray) -> np.ndarray:
        """Estimated gradient of expected fitness w.r.t. theta, float64 ``(dim,)``.

        Args:
            fitness: float ``(n,)`` in member order; NaN marks a failed member.
        """
        fitness = np.asarray(fitness, dtype=np.float64)
        if fitness.shape != (population.size,):
            raise ValueError(f"fitness has shape {fitness.shape}, expected ({population.size},)")
        shaped = self._shape(fitness)
        failed = np.isnan(fitness)
        if population.mirrored:
            pair_failed = failed[0::2] | failed[1::2]
            weights = np.where(pair_failed, 0.0, shaped[0::2] - shaped[1::2])
            n_valid = 2 * int((~pair_failed).sum())
        else:
            weights = np.where(failed, 0.0, shaped)
            n_valid = int((~failed).sum())
        if n_valid == 0:
            return np.zeros_like(self.mean)
        return self.noise.weighted_sum(weights, population.keys) / (n_valid * population.sigma)

    def _tell(self, population: Population, fitness: np.ndarray, descriptors=None) -> dict[str, float]:
        s, c = self.state, self.config
        grad = self.gradient(population, fitness)
        if c.weight_decay:
            grad -= c.weight_decay * self.mean
        step = self.optimizer.step(s.optimizer, grad, float(s.learning_rate))
        s.theta += step
        s.sigma[...] = max(self.sigma * c.sigma_decay, c.sigma_min)
        return {"update_norm": float(np.linalg.norm(step)), "sigma": population.sigma}


ALGORITHMS = (Algorithm("openai_es", OpenAIESConfig,
                        "OpenAI-ES: mirrored Gaussian gradient estimate, Adam or SGD", strategy=OpenAIES),)
