"""A genetic algorithm with truncation selection and Gaussian mutation (the lecture's
"Evolutionary methods for policy search" slide), in the form of Such et al. (2017), "Deep
Neuroevolution: Genetic Algorithms Are a Competitive Alternative for Training Deep Neural
Networks for Reinforcement Learning", arXiv:1712.06567.

An offspring is ``parents[p] + sigma * eps(key)``: every rank draws the same parent index ``p``
and key from the run seed, so every rank can rebuild any individual and only fitness is gathered
(a genome is, in effect, the list of keys that made it). The ``truncation`` best offspring become
the next parents. With elitism, member 0 is the best parent, unmutated; it is re-evaluated each
generation (``reevaluate_elite = true``) or keeps the fitness it had.
Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import seeding
from ..config import ConfigError, StrategyConfig, option
from ..registry import Algorithm
from .base import State, Strategy, best_first


@dataclass
class GAConfig(StrategyConfig):
    """Genetic algorithm with truncation selection and Gaussian mutation (Such et al. 2017)."""

    population: int = option(64, "offspring per generation", min=2)
    truncation: int = option(10, "number of best offspring kept as parents", min=1)
    sigma: float = option(0.02, "std of the Gaussian mutation", gt=0.0)
    elitism: bool = option(True, "carry the best parent unmutated as member 0")
    reevaluate_elite: bool = option(True, "evaluate the elite again each generation (else keep its fitness)")

    def validate(self, run) -> None:
        if self.truncation > self.population:
            raise ConfigError(f"strategy.truncation: got {self.truncation}; "
                              f"must be <= strategy.population ({self.population})")


@dataclass
class GAState(State):
    """The truncation-selected parents.

    Attributes:
        parents: float64 ``(truncation, n)`` the parents, best first.
        parent_fitness: float64 ``(truncation,)`` their fitness (``-inf`` before the first generation).
        generation: int64 ``()`` updates so far (the key generation of the next ask).
    """

    parents: np.ndarray
    parent_fitness: np.ndarray
    generation: np.ndarray


@dataclass(frozen=True)
class GAPopulation:
    """One generation: offspring ``i`` = ``parents[parent_index[i]] + sigma * eps(keys[i])``."""

    generation: int
    keys: np.ndarray          # int64 (n,)
    parent_index: np.ndarray  # int64 (n,)
    size: int
    sigma: float
    elite: bool               # member 0 is the unmutated best parent

    def episode_group(self, member: int) -> int:
        return member


class GA(Strategy):
    """Ask/tell GA with ``config.truncation`` parents held (as vectors) on every rank.

    Args:
        config: a :class:`GAConfig`.
        theta0: float64 ``(n,)`` the initial parameters (every parent at first).
        noise: a noise source from :mod:`mpies.noise` with ``noise.dim == n``.
    """

    def __init__(self, config: GAConfig, theta0: np.ndarray, noise):
        self.config, self.noise = config, noise
        t = config.truncation
        self.state = GAState(np.tile(np.asarray(theta0, dtype=np.float64), (t, 1)), np.full(t, -np.inf),
                             np.zeros((), dtype=np.int64))

    @property
    def mean(self) -> np.ndarray:
        """The best parent: what a noiseless evaluation plays."""
        return self.state.parents[0]

    @property
    def sigma(self) -> float:
        return self.config.sigma

    def _ask(self) -> GAPopulation:
        n, g = self.config.population, self.generation
        # the first generation mutates the initial parameters; afterwards parents are chosen uniformly
        parent_index = seeding.generator(self.noise.seed, seeding.PARENT_SELECTION, g).integers(
            0, self.config.truncation, n)
        elite = self.config.elitism and g > 0
        if elite:
            parent_index[0] = 0
        return GAPopulation(g, self.noise.keys(g, n), parent_index, n, self.sigma, elite)

    def member_params(self, population: GAPopulation, member: int) -> np.ndarray:
        parent = self.state.parents[population.parent_index[member]]
        if population.elite and member == 0:
            return parent.copy()
        return parent + np.float64(population.sigma) * self.noise.vector(int(population.keys[member]))

    def _tell(self, population: GAPopulation, fitness: np.ndarray, descriptors=None) -> dict[str, float]:
        s = self.state
        if population.elite and not self.config.reevaluate_elite:
            fitness[0] = s.parent_fitness[0]
        ranked = best_first(fitness)
        chosen = ranked[:self.config.truncation]
        old_best = self.mean.copy()
        s.parents[...] = np.stack([self.member_params(population, int(i)) for i in chosen])
        s.parent_fitness[...] = fitness[chosen]
        return {"sigma": population.sigma, "update_norm": float(np.linalg.norm(self.mean - old_best))}


ALGORITHMS = (Algorithm("ga", GAConfig, "genetic algorithm: truncation selection, Gaussian mutation, elitism",
                        strategy=GA),)
