"""Bookkeeping shared by every strategy: state dict, ask/tell order, fitness checks, ranking."""

from __future__ import annotations

import numpy as np


def best_first(fitness: np.ndarray) -> np.ndarray:
    """Member indices sorted by fitness, best first; failed members (NaN) last; ties by index."""
    return np.argsort(np.where(np.isnan(fitness), -np.inf, -fitness), kind="stable")


class Strategy:
    """Base of the ask/tell strategies.

    Subclasses keep everything a checkpoint needs in ``self.state`` (a dict of numpy arrays whose
    shapes never change, including ``generation``) and implement ``_ask() -> population`` and
    ``_tell(population, fitness) -> diagnostics``; this class enforces the ask/tell order, checks
    the fitness shape and advances the generation.
    """

    state: dict[str, np.ndarray]
    _population = None

    @property
    def generation(self) -> int:
        return int(self.state["generation"])

    @property
    def population_size(self) -> int:
        """Members per generation (``config.population`` unless the strategy changes it)."""
        return self.config.population

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything a checkpoint must hold to continue bitwise-identically."""
        return {k: np.array(v) for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for k in self.state:
            self.state[k] = np.array(state[k], dtype=self.state[k].dtype)

    def ask(self):
        """The population of the current generation (no communication needed)."""
        if self._population is not None:
            raise RuntimeError("ask() called twice without tell(): evaluate the population first")
        self._population = self._ask()
        return self._population

    def tell(self, population, fitness: np.ndarray) -> dict[str, float]:
        """Update from the members' fitness (float ``(n,)``, member order, NaN = failed).

        Returns diagnostics for the history, at least ``sigma`` and ``update_norm``.
        """
        if population is not self._population:
            raise RuntimeError("tell() must receive the population returned by the last ask()")
        fitness = np.array(fitness, dtype=np.float64)
        if fitness.shape != (population.size,):
            raise ValueError(f"fitness has shape {fitness.shape}, expected ({population.size},)")
        info = self._tell(population, fitness)
        self.state["generation"] = np.asarray(self.generation + 1, dtype=np.int64)
        self._population = None
        return info

    def _ask(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _tell(self, population, fitness: np.ndarray) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError
