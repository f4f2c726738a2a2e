"""PGPE: Sehnke, Osendorfer, Rückstieß, Graves, Peters & Schmidhuber (2010), "Parameter-exploring
policy gradients", Neural Networks 23(4), with symmetric sampling and, by default, the modern
settings of EvoTorch's and pgpelib's PGPE: centered-rank fitness shaping, a per-parameter std
limited to a 20 % change per step, and the ClipUp optimiser (Toklu et al. 2020, :mod:`mpies.optim`).

Search distribution ``N(theta, diag(sigma^2))`` with ``sigma`` a vector ``(dim,)``. Direction ``j``
has ``eps_j = sigma * z_j``, ``z_j = z(key_j) ~ N(0, I)``; members ``2j`` and ``2j+1`` are
``theta + eps_j`` and ``theta - eps_j`` (they share their episode seeds). With ``s`` the shaped
fitness, ``s_j^+, s_j^-`` the pair's, over the ``N`` valid pairs (symmetric sampling, section 4.1
of the paper)::

    g_theta = 1/N sum_j (s_j^+ - s_j^-) / 2 * eps_j
            = sigma * 1/N sum_j w_j z_j                          w_j = (s_j^+ - s_j^-) / 2
    g_sigma = 1/N sum_j r_j (eps_j^2 - sigma^2) / sigma
            = sigma * 1/N (sum_j r_j z_j^2 - sum_j r_j)          r_j = (s_j^+ + s_j^-) / 2 - baseline

with the baseline the mean of ``(s_j^+ + s_j^-) / 2`` over the valid pairs (pgpelib's "average";
centered ranks already have mean 0). Both sums are passes over the keys (``sum w z`` with
:meth:`weighted_sum`, ``sum r z^2`` with :meth:`weighted_square_sum` of the noise source): O(dim) memory, no
``(population, dim)`` array. Then::

    theta += optimizer(g_theta)                      ClipUp, Adam or SGD at learning_rate
    sigma  = clip(sigma + stdev_learning_rate * g_sigma, (1 -+ stdev_max_change) * sigma)

A pair with a failed member (NaN) gets no weight. Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, StrategyConfig, option
from ..optim import AdamState, ClipUpState, SGDState, make_optimizer
from ..registry import Algorithm
from ..shaping import SHAPINGS
from .base import State, Strategy
from .openai_es import Population


@dataclass
class PGPEConfig(StrategyConfig):
    """PGPE (Sehnke et al. 2010) with symmetric sampling, per-parameter sigma and ClipUp."""

    population: int = option(100, "members per generation: mirrored pairs, so even", min=2)
    sigma: float = option(0.1, "initial std of every parameter (used when strategy.radius = 0)", gt=0.0)
    radius: float = option(
        0.0, "initial ||sigma||: when > 0, every parameter's std starts at radius / sqrt(num_params) "
        "(pgpelib's setting: radius = 15 * max_speed)", min=0.0)
    shaping: str = option("centered_rank", "fitness shaping before the gradient estimates",
                          choices=("centered_rank", "normalized", "none"))
    optimizer: str = option("clipup", "step rule applied to the mean's gradient",
                            choices=("clipup", "adam", "sgd"))
    learning_rate: float = option(0.075, "the mean's step size (ClipUp: max_speed / 2 is typical)", gt=0.0)
    max_speed: float = option(0.15, "clipup: the longest step (norm of the velocity)", gt=0.0)
    momentum: float = option(0.9, "clipup and sgd momentum", min=0.0, max=1.0)
    beta1: float = option(0.9, "adam beta1", min=0.0, max=1.0)
    beta2: float = option(0.999, "adam beta2", min=0.0, max=1.0)
    stdev_learning_rate: float = option(0.1, "step size of sigma along its gradient (0 = fixed sigma)",
                                        min=0.0)
    stdev_max_change: float = option(0.2, "largest relative change of each sigma per generation",
                                     gt=0.0, max=1.0)

    def validate(self, run) -> None:
        if self.population % 2:
            raise ConfigError(f"strategy.population: got {self.population}; must be even "
                              "(PGPE samples symmetric pairs theta +- eps)")


@dataclass
class PGPEState(State):
    """What changes each generation.

    Attributes:
        theta: float64 ``(dim,)`` the mean of the search distribution.
        sigma: float64 ``(dim,)`` per-parameter std of the next generation.
        generation: int64 ``()`` updates so far (the key generation of the next ask).
        optimizer: the optimizer's state (:class:`mpies.optim.ClipUpState`, ``AdamState`` or
            ``SGDState``).
    """

    theta: np.ndarray
    sigma: np.ndarray
    generation: np.ndarray
    optimizer: ClipUpState | AdamState | SGDState

    @classmethod
    def initial(cls, config: PGPEConfig, theta0: np.ndarray) -> PGPEState:
        """``theta0``, every std at ``sigma`` (or ``radius / sqrt(dim)``), a fresh optimizer."""
        theta = np.array(theta0, dtype=np.float64)
        dim = theta.shape[0]
        std = config.radius / np.sqrt(dim) if config.radius > 0 else config.sigma
        return cls(theta, np.full(dim, std, dtype=np.float64), np.zeros((), dtype=np.int64),
                   make_optimizer(config).init(dim))


@dataclass(frozen=True)
class PGPEPopulation(Population):
    """A :class:`Population` whose perturbation std is a vector.

    Attributes:
        stdev: float64 ``(dim,)`` per-parameter std of this generation (``sigma`` is its mean,
            for the history).
    """

    stdev: np.ndarray


class PGPE(Strategy):
    """Ask/tell PGPE with symmetric sampling.

    Args:
        config: a :class:`PGPEConfig`.
        theta0: float64 ``(dim,)`` initial mean.
        noise: a noise source from :mod:`mpies.noise` with ``noise.dim == dim``.
    """

    def __init__(self, config: PGPEConfig, theta0: np.ndarray, noise):
        self.config, self.noise = config, noise
        self.state = PGPEState.initial(config, theta0)
        self.optimizer = make_optimizer(config)
        self._shape = SHAPINGS[config.shaping]

    @property
    def mean(self) -> np.ndarray:
        """Current mean parameters ``(dim,)``: what a noiseless evaluation runs."""
        return self.state.theta

    def _ask(self) -> PGPEPopulation:
        n = self.config.population
        stdev = self.state.sigma.copy()
        return PGPEPopulation(self.generation, self.noise.keys(self.generation, n // 2), n, True,
                              float(stdev.mean()), stdev)

    def member_params(self, population: PGPEPopulation, member: int) -> np.ndarray:
        """``theta + sign * sigma * z(key)``: float64 ``(dim,)``."""
        z = self.noise.vector(int(population.keys[population.key_index(member)]))
        return self.mean + population.sign(member) * (population.stdev * z)

    def gradients(self, population: PGPEPopulation, fitness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(g_theta, g_sigma)``, each float64 ``(dim,)`` (the formulas of the module docstring).

        Args:
            fitness: float64 ``(n,)`` in member order; NaN marks a failed member.
        """
        shaped = self._shape(fitness)
        failed = np.isnan(fitness[0::2]) | np.isnan(fitness[1::2])
        n_valid = int((~failed).sum())
        if n_valid == 0:
            return np.zeros_like(self.mean), np.zeros_like(self.mean)
        plus, minus = shaped[0::2], shaped[1::2]
        half_difference = np.where(failed, 0.0, (plus - minus) / 2)
        average = (plus + minus) / 2
        excess = np.where(failed, 0.0, average - average[~failed].mean())
        stdev = population.stdev
        g_theta = stdev * self.noise.weighted_sum(half_difference, population.keys) / n_valid
        g_sigma = stdev * (self.noise.weighted_square_sum(excess, population.keys)
                           - excess.sum()) / n_valid
        return g_theta, g_sigma

    def _tell(self, population: PGPEPopulation, fitness: np.ndarray, descriptors=None) -> dict[str, float]:
        s, c = self.state, self.config
        g_theta, g_sigma = self.gradients(population, fitness)
        step = self.optimizer.step(s.optimizer, g_theta, c.learning_rate)
        s.theta += step
        old = population.stdev
        s.sigma[...] = np.clip(old + c.stdev_learning_rate * g_sigma,
                               old * (1.0 - c.stdev_max_change), old * (1.0 + c.stdev_max_change))
        return {"update_norm": float(np.linalg.norm(step)), "sigma": population.sigma}


ALGORITHMS = (Algorithm("pgpe", PGPEConfig,
                        "PGPE: symmetric sampling, per-parameter sigma, ClipUp (or Adam/SGD)",
                        strategy=PGPE),)
