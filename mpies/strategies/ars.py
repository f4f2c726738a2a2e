"""ARS: Mania, Guy & Recht (2018), "Simple random search of static linear policies is competitive
for reinforcement learning", NeurIPS (arXiv:1803.07055), Algorithm 1 ("Augmented Random Search").

Each iteration draws ``N`` directions ``delta_j ~ N(0, I)`` and evaluates ``theta + nu delta_j``
and ``theta - nu delta_j``: members ``2j`` and ``2j+1`` (population ``2N``, mirrored pairs sharing
``key_j`` and their episode seeds). With ``r_j^+, r_j^-`` their returns, the top ``b`` directions by
``max(r_j^+, r_j^-)`` make the step (Algorithm 1, line 7 of V1-t / V2-t)::

    theta += alpha / (b sigma_R) * sum_{top b} (r_j^+ - r_j^-) delta_j

where ``sigma_R`` is the standard deviation of the ``2b`` returns used. ``b = N`` (``top_directions
= 0``) is V1 / V2 without the ``-t``. A pair with a failed member (NaN) is left out; when the
chosen returns are all equal the step is zero.

The paper's versions map onto mpies's options:

* V1   -- ``top_directions = 0``, ``[policy] obs_norm = false``
* V1-t -- ``top_directions = b``, ``obs_norm = false``
* V2   -- ``top_directions = 0``, ``obs_norm = true, obs_stat_fraction = 1.0``: V2 normalises the
  states by their running mean and std over every state seen in training, which is mpies's
  observation normaliser updated from every member of every generation
* V2-t -- ``top_directions = b``, ``obs_norm = true, obs_stat_fraction = 1.0``

with ``[policy] kind = "linear", init_scale = 0.0`` (the paper's linear policies start at zero).
Two differences remain: mpies's linear policy has a bias, and its normaliser floors the std at
0.01. ARS plays ``W x`` and lets MuJoCo clip it: ``[policy] squash = "clip"`` does that (the
default ``"tanh"`` squashes the action into its bounds). The survival-bonus shift of the paper's Hopper, Walker2d, Ant and Humanoid
runs is ``[rollout] reward_shift``. Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, StrategyConfig, option
from ..registry import Algorithm
from .base import State, Strategy
from .openai_es import Population


@dataclass
class ARSConfig(StrategyConfig):
    """ARS (Mania et al. 2018): a finite-difference step from the best of N mirrored directions."""

    population: int = option(16, "members per generation: 2N for N directions (mirrored, even)", min=2)
    sigma: float = option(0.03, "exploration noise nu: members are theta +- nu delta", gt=0.0)
    learning_rate: float = option(0.02, "step size alpha", gt=0.0)
    top_directions: int = option(
        0, "b: directions kept, the best by max(r+, r-) (0 = all N: ARS V1/V2; b < N: V1-t/V2-t); "
        "V2 = this strategy with [policy] obs_norm = true, V1 with obs_norm = false", min=0)

    def validate(self, run) -> None:
        if self.population % 2:
            raise ConfigError(f"strategy.population: got {self.population}; must be even "
                              "(ARS evaluates N directions as mirrored pairs, population = 2N)")
        if self.top_directions > self.population // 2:
            raise ConfigError(f"strategy.top_directions: got {self.top_directions}; must be <= the "
                              f"{self.population // 2} directions (strategy.population / 2), or 0 for all")


@dataclass
class ARSState(State):
    """What changes each generation.

    Attributes:
        theta: float64 ``(dim,)`` the policy parameters.
        generation: int64 ``()`` updates so far (the key generation of the next ask).
    """

    theta: np.ndarray
    generation: np.ndarray


def top_pairs(plus: np.ndarray, minus: np.ndarray, b: int) -> np.ndarray:
    """Indices of the ``b`` directions with the largest ``max(r+, r-)``, best first.

    Directions with a failed member (NaN in ``plus`` or ``minus``) are never chosen; ties go to the
    lower index; fewer than ``b`` come back when fewer are valid.

    Args:
        plus, minus: float64 ``(N,)`` returns of ``theta + nu delta_j`` and ``theta - nu delta_j``.
        b: how many to keep.
    """
    valid = np.flatnonzero(~(np.isnan(plus) | np.isnan(minus)))
    best = np.maximum(plus[valid], minus[valid])
    return valid[np.argsort(-best, kind="stable")[:b]]


class ARS(Strategy):
    """Ask/tell ARS (mirrored directions, top-b selection, step scaled by the returns' std).

    Args:
        config: an :class:`ARSConfig`.
        theta0: float64 ``(dim,)`` initial parameters (zeros with ``policy.init_scale = 0``).
        noise: a noise source from :mod:`mpies.noise` with ``noise.dim == dim``.
    """

    def __init__(self, config: ARSConfig, theta0: np.ndarray, noise):
        self.config, self.noise = config, noise
        self.state = ARSState(np.array(theta0, dtype=np.float64), np.zeros((), dtype=np.int64))

    @property
    def mean(self) -> np.ndarray:
        """Current parameters ``(dim,)``: what a noiseless evaluation runs."""
        return self.state.theta

    @property
    def directions_used(self) -> int:
        """``b``: directions that make each step."""
        return self.config.top_directions or self.config.population // 2

    def _ask(self) -> Population:
        n = self.config.population
        return Population(self.generation, self.noise.keys(self.generation, n // 2), n, True,
                          self.config.sigma)

    def member_params(self, population: Population, member: int) -> np.ndarray:
        """``theta + sign * nu * delta(key)``: float64 ``(dim,)``."""
        delta = self.noise.vector(int(population.keys[population.key_index(member)]))
        return self.mean + np.float64(population.sign(member) * population.sigma) * delta

    def step(self, population: Population, fitness: np.ndarray) -> np.ndarray:
        """``alpha / (b sigma_R) * sum_top (r+ - r-) delta``: float64 ``(dim,)``.

        Args:
            fitness: float64 ``(2N,)`` in member order (the pairs' ``r+, r-``); NaN = failed.
        """
        plus, minus = fitness[0::2], fitness[1::2]
        top = top_pairs(plus, minus, self.directions_used)
        returns_std = float(np.concatenate([plus[top], minus[top]]).std()) if top.size else 0.0
        if returns_std == 0.0:
            return np.zeros_like(self.mean)
        weights = np.zeros(plus.size)
        weights[top] = plus[top] - minus[top]
        return self.noise.weighted_sum(weights, population.keys) * (
            self.config.learning_rate / (top.size * returns_std))

    def _tell(self, population: Population, fitness: np.ndarray, descriptors=None) -> dict[str, float]:
        step = self.step(population, fitness)
        self.state.theta += step
        return {"update_norm": float(np.linalg.norm(step)), "sigma": population.sigma}


ALGORITHMS = (Algorithm("ars", ARSConfig,
                        "ARS: top-b mirrored random-search directions, step / std of their returns",
                        strategy=ARS),)
