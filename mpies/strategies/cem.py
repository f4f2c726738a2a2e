"""Cross-entropy method with a diagonal Gaussian (the lecture's "Cross-entropy method" slide),
with the extra noise of Szita & Lőrincz (2006), "Learning Tetris Using the Noisy Cross-Entropy
Method", Neural Computation 18(12).

Member ``i`` is ``mu + std * eps(key_i)``. After evaluation the ``floor(rho n)`` best members (the
elites) set ``mu`` to their mean and ``std^2`` to their variance plus the extra noise ``Z_t``:
none, a constant ``eta``, or ``max(a - t / b, 0)`` decreasing with the generation ``t``.
Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

import numpy as np

from .base import Strategy, best_first
from .openai_es import Population


def extra_noise(config, generation: int) -> float:
    """``Z_t`` added to every variance after generation ``generation``."""
    if config.extra_noise == "constant":
        return config.noise_constant
    if config.extra_noise == "decreasing":
        return max(config.noise_a - generation / config.noise_b, 0.0)
    return 0.0


class CEM(Strategy):
    """Ask/tell CEM.

    Args:
        config: an :class:`mpies.config.CEMConfig`.
        theta: float64 ``(n,)`` the policy's initial parameters (used when ``init_mean = "policy"``).
        noise: a noise source from :mod:`mpies.noise`.
    """

    def __init__(self, config, theta: np.ndarray, noise):
        self.config, self.noise = config, noise
        mean = np.array(theta, dtype=np.float64) if config.init_mean == "policy" else np.zeros_like(theta, dtype=np.float64)
        self.state = {"mean": mean, "std": np.full(theta.shape, config.init_std, dtype=np.float64),
                      "generation": np.zeros((), dtype=np.int64)}
        self.n_elite = max(1, int(config.elite_fraction * config.population))

    @property
    def mean(self) -> np.ndarray:
        return self.state["mean"]

    @property
    def sigma(self) -> float:
        """Root-mean-square of the per-parameter std (the history's ``sigma`` column)."""
        return float(np.sqrt(np.mean(self.state["std"] ** 2)))

    def _ask(self) -> Population:
        n = self.config.population
        return Population(self.generation, self.noise.keys(self.generation, n), n, False, self.sigma)

    def member_params(self, population: Population, member: int) -> np.ndarray:
        return self.mean + self.state["std"] * self.noise.vector(int(population.keys[member]))

    def _tell(self, population: Population, fitness: np.ndarray) -> dict[str, float]:
        ranked = best_first(fitness)
        elites = np.stack([self.member_params(population, int(i)) for i in ranked[:self.n_elite]])
        old_mean = self.mean.copy()
        self.state["mean"] = elites.mean(axis=0)
        variance = elites.var(axis=0) + extra_noise(self.config, self.generation)
        self.state["std"] = np.sqrt(variance)
        return {"sigma": population.sigma, "update_norm": float(np.linalg.norm(self.mean - old_mean))}
