"""LM-MA-ES: I. Loshchilov, T. Glasmachers & H.-G. Beyer (2019), "Large Scale Black-box Optimization
by Limited-Memory Matrix Adaptation", IEEE Transactions on Evolutionary Computation 23(2), 353-358,
Algorithm 1.

For 10^4 to 10^6 parameters: instead of a covariance matrix, ``m`` direction vectors ``M_j`` (rows
of ``M``, float64 ``(m, n)``) shape the search distribution, so a sample costs O(m n) time and the
state O(m n) memory. Member ``i`` of generation ``t`` (``t`` tells so far) is

    d_i = z_i;  for j < min(t, m):  d_i <- (1 - c_d_j) d_i + c_d_j M_j (M_j . d_i)
    x_i = mean + sigma d_i

with ``z_i = eps(key_i)`` rebuilt from its key on every rank. The transformation ``z -> d`` is
linear and the same for every member of a generation, so the weighted sum of the ``mu`` best
directions is the transformation of the weighted sum of their ``z``: ``tell`` needs ``mu`` noise
vectors and one transformation, and never holds a ``(lambda, n)`` array. Fitness is maximised.

Parameters (the paper's, as pypop7's ``LMMAES``): ``lambda = m = 4 + floor(3 ln n)``,
``mu = floor(lambda / 2)``, log-rank weights, ``c_sigma = 2 lambda / n``, ``c_d_j = 1 / (1.5^(j-1) n)``,
``c_c_j = lambda / (4^(j-1) n)`` (``j = 1..m``). The paper is written for ``n >> lambda``; where
a rate exceeds 1 (``c_sigma`` when ``n < 2 lambda``, e.g. 10-D), it is capped at 1: the path then
keeps only the current step instead of flipping the sign of its memory (pypop7 substitutes 0.5
for ``1 - c`` there, which at ``c_sigma = 2`` freezes the path at 0 and shrinks sigma by ``e`` per
generation). Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, StrategyConfig, option
from ..registry import Algorithm
from .base import State, Strategy, best_first
from .cma_es import CMAParameters, default_population
from .openai_es import Population


@dataclass
class LMMAESConfig(StrategyConfig):
    """LM-MA-ES (Loshchilov, Glasmachers & Beyer 2019): O(m n) per sample, for large n."""

    population: int = option(0, "members per generation (0 = 4 + floor(3 ln n))", min=0)
    sigma: float = option(1.0, "initial step size", gt=0.0)
    memory: int = option(0, "direction vectors m (0 = 4 + floor(3 ln n))", min=0)

    def validate(self, run) -> None:
        if self.population == 1:
            raise ConfigError("strategy.population: got 1; must be 0 (the default) or >= 2")


@dataclass(frozen=True)
class LMMAParameters:
    """Strategy parameters for dimension ``n``, population ``lam`` and ``m`` direction vectors.

    Attributes:
        lam, mu: population and parents (``mu = lam // 2``).
        weights: float64 ``(mu,)`` positive log-rank weights summing to 1, best first.
        mueff: variance-effective selection mass ``1 / sum(weights^2)``.
        c_sigma: learning rate of the step-size path ``p_sigma``.
        c_d: float64 ``(m,)`` rates at which ``M_j`` shapes a sample.
        c_c: float64 ``(m,)`` learning rates of the direction vectors ``M_j``.
    """

    lam: int
    mu: int
    weights: np.ndarray
    mueff: float
    c_sigma: float
    c_d: np.ndarray
    c_c: np.ndarray

    @classmethod
    def default(cls, n: int, lam: int, m: int) -> "LMMAParameters":
        cma = CMAParameters.default(n, lam, separable=False, active=False)  # the same log-rank weights
        powers = np.arange(m)  # j - 1 for j = 1..m
        return cls(lam, cma.mu, cma.weights[:cma.mu], cma.mueff, min(2 * lam / n, 1.0),
                   1 / (1.5 ** powers * n), np.minimum(lam / (4.0 ** powers * n), 1.0))


@dataclass
class LMMAESState(State):
    """What changes each generation (``n`` parameters, ``m`` direction vectors).

    Attributes:
        mean: float64 ``(n,)`` the distribution mean.
        sigma: float64 ``()`` the step size.
        p_sigma: float64 ``(n,)`` the step-size evolution path.
        M: float64 ``(m, n)`` the direction vectors, zero at first (row ``j`` shapes samples from
            generation ``j + 1`` on).
        generation: int64 ``()`` tells so far (``t``).
    """

    mean: np.ndarray
    sigma: np.ndarray
    p_sigma: np.ndarray
    M: np.ndarray
    generation: np.ndarray


class LMMAES(Strategy):
    """Ask/tell LM-MA-ES.

    Args:
        config: an :class:`LMMAESConfig`.
        theta0: float64 ``(n,)`` initial mean.
        noise: a noise source from :mod:`mpies.noise` with ``noise.dim == n``.
    """

    def __init__(self, config: LMMAESConfig, theta0: np.ndarray, noise):
        self.config, self.noise = config, noise
        n = theta0.shape[0]
        m = config.memory or default_population(n)
        self.params = LMMAParameters.default(n, config.population or default_population(n), m)
        self.state = LMMAESState(np.array(theta0, dtype=np.float64), np.asarray(config.sigma, dtype=np.float64),
                                 np.zeros(n), np.zeros((m, n)), np.zeros((), dtype=np.int64))

    @property
    def mean(self) -> np.ndarray:
        return self.state.mean

    @property
    def sigma(self) -> float:
        return float(self.state.sigma)

    @property
    def population_size(self) -> int:
        return self.params.lam

    # -------------------------------------------------------------- sampling
    def _ask(self) -> Population:
        lam = self.population_size
        return Population(self.generation, self.noise.keys(self.generation, lam), lam, False, self.sigma)

    def direction(self, z: np.ndarray) -> np.ndarray:
        """``d`` of a standard normal ``z`` under the current ``M``: float64 ``(n,)``, a new array."""
        s, c_d = self.state, self.params.c_d
        d = np.array(z, dtype=np.float64)
        for j in range(min(self.generation, len(c_d))):
            projection = s.M[j] @ d
            d *= 1 - c_d[j]
            d += (c_d[j] * projection) * s.M[j]
        return d

    def member_params(self, population: Population, member: int) -> np.ndarray:
        d = self.direction(self.noise.vector(int(population.keys[member])))
        d *= population.sigma
        d += self.mean
        return d

    # -------------------------------------------------------------- update
    def _tell(self, population: Population, fitness: np.ndarray, descriptors=None) -> dict[str, float]:
        s, p, n = self.state, self.params, self.mean.shape[0]
        best = best_first(fitness)[:p.mu]
        z_w = self.noise.weighted_sum(p.weights, population.keys[best])  # sum of w_i z_i over the mu best
        d_w = self.direction(z_w)  # = sum of w_i d_i, the transformation being linear (before M changes)
        step = population.sigma * d_w
        s.mean += step
        s.p_sigma[...] = (1 - p.c_sigma) * s.p_sigma + np.sqrt(p.mueff * p.c_sigma * (2 - p.c_sigma)) * z_w
        for row, c_c in zip(s.M, p.c_c):  # row by row: no (m, n) temporary
            row *= 1 - c_c
            row += np.sqrt(p.mueff * c_c * (2 - c_c)) * z_w
        s.sigma[...] = s.sigma * np.exp(p.c_sigma / 2 * (s.p_sigma @ s.p_sigma / n - 1))
        return {"sigma": population.sigma, "update_norm": float(np.linalg.norm(step))}


ALGORITHMS = (Algorithm("lm_ma_es", LMMAESConfig,
                        "LM-MA-ES: limited-memory matrix adaptation, O(m n) per sample for large n",
                        strategy=LMMAES),)
