"""OpenAI-ES: Salimans, Ho, Chen, Sidor & Sutskever (2017), "Evolution Strategies as a Scalable
Alternative to Reinforcement Learning", arXiv:1703.03864.

Search distribution ``N(theta, sigma^2 I)``. Member ``i`` is ``theta + sign_i * sigma * eps(key_i)``;
with mirrored sampling members ``2j`` and ``2j+1`` share ``key_j`` with signs ``+1, -1``.
The gradient estimate of ``E[F(theta + sigma eps)]`` (Algorithm 1 of the paper) is

    g = 1 / (n sigma) * sum_i s_i * sign_i * eps(key_i)

with ``s = shaping(F)`` over the ``n`` valid members; weight decay subtracts ``weight_decay * theta``
and Adam or SGD turns ``g`` into a step. Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..optim import make_optimizer
from ..shaping import SHAPINGS
from .base import Strategy


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
        config: an :class:`mpies.config.OpenAIESConfig`.
        theta: float64 ``(dim,)`` initial mean.
        noise: a noise source from :mod:`mpies.noise` with ``noise.dim == dim``.
    """

    def __init__(self, config, theta: np.ndarray, noise):
        self.config = config
        self.noise = noise
        dim = theta.shape[0]
        self.optimizer = make_optimizer(config.optimizer, dim, config)
        self.state = {"theta": np.array(theta, dtype=np.float64),
                      "sigma": np.asarray(config.sigma, dtype=np.float64),
                      "generation": np.zeros((), dtype=np.int64)}
        self._shape = SHAPINGS[config.shaping]

    # -------------------------------------------------------------- state
    @property
    def mean(self) -> np.ndarray:
        """Current mean parameters ``(dim,)``: what a noiseless evaluation runs."""
        return self.state["theta"]

    @property
    def sigma(self) -> float:
        return float(self.state["sigma"])

    def state_dict(self) -> dict[str, np.ndarray]:
        out = super().state_dict()
        out.update({f"optimizer/{k}": np.array(v) for k, v in self.optimizer.state.items()})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        for k in self.optimizer.state:
            self.optimizer.state[k] = np.array(state[f"optimizer/{k}"], dtype=self.optimizer.state[k].dtype)

    # -------------------------------------------------------------- ask / tell
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

    def _tell(self, population: Population, fitness: np.ndarray) -> dict[str, float]:
        grad = self.gradient(population, fitness)
        if self.config.weight_decay:
            grad -= self.config.weight_decay * self.mean
        step = self.optimizer.step(grad)
        self.state["theta"] = self.mean + step
        c = self.config
        self.state["sigma"] = np.asarray(max(self.sigma * c.sigma_decay, c.sigma_min), dtype=np.float64)
        return {"update_norm": float(np.linalg.norm(step)), "sigma": population.sigma}
