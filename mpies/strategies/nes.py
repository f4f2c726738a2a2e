"""Natural evolution strategies with rank-based utilities:

* xNES: T. Glasmachers, T. Schaul, S. Yi, D. Wierstra & J. Schmidhuber (2010), "Exponential
  Natural Evolution Strategies", GECCO, Algorithm 1 (full covariance through the exponential map).
* SNES: T. Schaul, T. Glasmachers & J. Schmidhuber (2011), "High Dimensions and Heavy Tails for
  Natural Evolution Strategies", GECCO, Algorithm 2 (separable: one step size per coordinate).

Member ``k`` of a generation is built from ``z_k = eps(key_k)`` (float32 noise, used as float64)::

    xNES   x_k = mu + sigma * B z_k          B (n, n), det(B) = 1
    SNES   x_k = mu + sigma * z_k            sigma (n,), elementwise

Utilities (both papers): member of rank ``k`` (1 = best) gets
``u_k = max(0, ln(lam / 2 + 1) - ln k) / sum_j max(0, ln(lam / 2 + 1) - ln j) - 1 / lam``, so the
utilities sum to 0 and only the better half has positive weight. Two choices the papers leave open,
made here for policy search:

* A failed member (NaN fitness) ranks last and never receives a positive share: its raw utility
  is 0, so its utility is the baseline ``-1 / lam`` of the worse half (the search moves away from
  it). With at most ``ceil(lam / 2)`` failures this is exactly ranking it last; when every member
  fails, every utility is 0 and the generation changes nothing.
* Tied members share the mean of their utilities (as :func:`mpies.shaping.centered_ranks`), so a
  population of equal returns (a solved task) leaves the distribution unchanged instead of
  drifting by member order. Continuous benchmark functions have no ties.

Updates, with ``G_delta = sum u_k z_k``::

    xNES   G_M = sum u_k (z_k z_k^T - I),  G_sigma = tr(G_M) / n,  G_B = G_M - G_sigma I
           mu += eta_mu sigma B G_delta;  sigma *= exp(eta_sigma / 2 G_sigma);  B = B expm(eta_B / 2 G_B)
    SNES   mu += eta_mu sigma * G_delta;  sigma *= exp(eta_sigma / 2 sum u_k (z_k^2 - 1))

with the papers' rates ``eta_mu = 1``, xNES ``eta_sigma = eta_B = 3/5 (3 + ln n) / (n sqrt n)``,
SNES ``eta_sigma = (3 + ln n) / (5 sqrt n)`` and population ``4 + floor(3 ln n)`` (as pypop7's
``XNES`` and ``SNES``). ``G_B`` is traceless, so ``det(expm(G_B)) = 1`` keeps ``det(B) = 1``.
Neither paper mirrors its samples; neither does this module.

Cost per generation: xNES O(lam n^2 + n^3) time and an ``(n, n)`` state, for up to a few thousand
parameters; SNES O(lam n) time and O(n) memory (a few ``(n,)`` buffers besides its state, one
noise vector at a time), for large policies. Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, StrategyConfig, option
from ..registry import Algorithm
from .base import State, Strategy, best_first
from .cma_es import default_population
from .openai_es import Population


# ------------------------------------------------------------------ configs
@dataclass
class NESConfig(StrategyConfig):
    """What xNES and SNES share: population, initial step size and the mean's learning rate."""

    population: int = option(0, "members per generation (0 = 4 + floor(3 ln n), both NES papers)", min=0)
    sigma: float = option(0.5, "initial step size (SNES: of every coordinate)", gt=0.0)
    eta_mu: float = option(0.0, "learning rate of the mean (0 = 1, the NES papers' default)", min=0.0)

    def validate(self, run) -> None:
        if self.population == 1:
            raise ConfigError("strategy.population: got 1; must be 0 (the default) or >= 2")


@dataclass
class XNESConfig(NESConfig):
    """xNES (Glasmachers et al. 2010): full covariance through the exponential map."""

    eta_sigma: float = option(0.0, "learning rate of the step size (0 = 3/5 (3 + ln n) / (n sqrt n), "
                              "Glasmachers et al. 2010)", min=0.0)
    eta_B: float = option(0.0, "learning rate of the shape matrix B (0 = 3/5 (3 + ln n) / (n sqrt n), "
                          "Glasmachers et al. 2010)", min=0.0)


@dataclass
class SNESConfig(NESConfig):
    """SNES (Schaul et al. 2011): one step size per coordinate, O(n) per sample and update."""

    eta_sigma: float = option(0.0, "learning rate of the per-coordinate step sizes (0 = (3 + ln n) / "
                              "(5 sqrt n), Schaul et al. 2011)", min=0.0)


def xnes_rate(n: int) -> float:
    """xNES's default ``eta_sigma = eta_B = 3/5 (3 + ln n) / (n sqrt n)`` (Glasmachers et al. 2010)."""
    return 0.6 * (3 + np.log(n)) / (n * np.sqrt(n))


def snes_rate(n: int) -> float:
    """SNES's default ``eta_sigma = (3 + ln n) / (5 sqrt n)`` (Schaul et al. 2011)."""
    return (3 + np.log(n)) / (5 * np.sqrt(n))


# ------------------------------------------------------------------ shared pieces
def nes_utilities(fitness: np.ndarray) -> np.ndarray:
    """The NES papers' rank-based utilities in member order (module docstring).

    Args:
        fitness: float64 ``(lam,)`` in member order, maximised; NaN marks a failed member.

    Returns:
        float64 ``(lam,)`` summing to 0 (up to rounding): ``max(0, ln(lam/2 + 1) - ln k) / total
        - 1 / lam`` for the member of rank ``k``; failed members get the raw share 0; tied members
        the mean of their utilities; all zeros when every member failed or all are tied.
    """
    lam = fitness.shape[0]
    ranked = best_first(fitness)
    ranked_fitness = fitness[ranked]
    tie_group = np.concatenate([[0], np.cumsum(ranked_fitness[1:] != ranked_fitness[:-1])])  # NaN: own group
    raw = np.maximum(0.0, np.log(lam / 2 + 1) - np.log(np.arange(1, lam + 1)))
    raw[np.isnan(ranked_fitness)] = 0.0
    total = raw.sum()
    if total == 0.0 or tie_group[-1] == 0:  # every member failed, or all are tied: exactly no update
        return np.zeros(lam)
    by_rank = raw / total - 1 / lam
    by_rank = (np.bincount(tie_group, by_rank) / np.bincount(tie_group))[tie_group]
    utilities = np.empty(lam)
    utilities[ranked] = by_rank
    return utilities


def expm_symmetric(matrix: np.ndarray) -> np.ndarray:
    """``expm(matrix)`` of a symmetric float64 ``(n, n)`` matrix, by eigendecomposition (only its
    lower triangle is read): ``V diag(exp(w)) V^T``."""
    eigenvalues, vectors = np.linalg.eigh(matrix)
    return (vectors * np.exp(eigenvalues)) @ vectors.T


class _NES(Strategy):
    """Bookkeeping shared by :class:`XNES` and :class:`SNES`: population size, rates, mean, ask.

    ``config`` is an :class:`XNESConfig` or :class:`SNESConfig` (both declare ``eta_sigma``);
    ``default_rate(n)`` is the paper's ``eta_sigma``.
    """

    def __init__(self, config: NESConfig, theta0: np.ndarray, noise, default_rate):
        self.config, self.noise = config, noise
        self.n = theta0.shape[0]
        self.lam = config.population or default_population(self.n)
        self.eta_mu = config.eta_mu or 1.0
        self.eta_sigma = config.eta_sigma or default_rate(self.n)

    @property
    def population_size(self) -> int:
        return self.lam

    @property
    def mean(self) -> np.ndarray:
        return self.state.mean

    def _ask(self) -> Population:
        return Population(self.generation, self.noise.keys(self.generation, self.lam), self.lam, False, self.sigma)

    def _z(self, population: Population, member: int) -> np.ndarray:
        """``z`` of ``member``: float64 ``(n,)``, rebuilt from its key."""
        return self.noise.vector(int(population.keys[member])).astype(np.float64)


# ------------------------------------------------------------------ xNES
@dataclass
class XNESState(State):
    """What changes each generation (``n`` parameters).

    Attributes:
        mean: float64 ``(n,)`` the distribution mean ``mu``.
        sigma: float64 ``()`` the step size.
        B: float64 ``(n, n)`` the shape matrix, ``det(B) = 1``; the covariance is ``sigma^2 B B^T``.
        generation: int64 ``()`` tells so far.
    """

    mean: np.ndarray
    sigma: np.ndarray
    B: np.ndarray
    generation: np.ndarray


class XNES(_NES):
    """Ask/tell xNES.

    Args:
        config: an :class:`XNESConfig`.
        theta0: float64 ``(n,)`` initial mean.
        noise: a noise source from :mod:`mpies.noise` with ``noise.dim == n``.
    """

    def __init__(self, config: XNESConfig, theta0: np.ndarray, noise):
        super().__init__(config, theta0, noise, xnes_rate)
        self.eta_B = config.eta_B or xnes_rate(self.n)
        self.state = XNESState(np.array(theta0, dtype=np.float64), np.asarray(config.sigma, dtype=np.float64),
                               np.eye(self.n), np.zeros((), dtype=np.int64))

    @property
    def sigma(self) -> float:
        return float(self.state.sigma)

    def member_params(self, population: Population, member: int) -> np.ndarray:
        return self.mean + population.sigma * (self.state.B @ self._z(population, member))

    def _tell(self, population: Population, fitness: np.ndarray, descriptors=None) -> dict[str, float]:
        s, n = self.state, self.n
        u = nes_utilities(fitness)
        z = np.stack([self._z(population, k) for k in range(population.size)])  # (lam, n)
        g_delta = u @ z
        g_m = (z.T * u) @ z
        g_m = (g_m + g_m.T) / 2 - u.sum() * np.eye(n)
        g_sigma = np.trace(g_m) / n
        g_b = g_m - g_sigma * np.eye(n)
        step = (self.eta_mu * population.sigma) * (s.B @ g_delta)
        s.mean += step
        s.sigma[...] = population.sigma * np.exp(self.eta_sigma / 2 * g_sigma)
        s.B[...] = s.B @ expm_symmetric(self.eta_B / 2 * g_b)
        return {"sigma": population.sigma, "update_norm": float(np.linalg.norm(step))}


# ------------------------------------------------------------------ SNES
@dataclass
class SNESState(State):
    """What changes each generation (``n`` parameters).

    Attributes:
        mean: float64 ``(n,)`` the distribution mean ``mu``.
        sigma: float64 ``(n,)`` the step size of every coordinate.
        generation: int64 ``()`` tells so far.
    """

    mean: np.ndarray
    sigma: np.ndarray
    generation: np.ndarray


class SNES(_NES):
    """Ask/tell SNES: O(n) memory, O(lam n) time per generation.

    Args:
        config: an :class:`SNESConfig`.
        theta0: float64 ``(n,)`` initial mean.
        noise: a noise source from :mod:`mpies.noise` with ``noise.dim == n``.
    """

    def __init__(self, config: SNESConfig, theta0: np.ndarray, noise):
        super().__init__(config, theta0, noise, snes_rate)
        self.state = SNESState(np.array(theta0, dtype=np.float64), np.full(self.n, config.sigma),
                               np.zeros((), dtype=np.int64))

    @property
    def sigma(self) -> float:
        """Root-mean-square of the per-coordinate step sizes (the history's ``sigma`` column)."""
        return float(np.sqrt(np.mean(self.state.sigma ** 2)))

    def member_params(self, population: Population, member: int) -> np.ndarray:
        params = self.state.sigma * self.noise.vector(int(population.keys[member]))  # float64
        params += self.mean
        return params

    def _tell(self, population: Population, fitness: np.ndarray, descriptors=None) -> dict[str, float]:
        s = self.state
        u = nes_utilities(fitness)
        step = self.noise.weighted_sum(u, population.keys)  # G_delta
        step *= self.eta_mu * s.sigma
        g_sigma = self.noise.weighted_square_sum(u, population.keys)
        g_sigma -= u.sum()
        s.mean += step
        g_sigma *= self.eta_sigma / 2
        s.sigma *= np.exp(g_sigma, out=g_sigma)
        return {"sigma": population.sigma, "update_norm": float(np.linalg.norm(step))}


ALGORITHMS = (
    Algorithm("xnes", XNESConfig, "xNES: natural-gradient full-covariance Gaussian, exponential map "
              "(n up to a few thousand)", strategy=XNES),
    Algorithm("snes", SNESConfig, "SNES: separable NES, per-coordinate step sizes, O(n) per sample",
              strategy=SNES),
)
