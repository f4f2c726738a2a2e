"""Cross-entropy method with a diagonal Gaussian (the lecture's "Cross-entropy method" slide),
with the extra noise of Szita & Lőrincz (2006), "Learning Tetris Using the Noisy Cross-Entropy
Method", Neural Computation 18(12).

Member ``i`` is ``mu + std * eps(key_i)``. After evaluation the ``floor(rho n)`` best members (the
elites) set ``mu`` to their mean and ``std^2`` to their variance plus the extra noise ``Z_t``:
none, a constant ``eta``, or ``max(a - t / b, 0)`` decreasing with the generation ``t``.
Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import StrategyConfig, option
from ..registry import Algorithm
from .base import State, Strategy, best_first
from .openai_es import Population


@dataclass
class CEMConfig(StrategyConfig):
    """Cross-entropy method, diagonal Gaussian, with Szita & Lőrincz (2006) extra noise."""

    population: int = option(100, "members per generation", min=1)
    elite_fraction: float = option(0.1, "fraction rho of members kept as elites", gt=0.0, max=1.0)
    init_std: float = option(10.0, "initial std of every parameter (variance 100 as in the lecture)", gt=0.0)
    init_mean: str = option("zero", "initial mean: zero, or the policy's initial weights",
                            choices=("zero", "policy"))
    extra_noise: str = option("constant", "noise added to the variance each generation",
                              choices=("none", "constant", "decreasing"))
    noise_constant: float = option(4.0, "eta of constant extra noise", min=0.0)
    noise_a: float = option(5.0, "a of decreasing extra noise max(a - t/b, 0)", min=0.0)
    noise_b: float = option(10.0, "b of decreasing extra noise max(a - t/b, 0)", gt=0.0)


@dataclass
class CEMState(State):
    """The sampling distribution.

    Attributes:
        mean, std: float64 ``(n,)`` mean and per-parameter std of the diagonal Gaussian.
        generation: int64 ``()`` updates so far (the key generation of the next ask).
    """

    mean: np.ndarray
    std: np.ndarray
    generation: np.ndarray


def extra_noise(config: CEMConfig, generation: int) -> float:
    """``Z_t`` added to every variance after generation ``generation``."""
    if config.extra_noise == "constant":
        return config.noise_constant
    if config.extra_noise == "decreasing":
        return max(config.noise_a - generation / config.noise_b, 0.0)
    return 0.0


class CEM(Strategy):
    """Ask/tell CEM.

    Args:
        config: a :class:`CEMConfig`.
        theta0: float64 ``(n,)`` the policy's initial parameters (used when ``init_mean = "policy"``).
        noise: a noise source from :mod:`mpies.noise`.
    """

    def __init__(self, config: CEMConfig, theta0: np.ndarray, noise):
        self.config, self.noise = config, noise
        mean = (np.array(theta0, dtype=np.float64) if config.init_mean == "policy"
                else np.zeros_like(theta0, dtype=np.float64))
        self.state = CEMState(mean, np.full(theta0.shape, config.init_std, dtype=np.float64),
                              np.zeros((), dtype=np.int64))
        self.n_elite = max(1, int(config.elite_fraction * config.population))

    @property
    def mean(self) -> np.ndarray:
        return self.state.mean

    @property
    def sigma(self) -> float:
        """Root-mean-square of the per-parameter std (the history's ``sigma`` column)."""
        return float(np.sqrt(np.mean(self.state.std ** 2)))

    def _ask(self) -> Population:
        n = self.config.population
        return Population(self.generation, self.noise.keys(self.generation, n), n, False, self.sigma)

    def member_params(self, population: Population, member: int) -> np.ndarray:
        return self.mean + self.state.std * self.noise.vector(int(population.keys[member]))

    def _tell(self, population: Population, fitness: np.ndarray, descriptors=None) -> dict[str, float]:
        s = self.state
        ranked = best_first(fitness)
        elites = np.stack([self.member_params(population, int(i)) for i in ranked[:self.n_elite]])
        old_mean = s.mean.copy()
        s.mean[...] = elites.mean(axis=0)
        s.std[...] = np.sqrt(elites.var(axis=0) + extra_noise(self.config, self.generation))
        return {"sigma": population.sigma, "update_norm": float(np.linalg.norm(s.mean - old_mean))}


ALGORITHMS = (Algorithm("cem", CEMConfig, "cross-entropy method, diagonal Gaussian, optional extra noise",
                        strategy=CEM),)
